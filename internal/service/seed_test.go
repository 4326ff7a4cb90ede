package service

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/duration"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/loader"
)

// A device that fell silent while facmon was stopped is down after the
// start from its last reading, as the live path records it: the new
// process reads that reading from InfluxDB. Before, the device was unknown
// to the new process until its next reading and its silence went
// unrecorded. One stopped after the heartbeat ran out was recorded down
// by the old process and is not recorded again. The reading has no seq
// (it is optional in a payload).
func TestSilenceAcrossARestartIsRecordedFromTheLastReading(t *testing.T) {
	for _, tc := range []struct {
		name      string
		stopAfter bool // stop once the old process recorded the silence
	}{
		{"stopped within the heartbeat", false},
		{"stopped after the heartbeat", true},
	} {
		t.Run(tc.name, func(t *testing.T) { testSilenceAcrossARestart(t, tc.stopAfter) })
	}
}

func testSilenceAcrossARestart(t *testing.T, stopAfter bool) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	const hb = 10 * time.Second
	withHB := func(c *config.Config) { c.Liveness.Heartbeat["door"] = duration.Duration(hb) }
	first := startService(t, broker, db, withHB)
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-1/telemetry", false, `{"state":"closed","cycles":12}`)
	want := int64(1) // "seen"
	if stopAfter {
		want = 2 // and "silent"
	}
	testenv.Eventually(t, 40*time.Second, "door-1 stored and its transitions recorded", func() (bool, string) {
		n := count(t, db, first.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1'`)
		return n == want, fmt.Sprintf("%d transitions, want %d", n, want)
	})
	first.stop()
	rows := db.Query(t, first.bucket, `SELECT last(cycles) FROM door WHERE device = 'door-1'`)
	require.Len(t, rows, 1)
	lastNs, _ := influxdb.AsInt64(rows[0].Values[0][0])
	last := time.Unix(0, lastNs)
	require.Equal(t, want, count(t, db, first.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1'`),
		"what the old process recorded before the stop")

	// The silence begins (last + heartbeat) while facmon is stopped, or
	// before the stop.
	time.Sleep(time.Until(last.Add(hb + time.Second)))
	restart := time.Now()
	second := startService(t, broker, db, withHB)
	var downAt time.Time
	testenv.Eventually(t, 40*time.Second, "door-1 recorded down after the restart", func() (bool, string) {
		rows, err := db.QueryErr(context.Background(), second.bucket, `SELECT up, reason FROM device_liveness WHERE device = 'door-1' AND up = 0`)
		if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
			return false, fmt.Sprintf("no down transition (%v)", err)
		}
		ns, _ := influxdb.AsInt64(rows[0].Values[0][0])
		downAt = time.Unix(0, ns)
		return true, ""
	})
	// Just after the last reading: its "seen" transition has the
	// reading's own time.
	assert.True(t, downAt.Equal(last.Add(time.Nanosecond)), "down at %s, want just after its last reading %s", downAt, last)
	// Past the new process's first heartbeat and a round of its changes.
	time.Sleep(time.Until(restart.Add(hb + 7*time.Second)))
	assert.Equal(t, int64(1), count(t, db, second.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-1' AND up = 0`), "recorded down once")
	assert.Equal(t, float64(0), metric(t, second.web, "facmon_liveness_seed_errors_total"))

	// The report counts door-1 down from its last reading.
	cfg := second.svc.cfg
	q := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: second.bucket, Timeout: 30 * time.Second})
	now := time.Now()
	from := last.Add(-time.Minute)
	ds, err := loader.New(q, loader.Options{Fields: seedFields(cfg.Profiles)}).
		Load(context.Background(), loader.Request{From: from, To: now, Now: now, MinHeartbeat: hb, MaxHeartbeat: hb}, nil)
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

// InfluxDB is down when facmon starts: facmon runs and takes readings
// (into the spool), asks again until InfluxDB answers, then seeds. The
// device silent since before the start is recorded down from its last
// reading; the one that reported since the start is not called down by
// its older seed.
func TestSeedWaitsForInfluxDBWithoutHoldingIngest(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	const hb = 10 * time.Second
	withHB := func(c *config.Config) { c.Liveness.Heartbeat["door"] = duration.Duration(hb) }
	first := startService(t, broker, db, withHB)
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-1/telemetry", false, `{"state":"closed","cycles":12}`)
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-2/telemetry", false, `{"state":"open","cycles":3}`)
	testenv.Eventually(t, 20*time.Second, "both doors recorded seen", func() (bool, string) {
		n := count(t, db, first.bucket, `SELECT count(up) FROM device_liveness`)
		return n == 2, fmt.Sprintf("%d transitions", n)
	})
	first.stop()
	rows := db.Query(t, first.bucket, `SELECT last(cycles) FROM door WHERE device = 'door-1'`)
	require.Len(t, rows, 1)
	lastNs, _ := influxdb.AsInt64(rows[0].Values[0][0])
	last := time.Unix(0, lastNs)

	db.Stop()
	second := launchService(t, broker, db, withHB, false)
	// door-2 keeps reporting from the start on; door-1 stays silent.
	pubCtx, stopPub := context.WithCancel(context.Background())
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		for i := 0; pubCtx.Err() == nil; i++ {
			_ = exec.CommandContext(pubCtx, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(broker.Port), "-q", "1",
				"-t", "facmon/thanh-binh/door/door-2/telemetry", "-m", fmt.Sprintf(`{"cycles":%d}`, 4+i)).Run()
			select {
			case <-pubCtx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}()
	t.Cleanup(func() { stopPub(); <-pubDone })
	testenv.Eventually(t, 30*time.Second, "seed attempts fail while InfluxDB is down", func() (bool, string) {
		n := metric(t, second.web, "facmon_liveness_seed_errors_total")
		return n >= 2, fmt.Sprintf("%v errors", n)
	})
	// Ingest went on meanwhile: door-2's readings are taken (spooled).
	testenv.Eventually(t, 30*time.Second, "door-2's readings taken while InfluxDB is down", func() (bool, string) {
		n := metric(t, second.web, `facmon_readings_received_total{source="mqtt"}`)
		return n >= 3, fmt.Sprintf("%v received", n)
	})

	db.Start()
	testenv.Eventually(t, 90*time.Second, "door-1 recorded down once InfluxDB answers", func() (bool, string) {
		rows, err := db.QueryErr(context.Background(), second.bucket, `SELECT up, reason FROM device_liveness WHERE device = 'door-1' AND up = 0`)
		if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
			return false, fmt.Sprintf("no down transition (%v)", err)
		}
		ns, _ := influxdb.AsInt64(rows[0].Values[0][0])
		return time.Unix(0, ns).Equal(last.Add(time.Nanosecond)), fmt.Sprintf("down at %s, want just after its last reading %s", time.Unix(0, ns), last)
	})
	assert.Zero(t, count(t, db, second.bucket, `SELECT count(up) FROM device_liveness WHERE device = 'door-2' AND up = 0`),
		"door-2 reported since the start: its older seed does not call it down")
}
