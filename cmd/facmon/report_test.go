package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// reportCLI runs cmdReport as `facmon report …` would, with the exit code
// that run gives its error.
func reportCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	err := cmdReport(context.Background(), args, &out, &errb)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK, out.String(), errb.String()
	case errors.As(err, new(usageError)):
		return exitUsage, out.String(), err.Error()
	default:
		return exitRuntime, out.String(), err.Error()
	}
}

// writeWeek stores a week of the two doors of Thanh Bình, one reading a
// minute, facmon's heartbeat every 30 s, and one outage of door-2 on
// Tuesday 3 March 2026: no reading from 09:00 to 10:00, so it is down
// from its last reading at 08:59 (61 minutes).
func writeWeek(t *testing.T, db *influxdb.Server, name string) {
	t.Helper()
	db.Exec(t, "CREATE DATABASE "+name)
	// the data runs a day past the week, as it would in production
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600)), time.Date(2026, 3, 10, 0, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	outage := [2]time.Time{from.Add(2*24*time.Hour + 9*time.Hour), from.Add(2*24*time.Hour + 10*time.Hour)}
	var b strings.Builder
	n := 0
	flush := func() {
		db.Write(t, name, b.String())
		b.Reset()
		n = 0
	}
	for ts := from; ts.Before(to); ts = ts.Add(30 * time.Second) {
		fmt.Fprintf(&b, "facmon_heartbeat,instance=test collecting=1i %d\n", ts.UnixNano())
		if ts.Second() == 0 {
			fmt.Fprintf(&b, "door,class=door,device=door-1,ward=thanh-binh seq=1i %d\n", ts.UnixNano())
			if ts.Before(outage[0]) || !ts.Before(outage[1]) {
				fmt.Fprintf(&b, "door,class=door,device=door-2,ward=thanh-binh seq=1i %d\n", ts.UnixNano())
			}
		}
		if n++; n == 5000 {
			flush()
		}
	}
	flush()
}

func TestReportUptimeCommand(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	writeWeek(t, db, "facmon_report")
	dir := t.TempDir()
	common := []string{"--influx-url", db.URL, "--influx-bucket", "facmon_report", "--from", "2026-03-02", "--to", "2026-03-08"}

	// XLSX in English, from the file name.
	xlsx := filepath.Join(dir, "week.xlsx")
	code, out, errs := reportCLI(append([]string{"uptime", "-o", xlsx, "--lang", "en"}, common...)...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, xlsx+": xlsx uptime report")
	f, err := excelize.OpenFile(xlsx)
	require.NoError(t, err)
	rows, err := f.GetRows("By device")
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, []string{"thanh-binh", "Thanh Bình", "Automatic doors", "door-2", "97.55"}, rows[2][:5], "61 of 5 × 450 + 240 office minutes down: 1 − 61/2490")
	assert.Equal(t, "61.0", rows[2][10])
	assert.Equal(t, "100.00", rows[1][4])
	f.Close()

	// CSV to stdout, around the clock.
	code, out, errs = reportCLI(append([]string{"uptime", "--format", "csv", "--sla-24x7"}, common...)...)
	require.Equal(t, 0, code, errs)
	assert.True(t, strings.HasPrefix(out, "\ufeffMã phường,Phường,Loại thiết bị"), out)
	assert.Contains(t, out, "thanh-binh,Thanh Bình,Cửa tự động,door-2,99.39,99.00,Đạt,", "61 of 7 × 1440 minutes")
	assert.Contains(t, out, "thanh-binh,Thanh Bình,Cửa tự động,door-1,100.00,99.00,Đạt,")

	// HTML of one ward, in Vietnamese by default.
	html := filepath.Join(dir, "thanh-binh.html")
	code, _, errs = reportCLI(append([]string{"uptime", "-o", html, "--ward", "thanh-binh"}, common...)...)
	require.Equal(t, 0, code, errs)
	page, err := os.ReadFile(html)
	require.NoError(t, err)
	assert.Contains(t, string(page), "từ 02/03/2026 đến hết 08/03/2026")
	assert.Contains(t, string(page), "03/03/2026 08:59")
	assert.Contains(t, string(page), "Tỷ lệ sẵn sàng của phường")

	// Usage errors: exit code 2, and no file left behind.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"uptime", "--to", "2026-03-08"}, "--from DATE and --to DATE are required"},
		{[]string{"uptime", "--from", "2026-03-08", "--to", "2026-03-01"}, "before it starts"},
		{[]string{"uptime", "--from", "2026-03-01", "--to", "2026-03-08", "--ward", "son-tra"}, `unknown ward "son-tra"`},
		{[]string{"uptime", "--from", "2026-03-01", "--to", "2026-03-08", "--lang", "fr"}, `unknown language "fr"`},
		{[]string{"uptime", "--from", "2026-03-01", "--to", "2026-03-08", "--format", "pdf"}, `unknown format "pdf"`},
		{[]string{"uptime", "--from", "2026-03-01", "--to", "2026-03-08", "--config", "testdata/bad.yaml"}, "bukket"},
		{[]string{"downtime"}, "want: facmon report uptime"},
	} {
		code, _, errs := reportCLI(c.args...)
		assert.Equal(t, exitUsage, code, c.args)
		assert.Contains(t, errs, c.want, c.args)
	}
	code, out, _ = reportCLI("--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Usage: facmon report uptime")
	code, out, _ = reportCLI("uptime", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "-sla-24x7")

	// InfluxDB unreachable: a runtime failure, and no file.
	missing := filepath.Join(dir, "missing.html")
	code, _, errs = reportCLI("uptime", "-o", missing, "--influx-url", "http://127.0.0.1:1", "--from", "2026-03-02", "--to", "2026-03-08")
	assert.Equal(t, exitRuntime, code)
	assert.Contains(t, errs, "connection refused")
	_, err = os.Stat(missing)
	assert.True(t, os.IsNotExist(err), "a failed report leaves no file")
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"week.xlsx", "thanh-binh.html"}, names, "no temporary file left")
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	p := &progressBar{w: &b}
	p.update(0, 4)
	p.update(1, 4)
	p.update(4, 4)
	p.clear()
	assert.Equal(t, "\r[░░░░░░░░░░░░░░░░░░░░░░░░░░░░░░]   0 %  0/4 queries"+
		"\r[███████░░░░░░░░░░░░░░░░░░░░░░░]  25 %  1/4 queries"+
		"\r[██████████████████████████████] 100 %  4/4 queries\r\033[K", b.String())
}
