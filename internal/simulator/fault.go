package simulator

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/fleet"
)

// FaultKind names an injectable fault.
type FaultKind string

// Fault kinds.
const (
	// FaultDoorStuckOpen holds a door open with its cycle counter frozen and no fault code,
	// as when its presence sensor is stuck: the controller believes someone stands in the
	// doorway, so only "open for too long" gives it away.
	FaultDoorStuckOpen FaultKind = "door-stuck-open"
	// FaultACFailure trips an air conditioner (compressor off, code E4); the room warms up.
	FaultACFailure FaultKind = "ac-failure"
	// FaultCameraNotRecording stops a camera's recording while it stays online.
	FaultCameraNotRecording FaultKind = "camera-not-recording"
	// FaultDiskFilling fills a server's disk to 100 %.
	FaultDiskFilling FaultKind = "disk-filling"
	// FaultDeviceOffline drops a device's connection without DISCONNECT, so the broker
	// publishes its last will, and restores it when the fault ends.
	FaultDeviceOffline FaultKind = "device-offline"
	// FaultWardOutage takes a whole ward offline at once, as when its network fails.
	FaultWardOutage FaultKind = "ward-outage"
	// FaultAppDown makes a ward's one-stop app answer its metrics scrape with 503 (see Apps).
	FaultAppDown FaultKind = "app-down"
	// FaultQueueStuck freezes a ward's ticket kiosk: the queue length stays high and no
	// tickets are issued (see Apps).
	FaultQueueStuck FaultKind = "queue-stuck"
)

// FaultKinds lists the known kinds.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultDoorStuckOpen, FaultACFailure, FaultCameraNotRecording, FaultDiskFilling, FaultDeviceOffline, FaultWardOutage, FaultAppDown, FaultQueueStuck}
}

// class returns the device class the kind applies to, "" for any device, and whether the
// kind targets a whole ward instead of a device.
func (k FaultKind) class() (class string, wardLevel bool) {
	switch k {
	case FaultDoorStuckOpen:
		return fleet.ClassDoor, false
	case FaultACFailure:
		return fleet.ClassHVAC, false
	case FaultCameraNotRecording:
		return fleet.ClassCamera, false
	case FaultDiskFilling:
		return fleet.ClassServer, false
	case FaultWardOutage, FaultAppDown, FaultQueueStuck:
		return "", true
	}
	return "", false
}

// Transport reports whether the fault acts on connections rather than on payloads.
func (k FaultKind) Transport() bool { return k == FaultDeviceOffline || k == FaultWardOutage }

// App reports whether the fault kind acts on the simulated one-stop apps.
func (k FaultKind) App() bool { return k == FaultAppDown || k == FaultQueueStuck }

// Fault is one injected fault. After and For count from the start of Run.
type Fault struct {
	Kind   FaultKind
	Ward   string
	Device string        // "" for ward-level kinds
	After  time.Duration // 0 = from the start
	For    time.Duration // 0 = until the end of the run
}

// String gives the fault in ParseFault syntax.
func (f Fault) String() string {
	var b strings.Builder
	b.WriteString(string(f.Kind))
	b.WriteString("@")
	b.WriteString(f.Ward)
	if f.Device != "" {
		b.WriteString("/" + f.Device)
	}
	if f.After > 0 {
		b.WriteString(",after=" + f.After.String())
	}
	if f.For > 0 {
		b.WriteString(",for=" + f.For.String())
	}
	return b.String()
}

// Window returns the simulated interval [from, to) of the fault in a run started at start;
// to is zero when the fault lasts until the end.
func (f Fault) Window(start time.Time) (from, to time.Time) {
	from = start.Add(f.After)
	if f.For > 0 {
		to = from.Add(f.For)
	}
	return from, to
}

// ActiveAt reports whether the fault acts at simulated time t of a run started at start.
func (f Fault) ActiveAt(start, t time.Time) bool {
	from, to := f.Window(start)
	return !t.Before(from) && (to.IsZero() || t.Before(to))
}

