package liveness

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
)

// A device silent since before facmon stopped is down from its last
// reading after the restart, not up and not forgotten: the transition is
// recorded at the last reading, once, after the first heartbeat.
func TestSeededSilenceIsDownFromTheLastReading(t *testing.T) {
	hb := func(string, string, string) time.Duration { return time.Minute }
	start := t0.Add(3 * time.Hour)
	last := t0.Add(time.Hour) // silent two hours before the start
	k := Key{"thanh-binh", "door", "door-1"}
	back := Key{"thanh-binh", "door", "door-2"}
	gone := Key{"nam-duong", "camera", "camera-1"}
	tr := New(hb, start)
	tr.Seed([]Seed{
		{Key: k, LastSeen: last, Recorded: true, RecordedUp: true},
		{Key: back, LastSeen: last, Recorded: true, RecordedUp: true},
		{Key: gone, LastSeen: t0, Recorded: true, RecordedUp: false}, // already recorded down
	})
	// The broker's backlog of door-2 arrives in the first seconds.
	tr.Observe(telemetry(back.Ward, back.Class, back.Device, start.Add(2*time.Second)))
	tr.Observe(telemetry(back.Ward, back.Class, back.Device, start.Add(90*time.Second)))

	v := tr.Judge(k, start.Add(10*time.Second))
	assert.True(t, v.Unknown, "not judged up in the first heartbeat: %+v", v)
	assert.Empty(t, tr.Changes(start.Add(10*time.Second)), "nothing recorded in the first heartbeat")
	for _, r := range tr.Samples(start.Add(10 * time.Second)) {
		assert.NotEqual(t, k.Device, r.Device, "no availability sample claims door-1 up")
	}

	v = tr.Judge(k, start.Add(2*time.Minute))
	assert.Equal(t, Verdict{Up: false, Since: last, Reason: "silent"}, v)
	ch := tr.Changes(start.Add(2 * time.Minute))
	for _, c := range ch {
		t.Logf("change %s %s %v", c.Device, c.Time, c.Fields)
	}
	require.Len(t, ch, 1, "door-1 down; door-2 still up as recorded; camera-1 recorded down already")
	assert.Equal(t, k.Device, ch[0].Device)
	assert.True(t, ch[0].Time.Equal(last), "down from its last reading (%s), not from the restart", ch[0].Time)
	assert.Equal(t, int64(0), ch[0].Fields[0].Int)
}

// What the tracker saw since start-up wins over an older seed.
func TestSeedKeepsNewerObservations(t *testing.T) {
	tr := New(func(string, string, string) time.Duration { return time.Minute }, t0)
	k := Key{"a", "door", "d"}
	tr.Observe(telemetry(k.Ward, k.Class, k.Device, t0.Add(time.Second)))
	tr.Observe(status(k.Ward, k.Class, k.Device, 1, t0.Add(time.Second)))
	tr.Seed([]Seed{{Key: k, LastSeen: t0.Add(-time.Hour), StatusKnown: true, StatusUp: false, StatusAt: t0.Add(-time.Hour)}})
	s := tr.Snapshot()[0]
	assert.True(t, s.LastSeen.Equal(t0.Add(time.Second)))
	assert.True(t, s.StatusUp)
}

