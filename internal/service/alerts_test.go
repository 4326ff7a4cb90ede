package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/publisher"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/alertmanager"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// testRules are the built-in rules with test-sized durations and no office
// hours (the test may run at any hour): the notification path is under
// test here; the rules' own timing is tested in alerts/engine.
func testRules() []rule.Rule {
	f := func(v float64) *float64 { return &v }
	s := func(d time.Duration) rule.Duration { return rule.Duration(d) }
	return []rule.Rule{
		{Name: "DoorStuckOpen", Kind: rule.KindState, Severity: "warning", Class: "door", Field: "state", Equals: "open",
			Wards: []string{"thanh-binh"}, For: s(3 * time.Second), SummaryVI: "Cửa {{.Device}} tại {{.WardName}} mở", SummaryEN: "Door {{.Device}} at {{.WardName}} open"},
		{Name: "ACFault", Kind: rule.KindState, Severity: "critical", Class: "hvac", Field: "fault", Op: "!=", Equals: "",
			SummaryVI: "Máy lạnh {{.Device}} tại {{.WardName}} báo lỗi", SummaryEN: "AC {{.Device}} at {{.WardName}} fault"},
		{Name: "DeviceOffline", Kind: rule.KindAbsence, Severity: "warning", For: s(3 * time.Second),
			SummaryVI: "{{.Device}} mất kết nối", SummaryEN: "{{.Device}} offline"},
		{Name: "WardUnreachable", Kind: rule.KindGroup, Severity: "critical", Fraction: 0.6, MinDevices: 3, For: s(time.Second),
			SummaryVI: "Mất kết nối {{.WardName}}", SummaryEN: "{{.WardName}} unreachable"},
		{Name: "UnusedThreshold", Kind: rule.KindThreshold, Severity: "info", Class: "server", Field: "temp_c", Op: ">", Value: f(1000),
			SummaryVI: "x", SummaryEN: "x"},
	}
}

