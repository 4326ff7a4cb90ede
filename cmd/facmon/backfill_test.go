package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// The backfill as a user runs it, into the real InfluxDB: the history is
// there, a second run with --if-no-history leaves it alone, and the uptime
// report over it names every ward with an availability.
func TestBackfillGivesTheReportAMonthToShow(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	// After closing time, so the history ends when nobody counts.
	until := "2026-11-30T20:00:00+07:00"
	args := []string{"simulate", "--backfill", "8d", "--until", until, "--influx-url", db.URL, "--influx-bucket", "bf"}
	// --if-no-history on a new installation, whose database does not
	// exist yet: that is no history.
	code, out, errs := runCLI(append(args, "--if-no-history")...)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, errs)
	assert.Contains(t, out, "backfill: writing 8 days of 13 wards")
	assert.Contains(t, out, "backfill: 100%")
	assert.Contains(t, out, "backfill: done")

	for _, m := range []string{"door", "hvac", "server", "camera", "device_status", "device_liveness", "facmon_heartbeat", "scrape"} {
		assert.Positive(t, db.Count("bf", "SELECT count(*) FROM "+m), m)
	}
	rows := db.Query(t, "bf", `SHOW TAG VALUES FROM door WITH KEY = "ward"`)
	require.Len(t, rows, 1)
	assert.Len(t, rows[0].Values, 13, "every ward")
	doors := db.Count("bf", "SELECT count(seq) FROM door")

	code, out, errs = runCLI(append(args, "--if-no-history")...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "backfill skipped: database \"bf\" already holds history")
	assert.Equal(t, doors, db.Count("bf", "SELECT count(seq) FROM door"), "nothing written again")

	code, csv, errs := runCLI("report", "uptime", "--from", "2026-11-23", "--to", "2026-11-30", "--format", "csv", "--lang", "en",
		"--influx-url", db.URL, "--influx-bucket", "bf")
	require.Equal(t, 0, code, errs)
	for _, ward := range []string{"Thanh Bình", "Thuận Phước", "Thạch Thang"} {
		assert.Contains(t, csv, ward)
	}
	// Columns: availability is the 5th, unknown the 14th.
	var faulted, clean int
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		col := strings.Split(line, ",")
		require.Len(t, col, 19, line)
		assert.Equal(t, "0.0", col[13], "no unknown time inside the history: %s", line)
		if col[4] == "100.00" {
			clean++
		} else {
			faulted++
		}
	}
	assert.Positive(t, faulted, "the planned faults show in the report:\n%s", csv)
	assert.Greater(t, clean, faulted, "most devices were fine:\n%s", csv)
}

func TestBackfillFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--backfill", "soon"}, `--backfill "soon": want a positive duration`},
		{[]string{"--backfill", "1d", "--until", "yesterday"}, `--until "yesterday": want an RFC 3339 time`},
		{[]string{"--backfill", "1d", "--interval", "0s"}, "--interval 0s: want 1s to 1h"},
		{[]string{"--backfill", "1d", "--fault", "ward-outage@thanh-binh"}, "--backfill plans its own faults"},
		{[]string{"--until", time.Now().Format(time.RFC3339)}, "--until: only with --backfill"},
		{[]string{"--influx-url", "http://127.0.0.1:1"}, "--influx-url: only with --backfill"},
	} {
		code, _, errs := runCLI(append([]string{"simulate"}, tc.args...)...)
		assert.Equal(t, 2, code, tc.args)
		assert.Contains(t, errs, tc.want, tc.args)
	}
}