// LoadSeeds against a real InfluxDB 1.8: the last reading, status and
// transition of each device within the lookback.
func TestLoadSeedsFromInfluxDB(t *testing.T) {
	db := influxdb.Start(t)
	now := time.Now().Truncate(time.Second)
	ns := func(d time.Duration) int64 { return now.Add(-d).UnixNano() }
	lines := []string{
		fmt.Sprintf(`door,ward=thanh-binh,class=door,device=door-1 seq=1i,state="open" %d`, ns(3*time.Hour)),
		fmt.Sprintf(`door,ward=thanh-binh,class=door,device=door-1 seq=2i,state="closed" %d`, ns(2*time.Hour)),
		fmt.Sprintf(`device_status,ward=thanh-binh,class=door,device=door-1 up=1i %d`, ns(4*time.Hour)),
		fmt.Sprintf(`device_liveness,ward=thanh-binh,class=door,device=door-1 up=1i,reason="seen" %d`, ns(4*time.Hour)),
		fmt.Sprintf(`camera,ward=nam-duong,class=camera,device=camera-1 seq=9i %d`, ns(30*24*time.Hour)), // beyond the lookback
		fmt.Sprintf(`camera,ward=nam-duong,class=camera,device=camera-2 seq=3i %d`, ns(time.Hour)),
		fmt.Sprintf(`device_liveness,ward=nam-duong,class=camera,device=camera-2 up=0i,reason="silent" %d`, ns(50*time.Minute)),
	}
	db.Exec(t, "CREATE DATABASE facmon")
	db.Write(t, "facmon", strings.Join(lines, "\n"))
	q := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon", Timeout: 10 * time.Second})
	seeds, err := LoadSeeds(context.Background(), q, map[string][]string{"door": {"state", "seq"}, "hvac": {"temp_c"}, "camera": {"seq", "fps"}}, 14*24*time.Hour, now)
	require.NoError(t, err)
	by := map[string]Seed{}
	for _, s := range seeds {
		by[s.Device] = s
	}
	require.Len(t, by, 2, "camera-1 is older than the lookback: %v", seeds)
	d := by["door-1"]
	assert.True(t, d.LastSeen.Equal(now.Add(-2*time.Hour)), "%s", d.LastSeen)
	assert.True(t, d.StatusKnown && d.StatusUp)
	assert.True(t, d.Recorded && d.RecordedUp)
	assert.True(t, d.RecordedAt.Equal(now.Add(-4*time.Hour)), "%s", d.RecordedAt)
	c := by["camera-2"]
	assert.True(t, c.Recorded && !c.RecordedUp)
	assert.False(t, c.StatusKnown)
}

// A seed that arrives late (InfluxDB was down at the start) and says the
// device was recorded down: the device, heard from since the start, came
// back at its first reading here, not at its latest.
func TestLateSeedOfARecordedDownGivesTheFirstReadingBack(t *testing.T) {
	tr := New(func(string, string, string) time.Duration { return time.Minute }, t0)
	k := Key{"a", "door", "d"}
	first := t0.Add(5 * time.Second)
	for i := range 5 {
		tr.Observe(telemetry(k.Ward, k.Class, k.Device, first.Add(time.Duration(i)*10*time.Second)))
	}
	tr.Seed([]Seed{{Key: k, LastSeen: t0.Add(-time.Hour), Recorded: true, RecordedUp: false}})
	ch := tr.Changes(t0.Add(90 * time.Second))
	require.Len(t, ch, 1)
	assert.Equal(t, int64(1), ch[0].Fields[0].Int)
	assert.True(t, ch[0].Time.Equal(first), "back at %s, want its first reading %s", ch[0].Time, first)
	assert.Equal(t, "back", ch[0].Fields[1].Str)
}

// A seeded device whose last transition ("seen") is at its last reading is
// recorded down just after it, not on top of it: one timestamp would make
// the two one point in InfluxDB.
func TestSeededDownIsDatedAfterTheSeededTransition(t *testing.T) {
	tr := New(func(string, string, string) time.Duration { return time.Minute }, t0)
	k := Key{"a", "door", "d"}
	last := t0.Add(-30 * time.Second)
	tr.Seed([]Seed{{Key: k, LastSeen: last, Recorded: true, RecordedUp: true, RecordedAt: last}})
	ch := tr.Changes(t0.Add(2 * time.Minute))
	require.Len(t, ch, 1)
	assert.Equal(t, int64(0), ch[0].Fields[0].Int)
	assert.True(t, ch[0].Time.Equal(last.Add(time.Nanosecond)), "%s", ch[0].Time)
}
