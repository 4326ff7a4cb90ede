package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv/influxdb"
)

func TestQuarantineListAndReplay(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, `CREATE DATABASE q`)
	db.Write(t, "q", "door,class=door,device=door-1,ward=thanh-binh cycles=1i 1795400000000000000\n")
	spool := t.TempDir()
	qfile := filepath.Join(spool, "quarantine.lp")
	require.NoError(t, os.WriteFile(qfile, []byte(
		"# 2026-11-28T07:00:00Z status=400 partial write: field type conflict\n"+
			"door,class=door,device=door-2,ward=thanh-binh cycles=2.5 1795400100000000000\n"+
			"# 2026-11-28T07:00:01Z status=400 partial write: field type conflict\n"+
			"door,class=door,device=door-3,ward=thanh-binh cycles=3.5 1795400100000000000\n"), 0o640))
	flags := []string{"--influx-url", db.URL, "--influx-bucket", "q", "--spool-dir", spool, "--log-level", "error"}

	code, out, _ := runCLI(append([]string{"quarantine", "list"}, flags...)...)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "2 quarantined points")
	assert.Contains(t, out, "       2  status=400 partial write: field type conflict")

	// The cause is not fixed: both are refused again and stay quarantined.
	code, out, errs := runCLI(append([]string{"quarantine", "replay"}, flags...)...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "replayed 2 points")
	assert.Contains(t, out, "2 refused again")
	code, out, _ = runCLI(append([]string{"quarantine", "list"}, flags...)...)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "2 quarantined points")

	// The operator fixes the cause (here: the conflicting series goes).
	db.Exec(t, `DROP DATABASE q`)
	db.Exec(t, `CREATE DATABASE q`)
	code, out, errs = runCLI(append([]string{"quarantine", "replay"}, flags...)...)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "0 refused again")
	rows := db.Query(t, "q", `SELECT cycles FROM door`)
	require.Len(t, rows, 1)
	assert.Len(t, rows[0].Values, 2)
	code, out, _ = runCLI(append([]string{"quarantine", "list"}, flags...)...)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "no quarantined points")
}
