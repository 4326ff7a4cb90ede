package reports

import (
	"time"
)

// Stats are the availability figures of one device or of a group of
// devices (summed device time) over the counted time of a period.
//
// Every minute of office time in the period falls in exactly one of:
// Planned (a maintenance window covers the device), Unknown (facmon was
// not collecting), Network (the device was down while its ward was
// unreachable), Down, Up. Availability is Up / (Up + Down): planned,
// unknown and network time count neither for nor against a device.
type Stats struct {
	Up, Down, Network, Planned, Unknown time.Duration
	// Incidents counts the outages with counted downtime.
	Incidents int
	// Longest is the counted downtime of the longest of them.
	Longest time.Duration
	// Devices is how many devices the figures sum (1 for a device).
	Devices int
}

// Availability in percent; false when nothing was counted.
func (s Stats) Availability() (float64, bool) {
	d := s.Up + s.Down
	if d <= 0 {
		return 0, false
	}
	return 100 * float64(s.Up) / float64(d), true
}

// MTTR is the mean counted downtime of an incident; false without one.
func (s Stats) MTTR() (time.Duration, bool) {
	if s.Incidents == 0 {
		return 0, false
	}
	return s.Down / time.Duration(s.Incidents), true
}

// MTBF is the counted up time per incident; false without an incident.
func (s Stats) MTBF() (time.Duration, bool) {
	if s.Incidents == 0 {
		return 0, false
	}
	return s.Up / time.Duration(s.Incidents), true
}

func (s *Stats) add(o Stats) {
	s.Up += o.Up
	s.Down += o.Down
	s.Network += o.Network
	s.Planned += o.Planned
	s.Unknown += o.Unknown
	s.Incidents += o.Incidents
	s.Longest = max(s.Longest, o.Longest)
	s.Devices += o.Devices
}

// timeline is a device's raw state over the data range, before office
// hours, maintenance and collection gaps are applied.
type timeline struct {
	// since is when the device starts to count: the start of the range,
	// or its first record for a device new in the range.
	since time.Time
	// down are the merged outages within [since, end of range).
	down []Interval
	// neverReported: no reading and no status at all.
	neverReported bool
}

func deviceTimeline(d *DeviceData, ds *Dataset, hb time.Duration) timeline {
	tl := timeline{since: ds.From}
	statusBefore := len(d.Status) > 0 && d.Status[0].Time.Before(ds.From)
	if !d.Inventory && d.Telemetry.Before.IsZero() && !statusBefore {
		// A device new in the range counts from its first record.
		first := d.Telemetry.First
		if len(d.Status) > 0 && (first.IsZero() || d.Status[0].Time.Before(first)) {
			first = d.Status[0].Time
		}
		if first.IsZero() {
			first = d.Telemetry.After
		}
		if first.IsZero() || first.After(ds.To) {
			first = ds.To
		}
		tl.since = later(first, ds.From)
	}
	tl.neverReported = !d.Seen()
	down := d.Telemetry.silent(hb, tl.since, ds.To, ds.Now)
	down = append(down, statusDown(d.Status, hb, ds.To)...)
	tl.down = Clip(Merge(down), tl.since, ds.To)
	return tl
}

// window is one period a report counts: the current or the previous.
type window struct {
	from, to time.Time // to is no later than the end of the data
	days     *dayIndex // per-day figures (current period only)
}

// deviceResult is one device over one window.
type deviceResult struct {
	stats     Stats
	incidents []Incident
	dayUp     []time.Duration
	dayDown   []time.Duration
	dayInc    []int
}

// env is what surrounds a device in a window: normal lists clipped to it.
type env struct {
	open    []Interval // office hours of its ward
	planned []Interval // its maintenance windows
	unknown []Interval // facmon not collecting
	network []Interval // its ward's outages, widened by its heartbeat
}

// countDevice applies office hours, maintenance, collection gaps and ward
// outages to a device's timeline over one window.
func countDevice(tl timeline, e env, w window, withIncidents bool) deviceResult {
	var r deviceResult
	r.stats.Devices = 1
	from := later(w.from, tl.since)
	if !w.to.After(from) {
		return r
	}
	open := Clip(e.open, from, w.to)
	planned := intersect(open, e.planned)
	rest := Subtract(open, planned)
	unknown := intersect(rest, e.unknown)
	counted := Subtract(rest, unknown)
	downAll := intersect(Clip(tl.down, from, w.to), counted)
	network := intersect(downAll, e.network)
	down := Subtract(downAll, network)

	r.stats.Planned = total(planned)
	r.stats.Unknown = total(unknown)
	r.stats.Network = total(network)
	r.stats.Down = total(down)
	r.stats.Up = total(counted) - total(downAll)

	if w.days != nil {
		n := w.days.days()
		r.dayUp = make([]time.Duration, n)
		r.dayDown = make([]time.Duration, n)
		r.dayInc = make([]int, n)
		w.days.add(r.dayUp, Subtract(counted, downAll))
		w.days.add(r.dayDown, down)
	}

	// An incident is one outage of the raw timeline (it may span the
	// lunch break, a night or the period boundary) with counted downtime.
	j := 0
	for _, o := range tl.down {
		if !o.End.After(from) {
			continue
		}
		if !o.Start.Before(w.to) {
			break
		}
		var counted time.Duration
		var firstCounted time.Time
		for j < len(down) && !down[j].End.After(o.Start) {
			j++
		}
		for k := j; k < len(down) && down[k].Start.Before(o.End); k++ {
			part := Interval{later(down[k].Start, o.Start), earlier(down[k].End, o.End)}
			if d := part.Duration(); d > 0 {
				if firstCounted.IsZero() {
					firstCounted = part.Start
				}
				counted += d
			}
		}
		if counted == 0 {
			continue
		}
		r.stats.Incidents++
		r.stats.Longest = max(r.stats.Longest, counted)
		if w.days != nil {
			if i := w.days.index(firstCounted); i >= 0 {
				r.dayInc[i]++
			}
		}
		if withIncidents {
			r.incidents = append(r.incidents, Incident{
				Start:        o.Start,
				End:          o.End,
				StartsBefore: o.Start.Before(w.from),
				EndsAfter:    !o.End.Before(w.to),
				Downtime:     counted,
				Network:      overlap(o, network),
			})
		}
	}
	return r
}
