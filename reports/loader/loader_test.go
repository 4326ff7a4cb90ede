package loader

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv/influxdb"
	"github.com/facmon/facmon/reports"
)

// fixtureLines writes the InfluxDB points the loader reads, as facmon and
// its alert engine store them, around Monday 2 March 2026 08:00–11:00:
//
//   - a/door-1 reports every 10 s but is silent 09:00–09:20 (across a
//     query chunk boundary) and 09:30–09:40;
//   - a/hvac-1 reports throughout and flaps offline 09:30:00–09:30:20;
//   - b/camera-1 is silent 10:00–10:30 while WardUnreachable fires from
//     10:01:20 (the engine records firing, acknowledged, resolved) to 10:30;
//   - facmon's heartbeat stops from 10:40 to 10:45;
//   - c/server-1 is in the inventory and never reported.
func fixtureLines(t0 time.Time) string {
	var b strings.Builder
	ns := func(t time.Time) int64 { return t.UnixNano() }
	from, to := t0.Add(-time.Hour), t0.Add(4*time.Hour)
	seq := map[string]int{}
	point := func(ward, class, dev string, t time.Time) {
		seq[dev]++
		fmt.Fprintf(&b, "%s,class=%s,device=%s,ward=%s seq=%di %d\n", class, class, dev, ward, seq[dev], ns(t))
	}
	silent := func(t time.Time, spans ...[2]string) bool {
		for _, s := range spans {
			if !t.Before(at(s[0])) && t.Before(at(s[1])) {
				return true
			}
		}
		return false
	}
	for t := from; t.Before(to); t = t.Add(10 * time.Second) {
		if !silent(t, [2]string{"2026-03-02 09:00", "2026-03-02 09:20"}, [2]string{"2026-03-02 09:30", "2026-03-02 09:40"}) {
			point("a", "door", "door-1", t)
		}
		point("a", "hvac", "hvac-1", t)
		if !silent(t, [2]string{"2026-03-02 10:00", "2026-03-02 10:30"}) {
			point("b", "camera", "camera-1", t)
		}
		if t.Second() == 0 || t.Second() == 30 {
			if !silent(t, [2]string{"2026-03-02 10:40:01", "2026-03-02 10:45"}) {
				fmt.Fprintf(&b, "facmon_heartbeat,instance=facmon-1 collecting=1i %d\n", ns(t))
			}
		}
	}
	fmt.Fprintf(&b, "device_status,class=hvac,device=hvac-1,ward=a up=1i %d\n", ns(from))
	fmt.Fprintf(&b, "device_status,class=hvac,device=hvac-1,ward=a up=0i %d\n", ns(at("2026-03-02 09:30:00")))
	fmt.Fprintf(&b, "device_status,class=hvac,device=hvac-1,ward=a up=1i %d\n", ns(at("2026-03-02 09:30:20")))
	alert := func(state, when string) {
		fmt.Fprintf(&b, "alert_event,alertname=WardUnreachable,severity=critical,ward=b state=%q,id=\"wu-b-1\",summary_vi=\"Mất kết nối phường\",summary_en=\"Ward unreachable\" %d\n", state, ns(at(when)))
	}
	alert("firing", "2026-03-02 10:01:20")
	alert("acknowledged", "2026-03-02 10:05:00")
	alert("resolved", "2026-03-02 10:30:00")
	// An alert of another kind is not a ward outage.
	fmt.Fprintf(&b, "alert_event,alertname=DoorStuckOpen,severity=warning,ward=a,class=door,device=door-1 state=\"firing\",id=\"x\" %d\n", ns(at("2026-03-02 09:05")))
	return b.String()
}

