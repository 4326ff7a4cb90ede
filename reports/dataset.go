package reports

import "time"

// Dataset is what the availability maths needs to know about one data
// range, as the Loader reads it from InfluxDB (or a test writes it).
// Computing a report from a Dataset is pure: no clock, no I/O.
type Dataset struct {
	// From and To bound the data range; To is never later than Now. A
	// report's current and previous periods both lie inside it.
	From, To time.Time
	// Now is when the data was read. It tells "no reading yet" from
	// "silent for longer than the heartbeat" at the end of the range.
	Now time.Time
	// Devices are every device seen in the range or its lookback, plus
	// the devices the configuration lists as inventory.
	Devices []DeviceData
	// Unknown are the times facmon was not collecting (its
	// facmon_heartbeat points stop for more than 90 s, or say
	// collecting=0): nobody can say whether a device was up then.
	Unknown []Interval
	// WardOutages are the ward network outages by ward id: the alert
	// WardUnreachable from firing (or pending, if recorded) to resolved.
	WardOutages map[string][]Interval
	// NoHeartbeat is set when facmon has never recorded a heartbeat, as
	// with data older than the heartbeat feature: collection gaps then
	// cannot be told from downtime, and the report says so.
	NoHeartbeat bool
}

// DeviceData is the record of one device.
type DeviceData struct {
	Ward, Class, Device string
	// Inventory is set for devices the configuration lists: they count
	// from the start of the range even when they never reported.
	Inventory bool
	// Status are the device_status changes in time order; the first may
	// lie before From (the state the device entered the range in).
	Status []Transition
	// Telemetry summarises the readings.
	Telemetry Telemetry
}

// Transition is one device_status point: "online" (up) or "offline".
type Transition struct {
	Time time.Time
	Up   bool
}

// Telemetry summarises a device's readings over a data range without
// listing them: a month of 10-second readings of a fleet is far too many.
// Zero times mean "none".
type Telemetry struct {
	// Before is the last reading before the range (within the lookback).
	Before time.Time
	// First and Last are the first and last readings inside the range.
	First, Last time.Time
	// After is the first reading at or after the end of the range, looked
	// for up to the longest heartbeat after it.
	After time.Time
	// Gaps are the silences between consecutive readings inside the range
	// that the loader found, as [earlier reading, later reading). Gaps
	// not longer than the device's heartbeat are ignored.
	Gaps []Interval
}

// Seen reports whether the device has any record at all.
func (d *DeviceData) Seen() bool {
	t := d.Telemetry
	return len(d.Status) > 0 || !t.Before.IsZero() || !t.First.IsZero() || !t.After.IsZero()
}

// silent returns the intervals of [since, end) in which the device had
// no reading for longer than hb, each from its last reading: "a device
// with no readings for longer than its heartbeat counts as down from its
// last reading". Without a reading before the range, the device counts
// as heard of at since.
func (t Telemetry) silent(hb time.Duration, since, end, now time.Time) []Interval {
	var out []Interval
	prev := t.Before
	if prev.IsZero() {
		prev = since
	}
	if t.First.IsZero() {
		// Nothing inside the range: silent from the last reading before it.
		if t.silentAfter(prev, hb, end, now) {
			out = append(out, Interval{prev, end})
		}
		return Clip(out, since, end)
	}
	if t.First.Sub(prev) > hb {
		out = append(out, Interval{prev, t.First})
	}
	for _, g := range t.Gaps {
		if g.Duration() > hb {
			out = append(out, g)
		}
	}
	if t.silentAfter(t.Last, hb, end, now) {
		out = append(out, Interval{t.Last, end})
	}
	return Clip(Merge(out), since, end)
}

// silentAfter reports whether the silence that begins at the reading at
// last lasts longer than hb.
func (t Telemetry) silentAfter(last time.Time, hb time.Duration, end, now time.Time) bool {
	if !t.After.IsZero() {
		return t.After.Sub(last) > hb
	}
	if now.Sub(end) >= hb {
		// The loader looked for a reading up to a heartbeat after the end
		// and found none.
		return true
	}
	return now.Sub(last) > hb
}

// statusDown returns the intervals the device itself said it was
// offline, up to end. An "offline" counts until "online" or for at most
// one heartbeat: a device still silent after that is down by its
// telemetry anyway, and a device that keeps publishing is up whatever a
// stale retained status says.
func statusDown(status []Transition, hb time.Duration, end time.Time) []Interval {
	var out []Interval
	var downAt time.Time
	for _, tr := range status {
		switch {
		case !tr.Up && downAt.IsZero():
			downAt = tr.Time
		case tr.Up && !downAt.IsZero():
			out = append(out, Interval{downAt, earlier(tr.Time, downAt.Add(hb))})
			downAt = time.Time{}
		}
	}
	if !downAt.IsZero() {
		out = append(out, Interval{downAt, earlier(end, downAt.Add(hb))})
	}
	return out
}
