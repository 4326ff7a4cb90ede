package reports

import (
	"time"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/internal/calendar"
)

// Office is a ward office as the report names it.
type Office struct {
	ID   string
	Name string
}

// Settings are what a report needs besides the data: the offices, their
// calendars, heartbeats, maintenance windows and SLA targets.
type Settings struct {
	// Location is the offices' time zone: days, dates and times of the
	// report. Nil means Asia/Ho_Chi_Minh.
	Location *time.Location
	// Offices in display order; a ward in the data but not here is listed
	// after them under its id.
	Offices []Office
	// Calendars by ward id; a ward without one uses calendar.Default().
	Calendars map[string]*calendar.Calendar
	// AlwaysOpen counts every hour of every day (the 24/7 report).
	AlwaysOpen bool
	// Heartbeat gives a device's heartbeat; nil means one minute for all.
	Heartbeat func(ward, class, device string) time.Duration
	// Maintenance windows, as configured; local times are in Location.
	Maintenance []maintenance.Window
	// Config holds the SLA targets.
	Config Config
	// Ward limits the report to one ward; empty means every ward.
	Ward string
	// Generated is printed on the report; zero means the dataset's Now.
	Generated time.Time
}

// Period is the time a report covers, [From, To).
type Period struct{ From, To time.Time }

// Previous is the period a report compares p with. Leaders compare a
// month with the month before, not with "the 30 days before": a whole
// calendar month gives the previous calendar month, a whole year the
// previous year and an ISO week (Monday to Monday) the week before, all in
// the location of p.From; any other span gives the span of the same length
// just before it.
func (p Period) Previous() Period {
	from := p.From
	to := p.To.In(from.Location())
	if from.Hour() == 0 && from.Minute() == 0 && from.Second() == 0 && from.Nanosecond() == 0 {
		switch {
		case from.YearDay() == 1 && to.Equal(from.AddDate(1, 0, 0)):
			return Period{from.AddDate(-1, 0, 0), from}
		case from.Day() == 1 && to.Equal(from.AddDate(0, 1, 0)):
			return Period{from.AddDate(0, -1, 0), from}
		case from.Weekday() == time.Monday && to.Equal(from.AddDate(0, 0, 7)):
			return Period{from.AddDate(0, 0, -7), from}
		}
	}
	return Period{from.Add(-to.Sub(from)), from}
}

// In is p with its bounds in loc, where Previous finds calendar months.
func (p Period) In(loc *time.Location) Period { return Period{p.From.In(loc), p.To.In(loc)} }

// Report is a computed uptime report, ready for the renderers.
type Report struct {
	From, To time.Time // the period asked for, [From, To)
	// End is where the data ends: To, or the time the report was made
	// when the period is still running.
	End              time.Time
	PrevFrom, PrevTo time.Time
	Generated        time.Time
	Location         *time.Location
	AlwaysOpen       bool
	Ward             string // "" for the whole district

	// Classes present, in display order (door, hvac, server, camera, …).
	Classes  []string
	District Row
	ByClass  []Row // the district per class, with SLA targets
	Wards    []WardRow
	Devices  []DeviceRow
	Worst    []DeviceRow
	// Incidents in order of start.
	Incidents []Incident
	// Days are the local midnights of the days of the period.
	Days []time.Time
	// DayIncidents counts per class and day the incidents whose counted
	// downtime began that day.
	DayIncidents map[string][]int
	Maintenance  []Planned
	Outages      []Outage
	// CollectionGaps are the times facmon was not collecting, clipped to
	// the period; GapCounted is the time of each on the report's basis
	// (office hours of the offices' calendar, or every hour for 24/7), and
	// NotCollecting their sum: the figure the summary gives.
	CollectionGaps []Interval
	GapCounted     []time.Duration
	NotCollecting  time.Duration
	// NoHeartbeat: facmon never recorded a heartbeat, so collection gaps
	// could not be told from downtime.
	NoHeartbeat bool
}

// Row is one line of a table: a class, a ward, a device or the district.
type Row struct {
	ID, Name string
	Cur      Stats // the period
	Prev     Stats // the previous period of the same length
	// Target is the SLA target in percent; 0 when the row has none (a
	// ward's target is that of each of its classes).
	Target float64
}

