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

func TestCombineFields(t *testing.T) {
	ts := func(s string) time.Time { return at("2026-03-02 " + s) }
	cases := []struct {
		name  string
		spans []fieldSpan
		want  chunkSummary
	}{
		{"one field keeps its gaps", []fieldSpan{{ts("08:00"), ts("09:00"), []reports.Interval{iv("2026-03-02 08:10", "2026-03-02 08:20")}}},
			chunkSummary{ts("08:00"), ts("09:00"), []reports.Interval{iv("2026-03-02 08:10", "2026-03-02 08:20")}}},
		{"a field's gap filled by another is no silence", []fieldSpan{
			{ts("08:00"), ts("08:30"), nil},
			{ts("08:29:50"), ts("09:00"), nil},
		}, chunkSummary{first: ts("08:00"), last: ts("09:00")}},
		{"a silence of every field", []fieldSpan{
			{ts("08:00"), ts("09:00"), []reports.Interval{iv("2026-03-02 08:10", "2026-03-02 08:40")}},
			{ts("08:05"), ts("08:50"), []reports.Interval{iv("2026-03-02 08:12", "2026-03-02 08:30")}},
		}, chunkSummary{ts("08:00"), ts("09:00"), []reports.Interval{iv("2026-03-02 08:12", "2026-03-02 08:30")}}},
		{"fields end and start apart", []fieldSpan{
			{ts("08:00"), ts("08:20"), nil},
			{},
			{ts("08:45"), ts("09:00"), nil},
		}, chunkSummary{ts("08:00"), ts("09:00"), []reports.Interval{iv("2026-03-02 08:20", "2026-03-02 08:45")}}},
		{"a short silence between fields is not kept", []fieldSpan{
			{ts("08:00"), ts("08:20"), nil},
			{ts("08:20:30"), ts("09:00"), nil},
		}, chunkSummary{first: ts("08:00"), last: ts("09:00")}},
		{"nothing", []fieldSpan{{}, {}}, chunkSummary{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, combineFields(tc.spans, time.Minute))
		})
	}
}

// Readings without seq (it is optional in a payload), each with only some
// of the profile's fields, are the device's readings all the same: its
// edges and silences come from whichever field each reading has. Read with
// seq only, this device was absent from the report.
func TestLoaderCountsReadingsWithoutSeq(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, "CREATE DATABASE facmon_noseq")
	t0 := at("2026-03-02 08:00")
	var b strings.Builder
	for tm := t0.Add(-time.Hour); tm.Before(t0.Add(3*time.Hour + time.Minute)); tm = tm.Add(10 * time.Second) {
		switch {
		case !tm.Before(at("2026-03-02 09:00")) && tm.Before(at("2026-03-02 09:20")):
			// silent
		case tm.Before(at("2026-03-02 08:30")) || tm.After(at("2026-03-02 10:00")):
			fmt.Fprintf(&b, "door,class=door,device=door-1,ward=a state=\"closed\" %d\n", tm.UnixNano())
		default:
			fmt.Fprintf(&b, "door,class=door,device=door-1,ward=a cycles=12i %d\n", tm.UnixNano())
		}
		if tm.Second() == 0 || tm.Second() == 30 {
			fmt.Fprintf(&b, "facmon_heartbeat,instance=f collecting=1i %d\n", tm.UnixNano())
		}
	}
	// A device that did send seq once, among readings without it.
	fmt.Fprintf(&b, "door,class=door,device=door-2,ward=a seq=1i,cycles=1i %d\n", t0.Add(time.Hour).UnixNano())
	db.Write(t, "facmon_noseq", b.String())

	l := New(storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_noseq", Timeout: 30 * time.Second}),
		Options{Chunk: time.Hour, Classes: []string{"door"}, Fields: map[string][]string{"door": {"cycles", "state"}}})
	ds, err := l.Load(context.Background(), Request{From: t0, To: t0.Add(3 * time.Hour), Now: t0.Add(24 * time.Hour)}, nil)
	require.NoError(t, err)
	require.Len(t, ds.Devices, 2)
	d := utcDevice(ds.Devices[0])
	assert.Equal(t, "door-1", d.Device)
	assert.Equal(t, t0.Add(-10*time.Second).UTC(), d.Telemetry.Before)
	assert.Equal(t, t0.UTC(), d.Telemetry.First)
	assert.Equal(t, t0.Add(3*time.Hour-10*time.Second).UTC(), d.Telemetry.Last)
	assert.Equal(t, t0.Add(3*time.Hour).UTC(), d.Telemetry.After)
	assert.Equal(t, utcIvs(iv("2026-03-02 08:59:50", "2026-03-02 09:20")), d.Telemetry.Gaps,
		"the one silence of the device, not each field's")
	assert.Equal(t, t0.Add(time.Hour).UTC(), utcDevice(ds.Devices[1]).Telemetry.First)
}
