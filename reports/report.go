package reports

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/internal/calendar"

	"github.com/facmon/facmon/reports/i18n"
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

// Build computes the report of period p from ds, which must cover p and
// the previous period of the same length (the part of it that ds does not
// cover is left out of the comparison).
func Build(ds *Dataset, p Period, s Settings) (*Report, error) {
	if !p.To.After(p.From) {
		return nil, errors.New("reports: the period ends before it starts")
	}
	if ds.From.After(p.From) {
		return nil, fmt.Errorf("reports: the data starts at %s, after the period", ds.From.Format(time.RFC3339))
	}
	loc := s.Location
	if loc == nil {
		loc = vietnam()
	}
	sched, err := maintenance.New(s.Maintenance, loc)
	if err != nil {
		return nil, fmt.Errorf("reports: maintenance%w", err)
	}
	heartbeat := s.Heartbeat
	if heartbeat == nil {
		heartbeat = func(string, string, string) time.Duration { return time.Minute }
	}
	prev := p.In(loc).Previous()
	end := earlier(p.To, ds.To)
	r := &Report{
		From: p.From, To: p.To, End: end,
		PrevFrom: prev.From, PrevTo: prev.To,
		Generated: s.Generated, Location: loc, AlwaysOpen: s.AlwaysOpen, Ward: s.Ward,
		DayIncidents: map[string][]int{},
		NoHeartbeat:  ds.NoHeartbeat,
	}
	if r.Generated.IsZero() {
		r.Generated = ds.Now
	}
	days := newDayIndex(p.From, p.To, loc)
	r.Days = days.bounds[:days.days()]
	cur := window{from: p.From, to: end, days: &days}
	prw := window{from: later(prev.From, ds.From), to: earlier(prev.To, ds.To)}

	// Wards in display order.
	names := map[string]string{}
	order := map[string]int{}
	for i, o := range s.Offices {
		names[o.ID] = o.Name
		order[o.ID] = i
	}
	devices := make([]*DeviceData, 0, len(ds.Devices))
	classSet := map[string]bool{}
	for i := range ds.Devices {
		d := &ds.Devices[i]
		if s.Ward != "" && d.Ward != s.Ward {
			continue
		}
		devices = append(devices, d)
		classSet[d.Class] = true
	}
	wardIDs := []string{}
	seenWard := map[string]bool{}
	for _, o := range s.Offices {
		if s.Ward == "" || o.ID == s.Ward {
			wardIDs = append(wardIDs, o.ID)
			seenWard[o.ID] = true
		}
	}
	var extra []string
	for _, d := range devices {
		if !seenWard[d.Ward] {
			seenWard[d.Ward] = true
			extra = append(extra, d.Ward)
		}
	}
	slices.Sort(extra)
	wardIDs = append(wardIDs, extra...)
	wardName := func(id string) string {
		if n := names[id]; n != "" {
			return n
		}
		return id
	}
	for _, c := range DefaultClasses {
		if classSet[c] {
			r.Classes = append(r.Classes, c)
		}
	}
	var otherClasses []string
	for c := range classSet {
		if !slices.Contains(DefaultClasses, c) {
			otherClasses = append(otherClasses, c)
		}
	}
	slices.Sort(otherClasses)
	r.Classes = append(r.Classes, otherClasses...)
	classIdx := map[string]int{}
	for i, c := range r.Classes {
		classIdx[c] = i
		r.DayIncidents[c] = make([]int, days.days())
	}
	wardIdx := map[string]int{}
	for i, id := range wardIDs {
		wardIdx[id] = i
		w := WardRow{Row: Row{ID: id, Name: wardName(id)}, DayUp: make([]time.Duration, days.days()), DayDown: make([]time.Duration, days.days())}
		for _, c := range r.Classes {
			w.Classes = append(w.Classes, Row{ID: c, Name: c, Target: s.Config.Target(c)})
		}
		r.Wards = append(r.Wards, w)
	}
	slices.SortStableFunc(devices, func(a, b *DeviceData) int {
		if c := wardIdx[a.Ward] - wardIdx[b.Ward]; c != 0 {
			return c
		}
		if c := classIdx[a.Class] - classIdx[b.Class]; c != 0 {
			return c
		}
		return i18n.NaturalCompare(a.Device, b.Device)
	})

	// What surrounds the devices.
	unknown := merge(slices.Clone(ds.Unknown))
	openCache := map[*calendar.Calendar][]Interval{}
	var defaultCal *calendar.Calendar
	allDay := []Interval{{ds.From, ds.To}}
	calOf := func(ward string) *calendar.Calendar {
		c := s.Calendars[ward]
		if c == nil {
			if defaultCal == nil {
				defaultCal = calendar.Default()
			}
			c = defaultCal
		}
		return c
	}
	openOf := func(ward string) []Interval {
		if s.AlwaysOpen {
			return allDay
		}
		c := calOf(ward)
		if ivs, ok := openCache[c]; ok {
			return ivs
		}
		var ivs []Interval
		for _, iv := range c.OpenIntervals(ds.From, ds.To) {
			ivs = append(ivs, Interval(iv))
		}
		openCache[c] = ivs
		return ivs
	}
	outages := map[string][]Interval{}
	for w, ivs := range ds.WardOutages {
		outages[w] = merge(slices.Clone(ivs))
	}
	type netKey struct {
		ward string
		hb   time.Duration
	}
	netCache := map[netKey][]Interval{}
	networkOf := func(ward string, hb time.Duration) []Interval {
		k := netKey{ward, hb}
		if ivs, ok := netCache[k]; ok {
			return ivs
		}
		var ivs []Interval
		for _, o := range outages[ward] {
			// The alert fires a while after the network fails (devices must
			// first be silent for their heartbeat, then the rule waits for
			// its "for"), and devices come back a little after it resolves.
			ivs = append(ivs, Interval{o.Start.Add(-hb - WardOutageLead), o.End.Add(hb)})
		}
		ivs = merge(ivs)
		netCache[k] = ivs
		return ivs
	}

	for _, d := range devices {
		hb := heartbeat(d.Ward, d.Class, d.Device)
		if hb <= 0 {
			hb = time.Minute
		}
		tl := deviceTimeline(d, ds, hb)
		var planned []Interval
		for _, iv := range sched.Intervals(d.Ward, d.Class, d.Device, ds.From, ds.To) {
			planned = append(planned, Interval(iv))
		}
		e := env{open: openOf(d.Ward), planned: planned, unknown: unknown, network: networkOf(d.Ward, hb)}
		c := countDevice(tl, e, cur, true)
		pr := countDevice(tl, e, prw, false)

		wi := wardIdx[d.Ward]
		ci := classIdx[d.Class]
		row := DeviceRow{
			Row:           Row{ID: d.Device, Name: d.Device, Cur: c.stats, Prev: pr.stats, Target: s.Config.Target(d.Class)},
			Ward:          d.Ward,
			WardName:      wardName(d.Ward),
			Class:         d.Class,
			Device:        d.Device,
			NeverReported: tl.neverReported,
		}
		if tl.since.After(p.From) {
			row.Since = tl.since
		}
		r.Devices = append(r.Devices, row)
		w := &r.Wards[wi]
		w.Cur.add(c.stats)
		w.Prev.add(pr.stats)
		w.Classes[ci].Cur.add(c.stats)
		w.Classes[ci].Prev.add(pr.stats)
		for i := range c.dayUp {
			w.DayUp[i] += c.dayUp[i]
			w.DayDown[i] += c.dayDown[i]
			r.DayIncidents[d.Class][i] += c.dayInc[i]
		}
		for _, inc := range c.incidents {
			inc.Ward, inc.WardName, inc.Class, inc.Device = d.Ward, row.WardName, d.Class, d.Device
			r.Incidents = append(r.Incidents, inc)
		}
	}

	// Roll-ups.
	r.District = Row{ID: "", Name: ""}
	for _, c := range r.Classes {
		r.ByClass = append(r.ByClass, Row{ID: c, Name: c, Target: s.Config.Target(c)})
	}
	for _, w := range r.Wards {
		r.District.Cur.add(w.Cur)
		r.District.Prev.add(w.Prev)
		for i, c := range w.Classes {
			r.ByClass[i].Cur.add(c.Cur)
			r.ByClass[i].Prev.add(c.Prev)
		}
	}
	slices.SortStableFunc(r.Incidents, func(a, b Incident) int { return a.Start.Compare(b.Start) })

	// The worst devices: lowest availability, then most downtime.
	var worst []DeviceRow
	for _, d := range r.Devices {
		if d.Cur.Down > 0 {
			worst = append(worst, d)
		}
	}
	slices.SortStableFunc(worst, func(a, b DeviceRow) int {
		aa, _ := a.Availability()
		ba, _ := b.Availability()
		switch {
		case aa < ba:
			return -1
		case aa > ba:
			return 1
		}
		return cmp.Compare(b.Cur.Down, a.Cur.Down)
	})
	if n := s.Config.worst(); len(worst) > n {
		worst = worst[:n]
	}
	r.Worst = worst

	// Ward outages, maintenance and collection gaps of the period.
	for _, w := range r.Wards {
		for _, o := range clip(outages[w.ID], p.From, end) {
			open := clip(openOf(w.ID), o.Start, o.End)
			r.Outages = append(r.Outages, Outage{Ward: w.ID, WardName: w.Name, Start: o.Start, End: o.End, Office: total(subtract(open, unknown))})
		}
	}
	for i := range r.Wards {
		var d time.Duration
		for _, o := range r.Outages {
			if o.Ward == r.Wards[i].ID {
				d += o.Office
			}
		}
		r.Wards[i].Network = d
	}
	for _, mw := range s.Maintenance {
		if s.Ward != "" && mw.Ward != "" && mw.Ward != s.Ward {
			continue
		}
		one, err := maintenance.New([]maintenance.Window{mw}, loc)
		if err != nil {
			continue // the whole list compiled above; cannot happen
		}
		for _, iv := range one.Intervals(mw.Ward, mw.Class, mw.Device, p.From, end) {
			r.Maintenance = append(r.Maintenance, Planned{Name: mw.Name, Ward: mw.Ward, Class: mw.Class, Device: mw.Device, Start: iv.Start, End: iv.End})
		}
	}
	slices.SortStableFunc(r.Maintenance, func(a, b Planned) int { return a.Start.Compare(b.Start) })
	r.CollectionGaps = clip(unknown, p.From, end)
	basis := openOf(s.Ward)
	for _, g := range r.CollectionGaps {
		d := total(clip(basis, g.Start, g.End))
		r.GapCounted = append(r.GapCounted, d)
		r.NotCollecting += d
	}
	for i := range r.Wards {
		r.Wards[i].DayKinds = dayKinds(r.Wards[i], days, end, s.AlwaysOpen, calOf(r.Wards[i].ID))
	}
	return r, nil
}

// dayKinds tells the days of a ward apart, so a leader can see a weekend
// from a working day nobody reported on, and either from a day to come.
// The calendar is asked directly, not the open intervals of the data,
// which stop at the data's end.
func dayKinds(w WardRow, days dayIndex, end time.Time, alwaysOpen bool, cal *calendar.Calendar) []DayKind {
	kinds := make([]DayKind, days.days())
	for i := range kinds {
		from, to := days.bounds[i], days.bounds[i+1]
		openAll, openSoFar := to.Sub(from), earlier(to, end).Sub(from)
		if !alwaysOpen {
			openAll, openSoFar = cal.OpenDuration(from, to), 0
			if end.After(from) {
				openSoFar = cal.OpenDuration(from, earlier(to, end))
			}
		}
		switch {
		case openAll <= 0:
			kinds[i] = DayClosed
		case !end.After(from):
			kinds[i] = DayFuture
		case w.DayUp[i]+w.DayDown[i] > 0:
			kinds[i] = DayCounted
		case openSoFar <= 0:
			kinds[i] = DayFuture
		default:
			kinds[i] = DayNoData
		}
	}
	return kinds
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
