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
	unknown := Merge(slices.Clone(ds.Unknown))
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
		outages[w] = Merge(slices.Clone(ivs))
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
		ivs = Merge(ivs)
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
		for _, o := range Clip(outages[w.ID], p.From, end) {
			open := Clip(openOf(w.ID), o.Start, o.End)
			r.Outages = append(r.Outages, Outage{Ward: w.ID, WardName: w.Name, Start: o.Start, End: o.End, Office: total(Subtract(open, unknown))})
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
	r.CollectionGaps = Clip(unknown, p.From, end)
	basis := openOf(s.Ward)
	for _, g := range r.CollectionGaps {
		d := total(Clip(basis, g.Start, g.End))
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
