package service

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// A flood of new ids at an office without an inventory is refused past
// ingest.max_devices_per_office and raises DeviceLimitReached, while the
// device facmon stored before a restart keeps its place: the new process
// learns it from InfluxDB (the liveness seed) before the flood's ids
// could take it.
func TestDeviceLimitRefusesAFloodAndKeepsStoredDevicesAcrossARestart(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	limit := func(c *config.Config) { c.Ingest.MaxDevicesPerOffice = 1 }
	first := startService(t, broker, db, limit)
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-1/telemetry", false, `{"state":"closed","cycles":12}`)
	testenv.Eventually(t, 30*time.Second, "door-1 stored", func() (bool, string) {
		n := count(t, db, first.bucket, `SELECT count(cycles) FROM door WHERE device = 'door-1'`)
		return n == 1, fmt.Sprintf("%d points", n)
	})
	first.stop()

	second := startService(t, broker, db, limit)
	testenv.Eventually(t, 30*time.Second, "door-1 known from the seed", func() (bool, string) {
		n := metric(t, second.web, "facmon_mqtt_devices")
		return n == 1, fmt.Sprintf("%v devices", n)
	})
	var flood []string
	for i := range 20 {
		flood = append(flood, fmt.Sprintf("facmon/thanh-binh/door/fake-%02d/telemetry", i))
	}
	for _, topic := range flood {
		mosquittoPub(t, broker, topic, false, `{"state":"open"}`)
	}
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-1/telemetry", false, `{"state":"open","cycles":13}`)
	testenv.Eventually(t, 30*time.Second, "door-1's new reading stored", func() (bool, string) {
		n := count(t, db, second.bucket, `SELECT count(cycles) FROM door WHERE device = 'door-1'`)
		return n == 2, fmt.Sprintf("%d points", n)
	})
	assert.Equal(t, float64(len(flood)), metric(t, second.web, `facmon_readings_rejected_total{reason="device_limit"}`))
	assert.Zero(t, count(t, db, second.bucket, `SELECT count(state) FROM door WHERE device =~ /^fake-/`), "no flood id stored")
	assert.Equal(t, float64(1), metric(t, second.web, "facmon_mqtt_devices"))
	testenv.Eventually(t, 10*time.Second, "DeviceLimitReached firing", func() (bool, string) {
		_, body := get(t, second.web+"/api/alerts?rule=DeviceLimitReached&state=firing")
		return strings.Contains(body, `"DeviceLimitReached"`), body
	})
}
