package service

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/service/servicecheck"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// TestConservedWhileStalled: InfluxDB down and the spool full, so acks
// are paused and every source of points waits for room: the devices'
// messages, and facmon's own availability samples (every second here),
// liveness changes, heartbeats and alert events. Stalled, the invariant
// must hold exactly on every scrape (it was off by the points of facmon's
// own that were counted as received while they waited), and pending must
// stay within mqtt.max_inflight; after InfluxDB returns, everything is
// stored and it still holds.
func TestConservedWhileStalled(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	const maxInflight = 300
	r := startService(t, broker, db, func(c *config.Config) {
		c.Spool.MaxBytes = 1 << 20
		c.MQTT.MaxInflight = maxInflight
		c.Liveness.SampleInterval = config.Duration(time.Second)
		c.Influx.MaxRetryInterval = config.Duration(time.Second)
	})
	db.Stop()
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 20, Interval: 20 * time.Millisecond, Pad: 240})
	testenv.Eventually(t, 60*time.Second, "spool full and intake stalled", func() (bool, string) {
		a := servicecheck.MustScrapeMetrics(t, r.web)
		time.Sleep(1500 * time.Millisecond) // longer than the sample interval
		b := servicecheck.MustScrapeMetrics(t, r.web)
		recv := servicecheck.SumMetric(b, "facmon_readings_received_total")
		return b["facmon_spool_full"] == 1 && recv == servicecheck.SumMetric(a, "facmon_readings_received_total"),
			fmt.Sprintf("full %v, received %.0f then %.0f, pending %.0f", b["facmon_spool_full"], servicecheck.SumMetric(a, "facmon_readings_received_total"), recv, b["facmon_ingest_pending_readings"])
	})
	for i := range 6 {
		m := servicecheck.MustScrapeMetrics(t, r.web)
		ok, detail := servicecheck.Conservation(m)
		assert.True(t, ok, "scrape %d while stalled: %s", i, detail)
		assert.LessOrEqual(t, m["facmon_ingest_pending_readings"], float64(maxInflight), "pending within mqtt.max_inflight")
		time.Sleep(500 * time.Millisecond)
	}

	db.Start()
	time.Sleep(2 * time.Second)
	pub.Stop()
	require.Zero(t, pub.Failed.Load())
	servicecheck.WaitAllStored(t, db, r.bucket, pub.Want(), 90*time.Second)
	servicecheck.WaitConserved(t, r.web)
}