func TestLoaderAgainstInfluxDB(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, "CREATE DATABASE facmon_loader")
	t0 := at("2026-03-02 08:00")
	db.Write(t, "facmon_loader", fixtureLines(t0))

	q := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_loader/autogen", Timeout: 30 * time.Second})
	l := New(q, Options{Chunk: time.Hour, Parallel: 3})
	var calls, total int
	req := Request{
		From: t0, To: t0.Add(3 * time.Hour), Now: t0.Add(24 * time.Hour),
		Inventory: []InventoryDevice{{"c", "server", "server-1"}, {"a", "door", "door-1"}},
	}
	ds, err := l.Load(context.Background(), req, func(done, n int) { calls++; total = n })
	require.NoError(t, err)
	assert.Equal(t, 4*(3+1)+3, total)
	assert.Equal(t, total+1, calls, "progress from 0 to the total")

	byName := map[string]reports.DeviceData{}
	for _, d := range ds.Devices {
		byName[d.Ward+"/"+d.Device] = utcDevice(d)
	}
	require.Len(t, byName, 4, "three devices seen plus one from the inventory: %v", byName)
	door := byName["a/door-1"]
	assert.True(t, door.Inventory)
	assert.Equal(t, "door", door.Class)
	assert.Equal(t, t0.Add(-10*time.Second).UTC(), door.Telemetry.Before)
	assert.Equal(t, t0.UTC(), door.Telemetry.First)
	assert.Equal(t, t0.Add(3*time.Hour-10*time.Second).UTC(), door.Telemetry.Last)
	assert.Equal(t, t0.Add(3*time.Hour).UTC(), door.Telemetry.After)
	assert.Equal(t, utcIvs(
		iv("2026-03-02 08:59:50", "2026-03-02 09:20"), // across the 09:00 chunk boundary
		iv("2026-03-02 09:29:50", "2026-03-02 09:40"),
	), door.Telemetry.Gaps)

	hvac := byName["a/hvac-1"]
	assert.Empty(t, hvac.Telemetry.Gaps)
	assert.Equal(t, []reports.Transition{{Time: t0.Add(-time.Hour).UTC(), Up: true}, {Time: at("2026-03-02 09:30").UTC(), Up: false}, {Time: at("2026-03-02 09:30:20").UTC(), Up: true}}, hvac.Status)

	assert.Equal(t, utcIvs(iv("2026-03-02 09:59:50", "2026-03-02 10:30")), byName["b/camera-1"].Telemetry.Gaps)
	server := byName["c/server-1"]
	assert.True(t, server.Inventory)
	assert.False(t, server.Seen())

	assert.Equal(t, utcIvs(iv("2026-03-02 10:01:20", "2026-03-02 10:30")), utcIvs(ds.WardOutages["b"]...))
	assert.Len(t, ds.WardOutages, 1)
	assert.Equal(t, utcIvs(iv("2026-03-02 10:40", "2026-03-02 10:45")), utcIvs(ds.Unknown...))
	assert.False(t, ds.NoHeartbeat)

	// The report of those three hours, around the clock.
	r, err := reports.Build(ds, reports.Period{From: t0.Add(90 * time.Minute), To: t0.Add(3 * time.Hour)}, reports.Settings{AlwaysOpen: true})
	require.NoError(t, err)
	got := map[string]reports.Stats{}
	for _, d := range r.Devices {
		s := d.Cur
		s.Devices = 0
		got[d.Ward+"/"+d.Device] = s
	}
	window := 90 * time.Minute
	// door-1 is silent from 09:29:50: the window starts at 09:30
	assert.Equal(t, reports.Stats{Up: window - 5*time.Minute - 10*time.Minute, Down: 10 * time.Minute, Unknown: 5 * time.Minute, Incidents: 1, Longest: 10 * time.Minute}, got["a/door-1"])
	assert.Equal(t, reports.Stats{Up: window - 5*time.Minute - 20*time.Second, Down: 20 * time.Second, Unknown: 5 * time.Minute, Incidents: 1, Longest: 20 * time.Second}, got["a/hvac-1"])
	assert.Equal(t, reports.Stats{Up: window - 5*time.Minute - 30*time.Minute - 10*time.Second, Network: 30*time.Minute + 10*time.Second, Unknown: 5 * time.Minute}, got["b/camera-1"], "the ward outage is the network's")
	assert.Equal(t, reports.Stats{Down: window - 5*time.Minute, Unknown: 5 * time.Minute, Incidents: 1, Longest: window - 5*time.Minute}, got["c/server-1"])

	// One ward only.
	req.Ward = "b"
	ds, err = l.Load(context.Background(), req, nil)
	require.NoError(t, err)
	require.Len(t, ds.Devices, 1)
	assert.Equal(t, "camera-1", ds.Devices[0].Device)

	// Data without any heartbeat: nothing is unknown, and the report says why.
	db.Exec(t, "CREATE DATABASE facmon_old")
	db.Write(t, "facmon_old", fmt.Sprintf("door,class=door,device=door-1,ward=a seq=1i %d\n", t0.UnixNano()))
	ds, err = New(storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_old"}), Options{}).Load(context.Background(), req, nil)
	require.NoError(t, err)
	assert.True(t, ds.NoHeartbeat)
	assert.Empty(t, ds.Unknown)

	// A query error names what was being read.
	_, err = New(storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "nope"}), Options{}).Load(context.Background(), req, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "database not found")
}

