package main

// Two facmon processes share the district (mqtt.shared_group) against a
// real Mosquitto, InfluxDB 1.8.3 and Alertmanager. One is SIGKILLed
// mid-stream and restarted: every seq is stored, the derived points are
// written once, the fault published once reaches the receiver once, the
// wards move to the survivor and back (read from each /metrics), and the
// uptime report of the period equals that of a lone instance which read
// the same readings into a database of its own.

import (
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
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
	// The lone instance the group's report is compared with: all the same
	// readings, no group, its own database and no Alertmanager.
	lone := groupMember(t, bin, broker, db, "lone", "facmon-lone", am.URL)
	lone.args = []string{"--mqtt-client-id", "facmon-lone", "--alertmanager-url", ""}
	pa, pb := a.start(t), b.start(t)
	lone.start(t)
	from := time.Now().UTC().Truncate(time.Second).Add(2 * time.Second)
	nWards := float64(len(wardIDs()))

	testenv.Eventually(t, 20*time.Second, "the wards shared between the two", func() (bool, string) {
		oa, ob := wardsOwned(t, pa), wardsOwned(t, pb)
		return oa > 0 && ob > 0 && oa+ob == nWards, fmt.Sprintf("a owns %v, b owns %v of %v", oa, ob, nWards)
	})
	stream := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 40, Interval: 100 * time.Millisecond, WallClock: true})
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
	pub := func(topic, payload string) {
		t.Helper()
		out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(broker.Port), "-q", "1", "-t", topic, "-m", payload).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	pub("facmon/thanh-binh/door/door-fault-1/telemetry", `{"fault":3}`)
	door := map[string]string{"alertname": "DoorFault", "device": "door-fault-1"}
	receiver.WaitFor(t, 20*time.Second, func([]alertmanager.Notification) bool { return receiver.Count("firing", door) >= 1 })

	// SIGKILL a mid-stream: b takes every ward within the keepalive.
	killedAt := time.Now()
	pa.kill()
	// The faulty door goes offline while its ward's owner is dead: the
	// survivor records it.
	pub("facmon/thanh-binh/door/door-fault-1/status", "offline")
	offlineAt := time.Now()
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
	// Back after more than one liveness tick (5 s), so its outage is a
	// transition and not a blip between two checks.
	time.Sleep(time.Until(offlineAt.Add(6 * time.Second)))
	pub("facmon/thanh-binh/door/door-fault-1/status", "online")
	time.Sleep(2 * time.Second)
	stream.Stop()
	require.Zero(t, stream.Failed.Load(), "the broker acknowledged every publish")
	servicecheck.WaitAllStored(t, db, bucket, stream.Want(), 60*time.Second)

	time.Sleep(3 * time.Second) // the alert's reposts, had they not been deduplicated
	assert.Equal(t, 1, receiver.Count("firing", door), "one alert though two instances raise it, and one restarted")

	// Derived points, once: the group's liveness transitions are the lone
	// instance's, device by device (the survivor's and the restarted
	// instance's included), and no two in a row say the same.
	transitions := func(bucket string) map[string]string {
		out := map[string]string{}
		for _, s := range db.Query(t, bucket, `SELECT up, reason FROM device_liveness GROUP BY device`) {
			var seq []string
			for i, v := range s.Values {
				seq = append(seq, fmt.Sprint(v[1], " ", v[2]))
				if i > 0 {
					assert.NotEqual(t, s.Values[i-1][1], v[1], "%s %s: consecutive transitions to the same state (a duplicate): %v", bucket, s.Tags["device"], s.Values)
				}
			}
			out[s.Tags["device"]] = strings.Join(seq, ", ")
		}
		return out
	}
	// The door's return is recorded at the next liveness check (every
	// 5 s) after its online status: wait for it in both databases.
	testenv.Eventually(t, 20*time.Second, "the faulty door's return recorded by the group and the lone instance", func() (bool, string) {
		g, l := transitions(bucket)["door-fault-1"], transitions("lone")["door-fault-1"]
		return strings.HasSuffix(g, "0 offline, 1 back") && strings.HasSuffix(l, "0 offline, 1 back"), fmt.Sprintf("group %q, lone %q", g, l)
	})
	groupTransitions, loneTransitions := transitions(bucket), transitions("lone")
	assert.Equal(t, loneTransitions, groupTransitions, "the group's liveness transitions are the lone instance's")
	for d := range stream.Want() {
		assert.NotEmpty(t, groupTransitions[d], "device %s has its first transition", d)
	}
	assert.Contains(t, groupTransitions["door-fault-1"], "0 offline, 1 back", "the faulty door's outage during the handover")
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
	to := time.Now().UTC().Truncate(time.Second)
	report := func(bucket string) string {
		out := filepath.Join(t.TempDir(), bucket+".csv")
		cmd := exec.Command(bin, "report", "uptime", "--config", a.config, "--influx-url", db.URL, "--influx-bucket", bucket,
			"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339), "--sla-24x7", "--lang", "en", "--format", "csv", "-o", out)
		msg, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", msg)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		return string(data)
	}
	groupReport, loneReport := report(bucket), report("lone")
	sameReport(t, loneReport, groupReport)
	assert.Regexp(t, `(?m)^thanh-binh,[^,]*,[^,]*,door-fault-1,[0-9.]+,.*,1,[0-9.]+,`, groupReport, "the faulty door's outage during the handover is one incident in the report")

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

// sameReport compares two uptime report CSVs cell by cell. The
// availability columns may differ by the milliseconds by which two
// instances received the same message (a transition's time is its
// receipt), which over the test's seconds-long period is a fraction of a
// percentage point and over a month nothing; everything else is equal.
func sameReport(t *testing.T, want, got string) {
	t.Helper()
	read := func(s string) [][]string {
		rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(s, "\ufeff"))).ReadAll()
		require.NoError(t, err)
		return rows
	}
	w, g := read(want), read(got)
	require.Equal(t, len(w), len(g), "rows")
	header := w[0]
	for r := range w {
		require.Equal(t, len(w[r]), len(g[r]), "row %d", r)
		for c := range w[r] {
			if r > 0 && (header[c] == "Availability (%)" || header[c] == "Change (pp)") {
				a, errA := strconv.ParseFloat(w[r][c], 64)
				b, errB := strconv.ParseFloat(g[r][c], 64)
				if errA == nil && errB == nil {
					assert.InDelta(t, a, b, 1.0, "%s of %s", header[c], w[r][3])
					continue
				}
			}
			assert.Equal(t, w[r][c], g[r][c], "%s of %s", header[c], w[r][3])
		}
	}
}