// ParseFault parses KIND@WARD/DEVICE or, for ward-level kinds, KIND@WARD, each with an
// optional ",after=DURATION,for=DURATION", e.g.
// "door-stuck-open@thanh-binh/door-1,after=30s,for=2m". Whether the ward and device
// exist is checked by New, which knows the fleet.
func ParseFault(s string) (Fault, error) {
	var f Fault
	parts := strings.Split(strings.TrimSpace(s), ",")
	kind, target, ok := strings.Cut(parts[0], "@")
	if !ok || kind == "" || target == "" {
		return f, fmt.Errorf("fault %q: want KIND@WARD/DEVICE or KIND@WARD, optionally ,after=DURATION,for=DURATION", s)
	}
	f.Kind = FaultKind(kind)
	if !slices.Contains(FaultKinds(), f.Kind) {
		return f, fmt.Errorf("fault %q: unknown kind %q (known: %s)", s, kind, joinKinds())
	}
	f.Ward, f.Device, _ = strings.Cut(target, "/")
	if !fleet.IsSlug(f.Ward) {
		return f, fmt.Errorf("fault %q: ward %q is not a ward id (a-z, 0-9, '-')", s, f.Ward)
	}
	if err := f.checkTarget(); err != nil {
		return f, fmt.Errorf("fault %q: %w", s, err)
	}
	seen := map[string]bool{}
	for _, opt := range parts[1:] {
		key, val, ok := strings.Cut(strings.TrimSpace(opt), "=")
		if !ok {
			return f, fmt.Errorf("fault %q: option %q: want after=DURATION or for=DURATION", s, opt)
		}
		if key != "after" && key != "for" {
			return f, fmt.Errorf("fault %q: unknown option %q (known: after, for)", s, key)
		}
		if seen[key] {
			return f, fmt.Errorf("fault %q: option %q given twice", s, key)
		}
		seen[key] = true
		d, err := time.ParseDuration(val)
		if err != nil {
			return f, fmt.Errorf("fault %q: %s=%q is not a duration like 30s or 2m", s, key, val)
		}
		switch {
		case key == "after" && d < 0:
			return f, fmt.Errorf("fault %q: after=%s must not be negative", s, val)
		case key == "for" && d <= 0:
			return f, fmt.Errorf("fault %q: for=%s must be positive (leave it out to last until the end)", s, val)
		}
		if key == "after" {
			f.After = d
		} else {
			f.For = d
		}
	}
	return f, nil
}

func joinKinds() string {
	var ks []string
	for _, k := range FaultKinds() {
		ks = append(ks, string(k))
	}
	return strings.Join(ks, ", ")
}

// checkTarget checks that the target has the shape the kind needs; the fleet is not known here.
func (f Fault) checkTarget() error {
	class, wardLevel := f.Kind.class()
	if wardLevel {
		if f.Device != "" {
			return fmt.Errorf("%s applies to a whole ward: drop %q", f.Kind, "/"+f.Device)
		}
		return nil
	}
	if f.Device == "" {
		return fmt.Errorf("%s needs a device: %s@%s/DEVICE", f.Kind, f.Kind, f.Ward)
	}
	devClass, _, err := splitDeviceID(f.Device)
	if err != nil {
		return err
	}
	if class != "" && devClass != class {
		return fmt.Errorf("device %q is a %s, %s needs a %s", f.Device, devClass, f.Kind, class)
	}
	return nil
}

// Check validates the fault against a fleet.
func (f Fault) Check(c Config) error {
	if !slices.Contains(FaultKinds(), f.Kind) {
		return fmt.Errorf("unknown kind %q (known: %s)", f.Kind, joinKinds())
	}
	if err := f.checkTarget(); err != nil {
		return err
	}
	if !slices.ContainsFunc(c.Wards, func(w fleet.Ward) bool { return w.ID == f.Ward }) {
		return fmt.Errorf("unknown ward %q", f.Ward)
	}
	if f.After < 0 || f.For < 0 {
		return errors.New("after and for must not be negative")
	}
	if f.Device != "" {
		class, n, _ := splitDeviceID(f.Device)
		if have := c.Devices[class]; n > have {
			return fmt.Errorf("unknown device %q: ward %s has %d %s device(s)", f.Device, f.Ward, have, class)
		}
	}
	return nil
}

// splitDeviceID splits "hvac-2" into its class and number.
func splitDeviceID(id string) (class string, n int, err error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", 0, fmt.Errorf("device %q: want CLASS-N, e.g. door-1", id)
	}
	class = id[:i]
	if !slices.Contains(fleet.Classes(), class) {
		return "", 0, fmt.Errorf("device %q: unknown class %q (known: %s)", id, class, strings.Join(fleet.Classes(), ", "))
	}
	n, err = strconv.Atoi(id[i+1:])
	if err != nil || n < 1 || strconv.Itoa(n) != id[i+1:] {
		return "", 0, fmt.Errorf("device %q: number %q must be a whole number from 1", id, id[i+1:])
	}
	return class, n, nil
}

// FaultEvent is a fault as it was actually applied, in simulated time (the wall clock
// when Config.Now is time.Now). End is zero while the fault is still active.
type FaultEvent struct {
	Kind   FaultKind
	Ward   string
	Device string // "" for a ward-level fault
	Start  time.Time
	End    time.Time
}
