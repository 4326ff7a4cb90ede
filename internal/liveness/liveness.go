// Package liveness tracks whether each device is up: from its retained
// status and last will, and from how long it has been silent compared
// with its heartbeat. Absence alerts, the status page and the
// availability samples for dashboards all read it, so they agree.
package liveness

import (
	"sort"
	"sync"
	"time"

	"github.com/facmon/facmon/internal/reading"
)

// Key names a device.
type Key struct{ Ward, Class, Device string }

// State is what is known of one device.
type State struct {
	Key
	// LastSeen is the receive time of the last telemetry reading.
	LastSeen time.Time
	// StatusKnown, StatusUp and StatusAt come from the status topic
	// (online/offline, retained, also the MQTT last will).
	StatusKnown bool
	StatusUp    bool
	StatusAt    time.Time

	// What Changes last recorded, and the first sign of life since a
	// recorded "down": the exact moment the device came back.
	recorded   bool
	recordedUp bool
	recordedAt time.Time
	backAt     time.Time
	// firstLife is the earliest sign of life this process saw, so a seed
	// that arrives late and says "recorded down" still gets the moment the
	// device came back.
	firstLife time.Time
}

// Tracker is safe for concurrent use.
type Tracker struct {
	heartbeat func(ward, class, device string) time.Duration
	started   time.Time

	mu      sync.RWMutex
	devices map[Key]*State
}

// New returns a tracker; heartbeat gives each device's silence limit.
func New(heartbeat func(ward, class, device string) time.Duration, started time.Time) *Tracker {
	return &Tracker{heartbeat: heartbeat, started: started, devices: map[Key]*State{}}
}

// Observe records a reading (telemetry or status). Other measurements
// (scrapes, facmon's own) are ignored unless they carry a device.
func (t *Tracker) Observe(r *reading.Reading) {
	t.mu.Lock()
	t.observeLocked(r)
	t.mu.Unlock()
}

func (t *Tracker) stateLocked(r *reading.Reading) *State {
	k := Key{r.Ward, r.Class, r.Device}
	s, ok := t.devices[k]
	if !ok {
		s = &State{Key: k}
		t.devices[k] = s
	}
	return s
}

func (t *Tracker) observeLocked(r *reading.Reading) {
	if r.Device == "" || r.Ward == "" {
		return
	}
	t.stateLocked(r).observe(r)
}

func (s *State) observe(r *reading.Reading) {
	// A scrape's up says whether the app answered: the status of an app,
	// as device_status is the status of a device; an unanswered scrape is
	// no sign of life.
	if r.Measurement == reading.MeasurementDeviceStatus || r.Measurement == "scrape" {
		up, _ := r.Field("up")
		if r.Measurement == "scrape" && up.Int == 1 && r.Received.After(s.LastSeen) {
			s.LastSeen = r.Received
		}
		if up.Int == 1 {
			s.noteBack(r.Received)
		}
		// A status older than the one we hold (redelivery, reordering
		// after a reconnect) must not undo a newer one.
		if s.StatusKnown && r.Received.Before(s.StatusAt) {
			return
		}
		s.StatusKnown, s.StatusUp, s.StatusAt = true, up.Int == 1, r.Received
		return
	}
	if r.Received.After(s.LastSeen) {
		s.LastSeen = r.Received
	}
	s.noteBack(r.Received)
}

// noteBack keeps the first sign of life after a recorded outage.
func (s *State) noteBack(at time.Time) {
	if s.firstLife.IsZero() || at.Before(s.firstLife) {
		s.firstLife = at
	}
	if s.recorded && !s.recordedUp && s.backAt.IsZero() {
		s.backAt = at
	}
}

// Verdict is a device's judged state at a moment.
type Verdict struct {
	Up bool
	// Since is when it went down (its last reading, or its offline status).
	Since time.Time
	// Reason is "offline" (status or last will) or "silent" (past its heartbeat).
	Reason string
	// Unknown is true during the first heartbeat after start-up for a device
	// with nothing to judge yet.
	Unknown bool
}

// Judge says whether the device is up at now. A device is down when its
// last status is offline and newer than its last reading, or when it has
// been silent for longer than its heartbeat, from its last reading. During
// the first heartbeat after start-up silence is not judged: facmon itself
// has not been listening long enough to know.
func (t *Tracker) Judge(k Key, now time.Time) Verdict {
	t.mu.RLock()
	s, ok := t.devices[k]
	var st State
	if ok {
		st = *s
	}
	t.mu.RUnlock()
	return t.judge(st, ok, now)
}