// Availability of the period in percent.
func (r Row) Availability() (float64, bool) { return r.Cur.Availability() }

// Change is the availability of the period minus that of the previous
// period, in percentage points.
func (r Row) Change() (float64, bool) {
	a, ok1 := r.Cur.Availability()
	b, ok2 := r.Prev.Availability()
	return a - b, ok1 && ok2
}

// Pass reports whether the row meets its target; ok is false without a
// target or without counted time.
func (r Row) Pass() (pass, ok bool) {
	a, has := r.Cur.Availability()
	if !has || r.Target <= 0 {
		return false, false
	}
	return a >= r.Target-1e-9, true
}

// WardRow is a ward with its classes and its days.
type WardRow struct {
	Row
	// Classes is aligned with Report.Classes; Cur.Devices is 0 for a class
	// the ward does not have.
	Classes []Row
	// DayUp and DayDown are the summed device up and down time per day.
	DayUp, DayDown []time.Duration
	// DayKinds tells, per day, why a day without availability has none.
	DayKinds []DayKind
	// Network is how long the ward was unreachable within office hours.
	Network time.Duration
}

// Pass reports whether every class of the ward meets its target.
func (w WardRow) Pass() (pass, ok bool) {
	pass = true
	for _, c := range w.Classes {
		if p, has := c.Pass(); has {
			ok = true
			pass = pass && p
		}
	}
	return pass, ok
}

// DayKind is what a day of a ward's row holds.
type DayKind uint8

const (
	// DayCounted has counted device time: it has an availability.
	DayCounted DayKind = iota
	// DayNoData is an open day, begun, with no counted time: no device
	// reported, or facmon was not collecting.
	DayNoData
	// DayClosed is a day the office does not open (weekend, holiday).
	DayClosed
	// DayFuture has not begun, or its office hours have not begun yet.
	DayFuture
)

// DayKind returns what day i holds.
func (w WardRow) DayKind(i int) DayKind {
	if i < 0 || i >= len(w.DayKinds) {
		return DayNoData
	}
	return w.DayKinds[i]
}

// Day returns the availability of day i in percent.
func (w WardRow) Day(i int) (float64, bool) {
	if i < 0 || i >= len(w.DayUp) {
		return 0, false
	}
	return Stats{Up: w.DayUp[i], Down: w.DayDown[i]}.Availability()
}

// DeviceRow is one device.
type DeviceRow struct {
	Row
	Ward, WardName, Class, Device string
	// Since is set when the device counts from later than the start of
	// the period: its first record, for a device new in the period.
	Since time.Time
	// NeverReported: listed in the inventory, never heard of.
	NeverReported bool
}

// Incident is one outage of a device with counted downtime.
type Incident struct {
	Ward, WardName, Class, Device string
	// Start and End of the outage, which may lie outside office hours and
	// outside the period (StartsBefore, EndsAfter).
	Start, End              time.Time
	StartsBefore, EndsAfter bool
	// Downtime is the counted part (office hours, not planned, not
	// unknown, not network).
	Downtime time.Duration
	// Network is the part attributed to a ward outage.
	Network time.Duration
}

// Planned is one maintenance window within the period.
type Planned struct {
	Name, Ward, Class, Device string
	Start, End                time.Time
}

// Outage is a ward network outage (WardUnreachable) within the period.
type Outage struct {
	Ward, WardName string
	Start, End     time.Time
	// Office is its length within office hours.
	Office time.Duration
}

// WardOutageLead is how much earlier than its WardUnreachable alert fired
// (besides one heartbeat) a ward outage is taken to have begun: the
// rule's "for" (30 s by default) and its evaluation. Device downtime from
// then until a heartbeat after the alert resolved is the network's.
const WardOutageLead = 2 * time.Minute

// DefaultClasses are the device classes in display order.
var DefaultClasses = []string{"door", "hvac", "server", "camera"}

func vietnam() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	return time.FixedZone("ICT", 7*3600)
}

// District pass: every class meets its target.
func (r *Report) Pass() (pass, ok bool) {
	pass = true
	for _, c := range r.ByClass {
		if p, has := c.Pass(); has {
			ok = true
			pass = pass && p
		}
	}
	return pass, ok
}

// Partial reports whether the period is still running.
func (r *Report) Partial() bool { return r.End.Before(r.To) }
