package loader

import (
	"slices"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/reports"
)

// What the loader makes of the answers: transitions into gaps, chunks
// stitched together, heartbeats into unknown time, alert events into ward
// outages.

// transitionGaps turns the recorded silences into gaps from the last
// reading to the first one after it: down with reason "silent", and down
// with reason "offline" (the device's last will or offline status, after
// which it sends nothing until it is back). The offline status alone counts
// for one heartbeat only (statusDown), so without the gap a device offline
// for an hour would be an outage of a minute.
func transitionGaps(res []storage.Result) map[devKey][]reports.Interval {
	out := map[devKey][]reports.Interval{}
	if len(res) == 0 {
		return out
	}
	for _, s := range res[0].Series {
		k := devKey{s.Tags["ward"], s.Tags["class"], s.Tags["device"]}
		upCol, reasonCol := s.Column("up"), s.Column("reason")
		var downAt time.Time
		for i, row := range s.Values {
			if upCol < 0 || upCol >= len(row) {
				continue
			}
			up, _ := storage.Int(row[upCol])
			reason := ""
			if reasonCol >= 0 && reasonCol < len(row) {
				reason, _ = row[reasonCol].(string)
			}
			switch {
			case up == 0 && (reason == "silent" || reason == "offline") && downAt.IsZero():
				downAt = s.Time(i)
			case up == 1 && !downAt.IsZero():
				out[k] = append(out[k], reports.Interval{Start: downAt, End: s.Time(i)})
				downAt = time.Time{}
			}
		}
	}
	return out
}

// eachRow calls fn for every row of statement i, with the device key of
// its series; class fills in a series without a class tag.
func eachRow(res []storage.Result, i int, class string, fn func(k devKey, t time.Time, row []any)) {
	if i >= len(res) {
		return
	}
	for _, s := range res[i].Series {
		k := devKey{s.Tags["ward"], s.Tags["class"], s.Tags["device"]}
		if k.class == "" {
			k.class = class
		}
		for r, row := range s.Values {
			if len(row) < 2 {
				continue
			}
			fn(k, s.Time(r), row)
		}
	}
}

// stitch joins the chunk summaries of a device: the silences across chunk
// boundaries are gaps too.
func stitch(chunks []chunkSummary, minGap time.Duration) reports.Telemetry {
	var t reports.Telemetry
	var last time.Time
	for _, c := range chunks {
		if c.first.IsZero() {
			continue
		}
		if t.First.IsZero() {
			t.First = c.first
		}
		if !last.IsZero() && c.first.Sub(last) > minGap {
			t.Gaps = append(t.Gaps, reports.Interval{Start: last, End: c.first})
		}
		t.Gaps = append(t.Gaps, c.gaps...)
		last = c.last
	}
	t.Last = last
	t.Gaps = reports.Merge(t.Gaps)
	return t
}

type beat struct {
	t          time.Time
	collecting bool
}

// unknownFromBeats turns facmon's heartbeats into the times it was not
// collecting: the state is known between two consecutive beats no more
// than CollectorMaxGap apart that both say collecting=1. A last beat less
// than CollectorMaxGap before now stands until now. Without any beat ever
// (data older than the heartbeat), nothing is unknown and noHeartbeat is
// set.
func unknownFromBeats(beats map[string][]beat, ever bool, from, to, now time.Time) (unknown []reports.Interval, noHeartbeat bool) {
	var known []reports.Interval
	n := 0
	for _, bs := range beats {
		n += len(bs)
		slices.SortFunc(bs, func(a, b beat) int { return a.t.Compare(b.t) })
		if len(bs) > 0 {
			if last := bs[len(bs)-1]; last.collecting && now.Sub(last.t) <= CollectorMaxGap && now.After(last.t) {
				bs = append(bs, beat{now, true})
			}
		}
		for i := 1; i < len(bs); i++ {
			a, b := bs[i-1], bs[i]
			if a.collecting && b.collecting && b.t.Sub(a.t) <= CollectorMaxGap {
				known = append(known, reports.Interval{Start: a.t, End: b.t})
			}
		}
	}
	if n == 0 && !ever {
		return nil, true
	}
	return reports.Subtract([]reports.Interval{{Start: from, End: to}}, reports.Merge(known)), false
}

type alertEvent struct {
	t         time.Time
	state, id string
}

// outageIntervals reads a ward's WardUnreachable events: an outage runs
// from its pending (or, without one, its firing) event to its resolved
// one, and only counts once it fired.
func outageIntervals(evs []alertEvent, from, to time.Time) []reports.Interval {
	slices.SortStableFunc(evs, func(a, b alertEvent) int { return a.t.Compare(b.t) })
	type open struct {
		start time.Time
		fired bool
	}
	active := map[string]*open{}
	var out []reports.Interval
	for _, e := range evs {
		o := active[e.id]
		switch strings.ToLower(e.state) {
		case "pending":
			if o == nil {
				active[e.id] = &open{start: e.t}
			}
		case "firing":
			if o == nil {
				o = &open{start: e.t}
				active[e.id] = o
			}
			o.fired = true
		case "resolved":
			switch {
			case o != nil && o.fired:
				out = append(out, reports.Interval{Start: o.start, End: e.t})
			case o == nil:
				// It began before the lookback.
				out = append(out, reports.Interval{Start: from, End: e.t})
			}
			delete(active, e.id)
		}
	}
	for _, o := range active {
		if o.fired {
			out = append(out, reports.Interval{Start: o.start, End: to})
		}
	}
	return reports.Clip(reports.Merge(out), from, to)
}
