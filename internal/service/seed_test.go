package service

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/duration"
	"github.com/facmon/facmon/internal/testenv"
)

// A device that fell silent just before facmon stopped is still silent
// after the start: facmon reads its last reading from InfluxDB and records
// it down from then, which before it never did (the device was unknown to
// the new process, so the report counted its silence as up).
func TestSilenceAcrossARestartIsRecordedFromTheLastReading(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := testenv.StartInfluxDB(t)
	hb := func(c *config.Config) { c.Liveness.Heartbeat["door"] = duration.Duration(6 * time.Second) }
	first := startService(t, broker, db, hb)
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-1/telemetry", false, `{"state":"closed","cycles":12}`)
	testenv.Eventually(t, 20*time.Second, "door-1 stored and seen", func() (bool, string) {
		return count(t, db, first.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1'`) == 1, ""
	})
	first.stop() // within door-1's heartbeat: its silence is not recorded yet
	rows := db.Query(t, first.bucket, `SELECT last(cycles) FROM door WHERE device = 'door-1'`)
	require.Len(t, rows, 1)
	lastNs, _ := testenv.AsInt64(rows[0].Values[0][0])
	last := time.Unix(0, lastNs)
	require.Equal(t, int64(1), count(t, db, first.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1'`), "no down recorded before the stop")

	time.Sleep(7 * time.Second) // facmon stopped for longer than the heartbeat
	second := startService(t, broker, db, hb)
	testenv.Eventually(t, 40*time.Second, "door-1 recorded down after the restart", func() (bool, string) {
		rows, err := db.QueryErr(context.Background(), second.bucket, `SELECT up, reason FROM device_liveness WHERE device = 'door-1' AND up = 0`)
		if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
			return false, "no down transition"
		}
		ns, _ := testenv.AsInt64(rows[0].Values[0][0])
		at := time.Unix(0, ns)
		return at.Equal(last), "down at " + at.String() + ", last reading " + last.String()
	})
	assert.Equal(t, float64(0), metric(t, second.web, "facmon_liveness_seed_errors_total"))
}
