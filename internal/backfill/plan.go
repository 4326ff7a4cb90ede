package backfill

import (
	"hash/fnv"
	"sort"
	"strconv"
	"time"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
)

// Span is a half-open stretch of time.
type Span struct{ From, To time.Time }

func (s Span) contains(t time.Time) bool { return !t.Before(s.From) && t.Before(s.To) }

// Incident is one planned fault of the history, in absolute time.
type Incident struct {
	Kind   simulator.FaultKind
	Ward   string
	Device string // "" for ward-level kinds
	Span
}

// Plan is what happens in the history: the faults, and when facmon itself
// was not running.
type Plan struct {
	Incidents  []Incident
	FacmonDown []Span
}

// ict is the offices' time zone; the plan's days are theirs.
var ict = time.FixedZone("ICT", 7*3600)

const block = 30 * 24 * time.Hour

// DemoMaintenance is the weekly window of the demo: Hải Châu I's server is
// serviced on Saturday mornings. The backfill takes that server offline in
// one such window, and `facmon run --demo` configures the window, so the
// report counts it as planned rather than as downtime.
func DemoMaintenance() maintenance.Window {
	return maintenance.Window{Name: "bảo trì máy chủ định kỳ", Ward: "hai-chau-1", Class: "server", Days: "sat", Hours: "09:30-11:00"}
}

