package service

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/duration"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/reports"
)

// A device that fell silent while facmon was stopped is down after the
// start from its last reading, as the live path records it: the new
// process reads that reading from InfluxDB. Before, the device was unknown
// to the new process until its next reading and its silence went
// unrecorded. The reading has no seq (it is optional in a payload).
func TestSilenceAcrossARestartIsRecordedFromTheLastReading(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := testenv.StartInfluxDB(t, testenv.WithoutFlux())
	const hb = 10 * time.Second
	withHB := func(c *config.Config) { c.Liveness.Heartbeat["door"] = duration.Duration(hb) }
	first := startService(t, broker, db, withHB)
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-1/telemetry", false, `{"state":"closed","cycles":12}`)
	testenv.Eventually(t, 20*time.Second, "door-1 stored and recorded seen", func() (bool, string) {
		n := count(t, db, first.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1'`)
		return n == 1, fmt.Sprintf("%d transitions", n)
	})
	first.stop()
	rows := db.Query(t, first.bucket, `SELECT last(cycles) FROM door WHERE device = 'door-1'`)
	require.Len(t, rows, 1)
	lastNs, _ := testenv.AsInt64(rows[0].Values[0][0])
	last := time.Unix(0, lastNs)
	require.Equal(t, int64(1), count(t, db, first.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1'`),
		"stopped within door-1's heartbeat: no down recorded before the stop")

	// The silence begins (last + heartbeat) while facmon is stopped.
	time.Sleep(time.Until(last.Add(hb + time.Second)))
	second := startService(t, broker, db, withHB)
	var downAt time.Time
	testenv.Eventually(t, 40*time.Second, "door-1 recorded down after the restart", func() (bool, string) {
		rows, err := db.QueryErr(context.Background(), second.bucket, `SELECT up, reason FROM device_liveness WHERE device = 'door-1' AND up = 0`)
		if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
			return false, fmt.Sprintf("no down transition (%v)", err)
		}
		ns, _ := testenv.AsInt64(rows[0].Values[0][0])
		downAt = time.Unix(0, ns)
		return true, ""
	})
	assert.True(t, downAt.Equal(last), "down at %s, want its last reading %s", downAt, last)
	assert.Equal(t, int64(1), count(t, db, second.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1' AND up = 0`), "recorded down once")
	assert.Equal(t, float64(0), metric(t, second.web, "facmon_liveness_seed_errors_total"))

	// The report counts door-1 down from its last reading.
	cfg := second.svc.cfg
	q := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: second.bucket, Timeout: 30 * time.Second})
	now := time.Now()
	from := last.Add(-time.Minute)
	ds, err := reports.NewLoader(q, reports.LoaderOptions{Fields: seedFields(cfg.Profiles)}).
		Load(context.Background(), reports.LoadRequest{From: from, To: now, Now: now, MinHeartbeat: hb, MaxHeartbeat: hb}, nil)
	require.NoError(t, err)
	rep, err := reports.Build(ds, reports.Period{From: from, To: now}, reports.Settings{AlwaysOpen: true, Heartbeat: cfg.Liveness.HeartbeatOf})
	require.NoError(t, err)
	var found bool
	for _, d := range rep.Devices {
		if d.Device != "door-1" {
			continue
		}
		found = true
		t.Logf("door-1 in the report: %+v", d.Cur)
		assert.Zero(t, d.Cur.Up, "no time up: silent from its only reading")
		assert.Equal(t, now.Sub(last), d.Cur.Down+d.Cur.Unknown, "down (or facmon not collecting) from its last reading to now")
		assert.Greater(t, d.Cur.Down, hb, "down across the restart")
	}
	assert.True(t, found, "door-1 is in the report")
}
