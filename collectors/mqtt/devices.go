package mqtt

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// deviceLimit bounds the distinct device ids taken from offices that have
// no inventory, where any id is accepted. Every id costs memory for good
// (its liveness state, its alerts), so a misconfigured gateway or a
// hostile client publishing new ids would otherwise grow facmon without
// bound and bury the status page under absence alerts. A device of an
// inventory is bounded by the configuration and never counted here.
//
// It lives in the collector, not the Decoder, because the Decoder is
// immutable and shared (the backfill runs several on one config).
type deviceLimit struct {
	perOffice, total int

	mu      sync.Mutex
	devices map[deviceKey]struct{}
	perWard map[string]int

	// refusedAt is when a new id was last refused (unix ns; 0: never),
	// read by the DeviceLimitReached pipeline rule without the lock.
	refusedAt atomic.Int64
	tracked   atomic.Int64
}

type deviceKey struct{ ward, class, device string }

func newDeviceLimit(perOffice, total int) *deviceLimit {
	return &deviceLimit{
		perOffice: perOffice, total: total,
		devices: map[deviceKey]struct{}{},
		perWard: map[string]int{},
	}
}

// admit reports whether a reading of this device may be taken: a device
// already known always may; a new one only while its office and the
// whole fleet are under their limits. The reason names the limit that
// refused it.
func (l *deviceLimit) admit(ward, class, device string, now time.Time) (ok bool, reason string) {
	k := deviceKey{ward, class, device}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, known := l.devices[k]; known {
		return true, ""
	}
	switch {
	case l.perWard[ward] >= l.perOffice:
		l.refusedAt.Store(now.UnixNano())
		return false, fmt.Sprintf("ward %q already has %d devices, the limit of ingest.max_devices_per_office", ward, l.perWard[ward])
	case len(l.devices) >= l.total:
		l.refusedAt.Store(now.UnixNano())
		return false, fmt.Sprintf("facmon already tracks %d devices, the limit of ingest.max_devices", len(l.devices))
	}
	l.addLocked(k)
	return true, ""
}

// remember counts a device facmon already stored (the liveness seed at
// start-up) whatever the limits: it was accepted before the restart, so
// a flood of new ids arriving first must not take its place.
func (l *deviceLimit) remember(ward, class, device string) {
	k := deviceKey{ward, class, device}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, known := l.devices[k]; !known {
		l.addLocked(k)
	}
}

func (l *deviceLimit) addLocked(k deviceKey) {
	// The ids are slices of the message's topic: cloned, so a kept key
	// does not pin the topic string of the message that brought it.
	k = deviceKey{strings.Clone(k.ward), strings.Clone(k.class), strings.Clone(k.device)}
	l.devices[k] = struct{}{}
	l.perWard[k.ward]++
	l.tracked.Store(int64(len(l.devices)))
}

// lastRefused is when a new id was last refused; zero if never.
func (l *deviceLimit) lastRefused() time.Time {
	ns := l.refusedAt.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