func utcIvs(ivs ...reports.Interval) []reports.Interval {
	out := make([]reports.Interval, len(ivs))
	for i, x := range ivs {
		out[i] = reports.Interval{Start: x.Start.UTC(), End: x.End.UTC()}
	}
	return out
}

func utcTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// utcDevice puts every time of d in UTC, so that assert.Equal compares
// instants, not locations.
func utcDevice(d reports.DeviceData) reports.DeviceData {
	t := &d.Telemetry
	t.Before, t.First, t.Last, t.After = utcTime(t.Before), utcTime(t.First), utcTime(t.Last), utcTime(t.After)
	if t.Gaps != nil {
		t.Gaps = utcIvs(t.Gaps...)
	}
	for i := range d.Status {
		d.Status[i].Time = d.Status[i].Time.UTC()
	}
	return d
}

func TestOutageIntervals(t *testing.T) {
	from, to := at("2026-03-02 00:00"), at("2026-03-03 00:00")
	ev := func(s, state, id string) alertEvent { return alertEvent{at(s), state, id} }
	assert.Equal(t, []reports.Interval{iv("2026-03-02 09:00", "2026-03-02 10:00"), iv("2026-03-02 23:00", "2026-03-03 00:00")}, outageIntervals([]alertEvent{
		ev("2026-03-02 09:00", "pending", "1"), ev("2026-03-02 09:02", "firing", "1"), ev("2026-03-02 10:00", "resolved", "1"),
		ev("2026-03-02 12:00", "pending", "2"), ev("2026-03-02 12:01", "resolved", "2"), // never fired
		ev("2026-03-02 23:00", "firing", "3"), // still firing
	}, from, to))
	assert.Equal(t, []reports.Interval{iv("2026-03-02 00:00", "2026-03-02 01:00")}, outageIntervals([]alertEvent{ev("2026-03-02 01:00", "resolved", "9")}, from, to),
		"an outage that began before the lookback runs from the start")
}

func TestUnknownFromBeats(t *testing.T) {
	from, to := at("2026-03-02 08:00"), at("2026-03-02 09:00")
	var bs []beat
	for ts := from.Add(-30 * time.Second); ts.Before(to.Add(time.Minute)); ts = ts.Add(30 * time.Second) {
		switch {
		case ts.After(at("2026-03-02 08:10")) && ts.Before(at("2026-03-02 08:15")):
			continue // facmon down
		case ts.Equal(at("2026-03-02 08:30")):
			bs = append(bs, beat{ts, false}) // not connected to the broker
		default:
			bs = append(bs, beat{ts, true})
		}
	}
	unknown, none := unknownFromBeats(map[string][]beat{"x": bs}, true, from, to, to.Add(time.Hour))
	assert.False(t, none)
	assert.Equal(t, []reports.Interval{iv("2026-03-02 08:10", "2026-03-02 08:15"), iv("2026-03-02 08:29:30", "2026-03-02 08:30:30")}, unknown)

	// A report up to now: the last beat 20 s ago stands until now.
	now := at("2026-03-02 08:50:20")
	var live []beat
	for _, b := range bs {
		if !b.t.After(now) {
			live = append(live, b)
		}
	}
	unknown, _ = unknownFromBeats(map[string][]beat{"x": live}, true, from, now, now)
	assert.Equal(t, iv("2026-03-02 08:29:30", "2026-03-02 08:30:30"), unknown[len(unknown)-1])

	// Two instances: known when either is collecting.
	other := []beat{{at("2026-03-02 08:09:30"), true}, {at("2026-03-02 08:10:30"), true}, {at("2026-03-02 08:11:30"), true}}
	unknown, _ = unknownFromBeats(map[string][]beat{"x": bs, "y": other}, true, from, to, to.Add(time.Hour))
	assert.Equal(t, iv("2026-03-02 08:11:30", "2026-03-02 08:15"), unknown[0])

	unknown, none = unknownFromBeats(nil, false, from, to, to)
	assert.True(t, none)
	assert.Empty(t, unknown)
	unknown, none = unknownFromBeats(nil, true, from, to, to)
	assert.False(t, none)
	assert.Equal(t, []reports.Interval{{Start: from, End: to}}, unknown, "facmon ran before but not in the period")
}

