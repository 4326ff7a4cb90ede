package main

// Two facmon processes share the district (mqtt.shared_group) against a
// real Mosquitto, InfluxDB 1.8.3 and Alertmanager. One is SIGKILLed
// mid-stream and restarted: every seq is stored, the derived points are
// written once, the fault published once reaches the receiver once, and
// the wards move to the survivor and back (read from each /metrics).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/service/servicecheck"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/alertmanager"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// groupMember is one instance of the group: its own client id (so its
// own persistent session), spool and alert state, the bucket shared.
func groupMember(t *testing.T, bin string, broker *testenv.Broker, db *influxdb.Server, bucket, name, amURL string) facmonSetup {
	t.Helper()
	dir := t.TempDir()
	s := facmonSetup{
		bin: bin, config: filepath.Join(dir, "facmon.yaml"), spoolDir: filepath.Join(dir, "spool"),
		mqttURL: broker.URL, influxURL: db.URL, bucket: bucket, clientID: name,
		args: []string{"--mqtt-client-id", name, "--shared-group", "district"},
	}
	yaml := fmt.Sprintf(`log: {level: info, format: text}
mqtt:
  client_id: facmon-unused
  keepalive: 4s
  max_reconnect_interval: 1s
influx: {max_retry_interval: 1s}
liveness:
  heartbeat: {door: 1m, hvac: 1m, server: 1m, camera: 1m, app: 1m}
  sample_interval: 10s
alerts:
  eval_interval: 200ms
  notifiers:
    alertmanager: {urls: [%s]}
    batch_wait: 50ms
    repost_interval: 2s
  rules:
    - name: DoorFault
      kind: threshold
      severity: critical
      class: door
      field: fault
      op: ">"
      value: 0
      summary_vi: "Cửa tự động {{.Device}} tại {{.WardName}} báo lỗi mã {{.Value}}"
      summary_en: "Automatic door {{.Device}} at {{.WardName}} reports fault code {{.Value}}"
`, amURL)
	require.NoError(t, os.WriteFile(s.config, []byte(yaml), 0o600))
	return s
}

func wardsOwned(t *testing.T, p *facmonProc) float64 {
	t.Helper()
	m, err := servicecheck.ScrapeMetrics(p.web)
	if err != nil {
		return -1
	}
	return m["facmon_wards_owned"]
}