// unit is a deterministic number in [0, 1) for (seed, block, label).
func unit(seed int64, b int64, label string) float64 {
	h := fnv.New64a()
	h.Write([]byte(strconv.FormatInt(seed, 10) + "/" + strconv.FormatInt(b, 10) + "/" + label))
	// FNV's high bits hardly depend on the last bytes, and labels differ
	// at their end ("door0:day", "door0:min"): mix them all in
	// (SplitMix64's finalizer) before taking the top 53 bits.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// PlanHistory plans the faults of [from, to) for the fleet: in every 30 days, three doors stuck open, two air-conditioner failures, a camera
// offline and then not recording, a disk filling, a ward outage of an hour,
// an app down, a queue stuck, a few short dropouts, the demo's planned
// maintenance, and 35 to 50 minutes in which facmon itself was down.
// Faults and facmon's own outage fall in office hours, when someone would
// notice.
func PlanHistory(seed int64, wards []string, devices map[string]int, from, to time.Time) Plan {
	var p Plan
	if len(wards) == 0 || !to.After(from) {
		return p
	}
	// The plan is laid out in 30-day blocks counted back from the start of
	// the window's last day, faults on the 29 whole days after a block's
	// first, so the last 30 days always hold one whole month of faults,
	// and two runs ending on the same day plan the same faults at the same
	// instants. A block is named by its first day.
	loc := ict
	end := to.In(loc)
	anchor := time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, loc)
	for k := int64(0); anchor.Add(-time.Duration(k) * block).After(from); k++ {
		start := anchor.Add(-time.Duration(k+1) * block)
		b := start.Unix() / 86400
		pick := func(label string, n int) int { return int(unit(seed, b, label) * float64(n)) }
		ward := func(label string) string { return wards[pick(label+":ward", len(wards))] }
		device := func(label, class string) string {
			n := max(1, devices[class])
			return class + "-" + strconv.Itoa(1+pick(label+":dev", n))
		}
		// officeTime is a working-day instant of the block: day d (1-29),
		// a weekend day moved to the Friday before (or the Monday after,
		// near the block's start), between 08:00 and 16:00.
		officeTime := func(label string) time.Time {
			n := 1 + pick(label+":day", 29)
			d := start.Add(time.Duration(n) * 24 * time.Hour).In(loc)
			for step := -24 * time.Hour; d.Weekday() == time.Saturday || d.Weekday() == time.Sunday; {
				if d.Add(step).Before(start.Add(24 * time.Hour)) {
					step = 24 * time.Hour
				}
				d = d.Add(step)
			}
			day := time.Date(d.Year(), d.Month(), d.Day(), 8, 0, 0, 0, loc)
			return day.Add(time.Duration(pick(label+":min", 8*60)) * time.Minute)
		}
		add := func(kind simulator.FaultKind, label, w, dev string, min, spread time.Duration) {
			at := officeTime(label)
			dur := min + time.Duration(unit(seed, b, label+":len")*float64(spread))
			p.Incidents = append(p.Incidents, Incident{Kind: kind, Ward: w, Device: dev, Span: Span{at, at.Add(dur.Truncate(time.Minute))}})
		}
		for i := range 3 {
			l := "door" + strconv.Itoa(i)
			add(simulator.FaultDoorStuckOpen, l, ward(l), device(l, "door"), 20*time.Minute, 70*time.Minute)
		}
		for i := range 2 {
			l := "ac" + strconv.Itoa(i)
			add(simulator.FaultACFailure, l, ward(l), device(l, "hvac"), 90*time.Minute, 4*time.Hour)
		}
		cw, cd := ward("camera"), device("camera", "camera")
		add(simulator.FaultDeviceOffline, "camera", cw, cd, 3*time.Hour, 3*time.Hour)
		add(simulator.FaultCameraNotRecording, "camera-rec", cw, cd, 2*time.Hour, 6*time.Hour)
		add(simulator.FaultDiskFilling, "disk", ward("disk"), device("disk", "server"), 6*time.Hour, 6*time.Hour)
		add(simulator.FaultWardOutage, "outage", ward("outage"), "", time.Hour, 0)
		add(simulator.FaultAppDown, "app", ward("app"), "", 25*time.Minute, 50*time.Minute)
		add(simulator.FaultQueueStuck, "queue", ward("queue"), "", 40*time.Minute, 80*time.Minute)
		// Short dropouts: a device off the network for a few minutes, as
		// Wi-Fi and cheap switches do.
		for i := range 2 + pick("dropouts", 2) {
			l := "drop" + strconv.Itoa(i)
			class := fleet.Classes()[pick(l+":class", len(fleet.Classes()))]
			add(simulator.FaultDeviceOffline, l, ward(l), device(l, class), 5*time.Minute, 20*time.Minute)
		}
		// The planned maintenance: the first Saturday window of the block.
		mw := DemoMaintenance()
		if contains(wards, mw.Ward) && devices["server"] > 0 {
			d := start.Add(24 * time.Hour).In(loc)
			for d.Weekday() != time.Saturday {
				d = d.Add(24 * time.Hour)
			}
			at := time.Date(d.Year(), d.Month(), d.Day(), 9, 35, 0, 0, loc)
			p.Incidents = append(p.Incidents, Incident{Kind: simulator.FaultDeviceOffline, Ward: mw.Ward, Device: "server-1", Span: Span{at, at.Add(80 * time.Minute)}})
		}
		// facmon itself down (an upgrade that went wrong, a reboot), in
		// office hours, where the report shows it as time it cannot vouch for.
		down := officeTime("facmon")
		p.FacmonDown = append(p.FacmonDown, Span{down, down.Add(35*time.Minute + time.Duration(pick("facmon:len", 16))*time.Minute)})
	}
	// Keep what touches the window, cut to it.
	keep := p.Incidents[:0]
	for _, in := range p.Incidents {
		if in.To.After(from) && in.From.Before(to) {
			in.From, in.To = later(in.From, from), earlier(in.To, to)
			keep = append(keep, in)
		}
	}
	p.Incidents = keep
	sort.SliceStable(p.Incidents, func(i, j int) bool { return p.Incidents[i].From.Before(p.Incidents[j].From) })
	var downs []Span
	for _, s := range p.FacmonDown {
		if s.To.After(from) && s.From.Before(to) {
			downs = append(downs, Span{later(s.From, from), earlier(s.To, to)})
		}
	}
	p.FacmonDown = downs
	return p
}

// Faults are the plan's incidents as simulator faults of a run that starts
// at start.
func (p Plan) Faults(start time.Time) []simulator.Fault {
	out := make([]simulator.Fault, 0, len(p.Incidents))
	for _, in := range p.Incidents {
		after := in.From.Sub(start)
		if after < 0 {
			after = 0
		}
		// A zero For means "to the end" to the simulator; an incident
		// always has an end.
		out = append(out, simulator.Fault{Kind: in.Kind, Ward: in.Ward, Device: in.Device, After: after, For: max(time.Second, in.To.Sub(in.From))})
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