// TestLoaderReadsLivenessTransitions: when facmon's device_liveness
// transitions cover the period, the gaps come from them rather than from a
// scan of every reading. The telemetry here is continuous on purpose, so
// only the transitions can produce the gap the test expects.
func TestLoaderReadsLivenessTransitions(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, "CREATE DATABASE facmon_trans")
	t0 := at("2026-03-02 08:00")
	var b strings.Builder
	for tm := t0.Add(-time.Hour); tm.Before(t0.Add(3 * time.Hour)); tm = tm.Add(10 * time.Second) {
		fmt.Fprintf(&b, "door,class=door,device=door-1,ward=a seq=1i %d\n", tm.UnixNano())
		if tm.Second() == 0 || tm.Second() == 30 {
			fmt.Fprintf(&b, "facmon_heartbeat,instance=f collecting=1i %d\n", tm.UnixNano())
		}
	}
	tr := func(up int, reason, when string) {
		fmt.Fprintf(&b, "device_liveness,class=door,device=door-1,ward=a up=%di,reason=%q %d\n", up, reason, at(when).UnixNano())
	}
	tr(1, "seen", "2026-03-02 07:00")
	tr(0, "silent", "2026-03-02 09:10")
	tr(1, "back", "2026-03-02 09:25")
	tr(0, "offline", "2026-03-02 10:00") // the device's last will: silent until it is back
	tr(1, "back", "2026-03-02 10:05")
	db.Write(t, "facmon_trans", b.String())

	l := New(storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_trans", Timeout: 30 * time.Second}), Options{Chunk: time.Hour})
	ds, err := l.Load(context.Background(), Request{From: t0, To: t0.Add(3 * time.Hour), Now: t0.Add(24 * time.Hour)}, nil)
	require.NoError(t, err)
	require.Len(t, ds.Devices, 1)
	assert.Equal(t, utcIvs(iv("2026-03-02 09:10", "2026-03-02 09:25"), iv("2026-03-02 10:00", "2026-03-02 10:05")), utcDevice(ds.Devices[0]).Telemetry.Gaps)

	// Transitions that start after the period began, and after facmon
	// began collecting, do not cover it: the readings are scanned instead,
	// and the continuous telemetry has no gap.
	db.Write(t, "facmon_trans", fmt.Sprintf("facmon_heartbeat,instance=f collecting=1i %d\n", t0.Add(-2*time.Hour).UnixNano()))
	ds, err = l.Load(context.Background(), Request{From: t0.Add(-90 * time.Minute), To: t0.Add(3 * time.Hour), Now: t0.Add(24 * time.Hour)}, nil)
	require.NoError(t, err)
	assert.Empty(t, ds.Devices[0].Telemetry.Gaps)
}

// Transitions recorded since facmon's first heartbeat cover a period that
// starts before it (a new installation, a backfill, a report compared with
// a month facmon did not watch): the loader reads them instead of scanning
// every reading, which for a month of a district took minutes.
func TestLoaderTransitionsCoverFromTheFirstHeartbeat(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, "CREATE DATABASE facmon_new")
	t0 := at("2026-03-02 08:00")
	var b strings.Builder
	for tm := t0; tm.Before(t0.Add(3 * time.Hour)); tm = tm.Add(10 * time.Second) {
		fmt.Fprintf(&b, "door,class=door,device=door-1,ward=a seq=1i %d\n", tm.UnixNano())
		if tm.Second() == 0 || tm.Second() == 30 {
			fmt.Fprintf(&b, "facmon_heartbeat,instance=f collecting=1i %d\n", tm.UnixNano())
		}
	}
	// Contradicting the readings, so the test sees which source was used.
	fmt.Fprintf(&b, "device_liveness,class=door,device=door-1,ward=a up=1i,reason=\"seen\" %d\n", t0.Add(3*time.Second).UnixNano())
	fmt.Fprintf(&b, "device_liveness,class=door,device=door-1,ward=a up=0i,reason=\"silent\" %d\n", at("2026-03-02 09:10").UnixNano())
	fmt.Fprintf(&b, "device_liveness,class=door,device=door-1,ward=a up=1i,reason=\"back\" %d\n", at("2026-03-02 09:25").UnixNano())
	db.Write(t, "facmon_new", b.String())
	l := New(storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_new", Timeout: 30 * time.Second}), Options{Chunk: time.Hour})
	ds, err := l.Load(context.Background(), Request{From: t0.Add(-30 * 24 * time.Hour), To: t0.Add(3 * time.Hour), Now: t0.Add(24 * time.Hour)}, nil)
	require.NoError(t, err)
	require.Len(t, ds.Devices, 1)
	assert.Equal(t, utcIvs(iv("2026-03-02 09:10", "2026-03-02 09:25")), utcDevice(ds.Devices[0]).Telemetry.Gaps)
}