func (t *Tracker) judge(s State, known bool, now time.Time) Verdict {
	hb := t.heartbeat(s.Ward, s.Class, s.Device)
	if s.StatusKnown && !s.StatusUp && !s.StatusAt.Before(s.LastSeen) {
		return Verdict{Up: false, Since: s.StatusAt, Reason: "offline"}
	}
	last := s.LastSeen
	if s.StatusKnown && s.StatusUp && s.StatusAt.After(last) {
		last = s.StatusAt
	}
	if now.Sub(t.started) < hb {
		// A device seeded from InfluxDB that was already silent past its
		// heartbeat is not called up: its backlog in the broker, if any,
		// arrives in these first seconds; if none does, it is down from
		// its last reading once the first heartbeat is over.
		silentBefore := !last.IsZero() && now.Sub(last) > hb
		return Verdict{Up: known && !last.IsZero() && !silentBefore, Unknown: last.IsZero() || silentBefore}
	}
	if last.IsZero() {
		return Verdict{Up: false, Since: t.started, Reason: "silent"}
	}
	if now.Sub(last) > hb {
		return Verdict{Up: false, Since: last, Reason: "silent"}
	}
	return Verdict{Up: true}
}

// Snapshot returns every known device, sorted.
func (t *Tracker) Snapshot() []State {
	t.mu.RLock()
	out := make([]State, 0, len(t.devices))
	for _, s := range t.devices {
		out = append(out, *s)
	}
	t.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Key, out[j].Key
		if a.Ward != b.Ward {
			return a.Ward < b.Ward
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.Device < b.Device
	})
	return out
}

// JudgeAll judges every known device at now.
func (t *Tracker) JudgeAll(now time.Time) map[Key]Verdict {
	out := make(map[Key]Verdict, len(t.devices))
	t.Each(now, func(k Key, v Verdict) { out[k] = v })
	return out
}

// Each calls fn with every known device's verdict at now, in no order.
// It runs under the tracker's read lock: fn must not call back into it.
func (t *Tracker) Each(now time.Time, fn func(Key, Verdict)) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for k, s := range t.devices {
		fn(k, t.judge(*s, true, now))
	}
}

// Samples returns one device_availability reading per known device (up
// 1/0 at now), written every minute so a dashboard's mean(up) over any
// range is the availability.
func (t *Tracker) Samples(now time.Time) []*reading.Reading {
	verdicts := t.JudgeAll(now)
	out := make([]*reading.Reading, 0, len(verdicts))
	for k, v := range verdicts {
		if v.Unknown {
			continue
		}
		up := int64(0)
		if v.Up {
			up = 1
		}
		out = append(out, &reading.Reading{
			Measurement: "device_availability", Ward: k.Ward, Class: k.Class, Device: k.Device,
			Fields: []reading.Field{{Key: "up", Kind: reading.Int, Int: up}},
			Time:   now, Received: now,
		})
	}
	return out
}

// Changes returns a device_liveness point for every device whose verdict
// changed since the last call: up=0 at the moment it went down (its last
// reading, or its offline status) with the reason, up=1 at its first sign
// of life after that. Transitions are few, so the uptime reports read them
// instead of scanning every reading for gaps.
func (t *Tracker) Changes(now time.Time) []*reading.Reading {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*reading.Reading
	for k, s := range t.devices {
		v := t.judge(*s, true, now)
		if v.Unknown || (s.recorded && s.recordedUp == v.Up) {
			continue
		}
		at, reason := v.Since, v.Reason
		if v.Up {
			at, reason = s.backAt, "back"
			if at.IsZero() {
				at = s.LastSeen
				if s.StatusAt.After(at) {
					at = s.StatusAt
				}
			}
			if !s.recorded {
				reason = "seen"
			}
		}
		if at.IsZero() {
			at = now
		}
		// Points of one device with one timestamp are one point in
		// InfluxDB: a device seen at its only reading and silent after it
		// would have its "seen" overwritten by its "silent". A transition
		// is dated at least a nanosecond after the one before it.
		if s.recorded && !at.After(s.recordedAt) && !s.recordedAt.IsZero() {
			at = s.recordedAt.Add(time.Nanosecond)
		}
		s.recorded, s.recordedUp, s.recordedAt, s.backAt = true, v.Up, at, time.Time{}
		up := int64(0)
		if v.Up {
			up = 1
		}
		out = append(out, &reading.Reading{
			Measurement: MeasurementTransitions, Ward: k.Ward, Class: k.Class, Device: k.Device,
			Fields: []reading.Field{{Key: "up", Kind: reading.Int, Int: up}, {Key: "reason", Kind: reading.String, Str: reason}},
			Time:   at, Received: now,
		})
	}
	return out
}

// MeasurementTransitions holds the liveness verdict changes.
const MeasurementTransitions = "device_liveness"