func TestSharedGroupKillAndRestart(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	receiver := alertmanager.WebhookReceiver(t)
	am := alertmanager.Start(t, receiver.URL, alertmanager.WithTimings(0, time.Second, time.Hour))
	bin := buildFacmon(t)
	const bucket = "group"
	a := groupMember(t, bin, broker, db, bucket, "facmon-a", am.URL)
	b := groupMember(t, bin, broker, db, bucket, "facmon-b", am.URL)
	pa, pb := a.start(t), b.start(t)
	nWards := float64(len(wardIDs()))

	testenv.Eventually(t, 20*time.Second, "the wards shared between the two", func() (bool, string) {
		oa, ob := wardsOwned(t, pa), wardsOwned(t, pb)
		return oa > 0 && ob > 0 && oa+ob == nWards, fmt.Sprintf("a owns %v, b owns %v of %v", oa, ob, nWards)
	})
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 40, Interval: 100 * time.Millisecond})
	testenv.Eventually(t, 20*time.Second, "readings flowing", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, bucket)
		return n >= 2000, fmt.Sprintf("stored %d", n)
	})
	for _, p := range []*facmonProc{pa, pb} {
		m := servicecheck.MustScrapeMetrics(t, p.web)
		assert.Greater(t, m[`facmon_readings_received_total{source="mqtt"}`], 200.0, "each instance stores a share")
		assert.Greater(t, m["facmon_mqtt_evaluation_messages_total"], m[`facmon_readings_received_total{source="mqtt"}`], "and evaluates every reading")
	}

	// A fault published once: both instances raise it, Alertmanager
	// deduplicates what they post, the receiver is told once.
	fault := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(broker.Port), "-q", "1",
		"-t", "facmon/thanh-binh/door/door-fault-1/telemetry", "-m", `{"fault":3}`)
	out, err := fault.CombinedOutput()
	require.NoError(t, err, "%s", out)
	door := map[string]string{"alertname": "DoorFault", "device": "door-fault-1"}
	receiver.WaitFor(t, 20*time.Second, func([]alertmanager.Notification) bool { return receiver.Count("firing", door) >= 1 })

	// SIGKILL a mid-stream: b takes every ward within the keepalive.
	killedAt := time.Now()
	pa.kill()
	testenv.Eventually(t, 30*time.Second, "b owns every ward", func() (bool, string) {
		ob := wardsOwned(t, pb)
		return ob == nWards, fmt.Sprintf("b owns %v of %v", ob, nWards)
	})
	t.Logf("wards moved to b %.1f s after the kill", time.Since(killedAt).Seconds())
	time.Sleep(3 * time.Second)

	// a comes back with its session and spool: the wards return.
	pa = a.start(t)
	testenv.Eventually(t, 30*time.Second, "the wards shared again", func() (bool, string) {
		oa, ob := wardsOwned(t, pa), wardsOwned(t, pb)
		return oa > 0 && ob > 0 && oa+ob == nWards, fmt.Sprintf("a owns %v, b owns %v", oa, ob)
	})
	time.Sleep(2 * time.Second)
	pub.Stop()
	require.Zero(t, pub.Failed.Load(), "the broker acknowledged every publish")
	servicecheck.WaitAllStored(t, db, bucket, pub.Want(), 60*time.Second)

	time.Sleep(3 * time.Second) // the alert's reposts, had they not been deduplicated
	assert.Equal(t, 1, receiver.Count("firing", door), "one alert though two instances raise it, and one restarted")

	// Derived points, once: one "seen" transition per device (the
	// survivor's and the restarted instance's included), one alert_event
	// per alert and state.
	rows := db.Query(t, bucket, `SELECT up, reason FROM device_liveness GROUP BY device`)
	transitions := 0
	missing := map[string]bool{"door-fault-1": true}
	for d := range pub.Want() {
		missing[d] = true
	}
	for _, s := range rows {
		delete(missing, s.Tags["device"])
		transitions += len(s.Values)
		for i := 1; i < len(s.Values); i++ {
			assert.NotEqual(t, s.Values[i-1][1], s.Values[i][1], "device %s: consecutive transitions to the same state (a duplicate): %v", s.Tags["device"], s.Values)
		}
	}
	assert.Empty(t, missing, "devices without their first transition")
	assert.Equal(t, 41, transitions, "one transition per device (40 streaming, the faulty door)")
	events := map[string]int{}
	for _, s := range db.Query(t, bucket, `SELECT id, state FROM alert_event`) {
		for _, v := range s.Values {
			events[fmt.Sprint(v[1], "/", v[2])]++
		}
	}
	for k, n := range events {
		assert.Equal(t, 1, n, "alert_event %s stored %d times", k, n)
	}
	assert.NotEmpty(t, events, "the alert's events are stored")
	for _, p := range []*facmonProc{pa, pb} {
		servicecheck.WaitConserved(t, p.web)
	}
	samples := db.Query(t, bucket, `SELECT up FROM device_availability GROUP BY device`)
	require.NotEmpty(t, samples)
	for _, s := range samples {
		var at []string
		for _, v := range s.Values {
			ns, _ := influxdb.AsInt64(v[0])
			assert.Zero(t, ns%int64(10*time.Second), "sample of %s at %s is on the 10 s grid", s.Tags["device"], time.Unix(0, ns))
			at = append(at, fmt.Sprint(ns))
		}
		sort.Strings(at)
		for i := 1; i < len(at); i++ {
			assert.NotEqual(t, at[i-1], at[i])
		}
	}
}