func alertConfig(t *testing.T, broker *testenv.Broker, db *influxdb.Server, bucket string, stateDir string, mutate func(*config.Config)) config.Config {
	t.Helper()
	cfg, err := config.Load("", config.Overrides{MQTTURL: broker.URL, InfluxURL: db.URL, InfluxBucket: bucket, Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	cfg.MQTT.ClientID = "facmon-" + bucket
	cfg.Spool.Dir = filepath.Join(stateDir, "spool")
	cfg.Alerts.StateDir = filepath.Join(stateDir, "alerts")
	cfg.Alerts.Rules = testRules()
	cfg.Alerts.EvalInterval = config.Duration(200 * time.Millisecond)
	cfg.Alerts.Notifiers.RepostInterval = notify.Duration(2 * time.Second)
	cfg.Alerts.Notifiers.BatchWait = notify.Duration(50 * time.Millisecond)
	cfg.Liveness.Heartbeat = map[string]config.Duration{"door": config.Duration(5 * time.Second), "hvac": config.Duration(5 * time.Second), "server": config.Duration(5 * time.Second), "camera": config.Duration(5 * time.Second)}
	if mutate != nil {
		mutate(&cfg)
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

func runService(t *testing.T, cfg config.Config) (web string, stop func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := New(cfg, log, NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("facmon did not stop")
		}
	}
	t.Cleanup(stop)
	web = "http://" + svc.WebAddr()
	testenv.Eventually(t, 20*time.Second, "healthy", func() (bool, string) {
		code, body := get(t, web+"/healthz")
		return code == 200, body
	})
	return web, stop
}

func simulate(t *testing.T, broker *testenv.Broker, d time.Duration, faults ...string) *publisher.Simulator {
	t.Helper()
	sc := simulator.DefaultConfig()
	sc.BrokerURL = broker.URL
	sc.Interval = 500 * time.Millisecond
	sc.Duration = d
	sc.Seed = 7
	for _, f := range faults {
		ft, err := simulator.ParseFault(f)
		require.NoError(t, err)
		sc.Faults = append(sc.Faults, ft)
	}
	sim, err := publisher.New(sc, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return sim
}

// TestAlertsThroughRealAlertmanager: faults injected by the simulator reach
// a real Alertmanager, which delivers each once with the right labels, then
// the resolutions; a whole-ward outage yields one WardUnreachable and no
// per-device offline notification for that ward.
func TestAlertsThroughRealAlertmanager(t *testing.T) {
	receiver := alertmanager.WebhookReceiver(t)
	am := alertmanager.Start(t, receiver.URL, alertmanager.WithTimings(0, time.Second, time.Hour))
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	cfg := alertConfig(t, broker, db, "am", t.TempDir(), func(c *config.Config) {
		c.Alerts.Notifiers.Alertmanager.URLs = []string{am.URL}
	})
	web, _ := runService(t, cfg)

	sim := simulate(t, broker, 30*time.Second,
		"door-stuck-open@thanh-binh/door-1,after=3s,for=10s",
		"ac-failure@hai-chau-1/hvac-2,after=3s,for=10s",
		"ward-outage@nam-duong,after=4s,for=12s")
	require.NoError(t, sim.Run(context.Background()))

	door := map[string]string{"alertname": "DoorStuckOpen", "ward": "thanh-binh", "class": "door", "device": "door-1", "severity": "warning"}
	ac := map[string]string{"alertname": "ACFault", "ward": "hai-chau-1", "class": "hvac", "device": "hvac-2", "severity": "critical"}
	ward := map[string]string{"alertname": "WardUnreachable", "ward": "nam-duong", "severity": "critical"}
	receiver.WaitFor(t, 30*time.Second, func([]alertmanager.Notification) bool {
		return receiver.Count("resolved", door) >= 1 && receiver.Count("resolved", ac) >= 1 && receiver.Count("resolved", ward) >= 1
	})
	for name, labels := range map[string]map[string]string{"door": door, "ac": ac, "ward": ward} {
		assert.Equal(t, 1, receiver.Count("firing", labels), "%s: delivered once", name)
		assert.Equal(t, 1, receiver.Count("resolved", labels), "%s: resolved once", name)
	}
	for _, a := range receiver.Alerts() {
		if a.Labels["alertname"] == "DoorStuckOpen" {
			assert.Equal(t, "Cửa door-1 tại Thanh Bình mở", a.Annotations["summary_vi"])
			assert.Equal(t, "Door door-1 at Thanh Bình open", a.Annotations["summary_en"])
			assert.Contains(t, a.GeneratorURL, "/?alert=")
		}
	}
	assert.Zero(t, receiver.Count("", map[string]string{"alertname": "DeviceOffline", "ward": "nam-duong"}),
		"the ward outage explains its devices: no per-device notification")

	// The suppressed per-device alerts are in the history with their cause.
	var hist struct {
		Events []struct {
			Rule, Ward, State, Suppressed string
		} `json:"events"`
	}
	code, body := get(t, web+"/api/alerts/history")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal([]byte(body), &hist))
	suppressed := 0
	for _, e := range hist.Events {
		if e.Rule == "DeviceOffline" && e.Ward == "nam-duong" && e.State == "firing" {
			assert.Equal(t, "ward_unreachable", e.Suppressed)
			suppressed++
		}
	}
	assert.GreaterOrEqual(t, suppressed, 3)
	// And in InfluxDB, for the reports and dashboards.
	testenv.Eventually(t, 10*time.Second, "alert_event stored", func() (bool, string) {
		n := count(t, db, "am", `SELECT count(id) FROM alert_event WHERE alertname='WardUnreachable'`)
		return n >= 2, fmt.Sprint(n)
	})
}

// TestAlertAckAPIAndRestart: an alert fires and is notified once through
// facmon's webhook; it is acknowledged through the API (token required);
// facmon restarts while it fires: no duplicate notification, still active
// with its acknowledgement, history intact; the fault ends: one resolution.
func TestAlertAckAPIAndRestart(t *testing.T) {
	receiver := alertmanager.WebhookReceiver(t)
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "api-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tok-123\n"), 0o600))
	cfg := alertConfig(t, broker, db, "ack", dir, func(c *config.Config) {
		c.Alerts.Notifiers.Webhooks = []notify.WebhookConfig{{Name: "oncall", URL: receiver.URL}}
		c.Alerts.APITokenFile = tokenFile
	})
	web, stop := runService(t, cfg)

	sim := simulate(t, broker, 40*time.Second, "door-stuck-open@thanh-binh/door-1,after=1s,for=25s")
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(context.Background()) }()
	t.Cleanup(func() { <-simDone })

	door := map[string]string{"alertname": "DoorStuckOpen", "device": "door-1"}
	receiver.WaitFor(t, 20*time.Second, func([]alertmanager.Notification) bool { return receiver.Count("firing", door) == 1 })

	var active struct {
		Alerts []struct {
			ID, Rule, Device string
			AckBy            string `json:"ack_by"`
			Acked            bool
		} `json:"alerts"`
	}
	_, body := get(t, web+"/api/alerts")
	require.NoError(t, json.Unmarshal([]byte(body), &active))
	require.Len(t, active.Alerts, 1)
	id := active.Alerts[0].ID

	ack := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, web+"/api/alerts/"+id+"/ack", bytes.NewReader([]byte(`{"by":"Nguyễn Thị Mai","comment":"đã báo bảo trì"}`)))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 401, ack(""), "no token")
	assert.Equal(t, 401, ack("wrong"), "wrong token")
	assert.Equal(t, 200, ack("tok-123"))

	stop() // facmon restarts while the alert fires
	web2, _ := runService(t, cfg)
	time.Sleep(3 * time.Second)
	_, body = get(t, web2+"/api/alerts")
	require.NoError(t, json.Unmarshal([]byte(body), &active))
	require.Len(t, active.Alerts, 1, "still active after the restart")
	assert.Equal(t, id, active.Alerts[0].ID)
	assert.True(t, active.Alerts[0].Acked)
	assert.Equal(t, "Nguyễn Thị Mai", active.Alerts[0].AckBy)
	assert.Equal(t, 1, receiver.Count("firing", door), "no duplicate notification after the restart")

	receiver.WaitFor(t, 40*time.Second, func([]alertmanager.Notification) bool { return receiver.Count("resolved", door) == 1 })
	assert.Equal(t, 1, receiver.Count("firing", door))
	_, body = get(t, web2+"/api/alerts/history")
	var hist struct {
		Events []struct{ State, AckBy string } `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &hist))
	var states []string
	for _, e := range hist.Events {
		states = append(states, e.State)
	}
	assert.Equal(t, []string{"firing", "acknowledged", "resolved"}, states, "history spans the restart")
}
