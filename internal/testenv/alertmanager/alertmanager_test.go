package alertmanager

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// postAlerts posts a JSON array of postable alerts to Alertmanager's API v2.
func postAlerts(t *testing.T, am *Server, body string) {
	t.Helper()
	resp, err := http.Post(am.URL+"/api/v2/alerts", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("POST /api/v2/alerts: %s: %s", resp.Status, b.String())
	}
}

func amAlertJSON(name, ward string, startsAt, endsAt time.Time) string {
	return fmt.Sprintf(`[{"labels":{"alertname":%q,"severity":"critical","ward":%q},`+
		`"annotations":{"summary_en":"door stuck open"},"startsAt":%q,"endsAt":%q,"generatorURL":"http://facmon.example/alerts/x"}]`,
		name, ward, startsAt.UTC().Format(time.RFC3339Nano), endsAt.UTC().Format(time.RFC3339Nano))
}

func TestAlertmanagerFiringAndResolved(t *testing.T) {
	t.Parallel()
	rx := WebhookReceiver(t)
	am := Start(t, rx.URL)

	start := time.Now().Add(-time.Minute)
	postAlerts(t, am, amAlertJSON("DoorStuckOpen", "thanh-binh", start, time.Now().Add(10*time.Minute)))
	firing := map[string]string{"alertname": "DoorStuckOpen", "ward": "thanh-binh", "severity": "critical"}
	ns := rx.WaitFor(t, 20*time.Second, func(ns []Notification) bool { return CountAlerts(ns, "firing", firing) == 1 })
	n := ns[0]
	if n.Version != "4" || n.Status != "firing" || n.Receiver != "test" || n.ExternalURL != am.URL {
		t.Errorf("notification = version %q status %q receiver %q externalURL %q", n.Version, n.Status, n.Receiver, n.ExternalURL)
	}
	a := n.Alerts[0]
	if a.Annotations["summary_en"] != "door stuck open" || a.GeneratorURL != "http://facmon.example/alerts/x" || a.Fingerprint == "" {
		t.Errorf("alert = %+v", a)
	}
	if a.StartsAt.Sub(start).Abs() > time.Millisecond {
		t.Errorf("startsAt = %v, want %v", a.StartsAt, start)
	}
	if got := am.Alerts(t); len(got) != 1 || got[0].Labels["alertname"] != "DoorStuckOpen" || got[0].Status.State != "active" {
		t.Errorf("GET /api/v2/alerts = %+v", got)
	}

	// Posting the same alert again changes nothing: no second notification.
	postAlerts(t, am, amAlertJSON("DoorStuckOpen", "thanh-binh", start, time.Now().Add(10*time.Minute)))

	postAlerts(t, am, amAlertJSON("DoorStuckOpen", "thanh-binh", start, time.Now()))
	ns = rx.WaitFor(t, 20*time.Second, func(ns []Notification) bool { return CountAlerts(ns, "resolved", firing) == 1 })
	if c := CountAlerts(ns, "firing", firing); c != 1 {
		t.Errorf("%d firing notifications, want 1:\n%s", c, Describe(ns))
	}
	if got := am.Alerts(t); len(got) != 0 {
		t.Errorf("GET /api/v2/alerts after the resolution = %+v", got)
	}
}

func TestAlertmanagerStopStart(t *testing.T) {
	t.Parallel()
	rx := WebhookReceiver(t)
	am := Start(t, rx.URL, WithTimings(0, 500*time.Millisecond, time.Hour))
	am.Stop()
	if am.Running() {
		t.Fatal("still running after Stop")
	}
	am.Start()
	postAlerts(t, am, amAlertJSON("WardUnreachable", "thuan-phuoc", time.Now(), time.Now().Add(time.Minute)))
	rx.WaitFor(t, 20*time.Second, func(ns []Notification) bool {
		return CountAlerts(ns, "firing", map[string]string{"alertname": "WardUnreachable"}) == 1
	})
	if !strings.Contains(am.Log(), "Listening") {
		t.Errorf("log has no Listening line:\n%s", am.Log())
	}
}

func TestAlertmanagerGeneratedConfigIsValid(t *testing.T) {
	t.Parallel()
	for _, c := range []amConfig{
		{groupBy: []string{"..."}, groupInterval: time.Second, repeatInterval: time.Hour, resolveTimeout: 5 * time.Minute},
		{groupBy: []string{"alertname", "ward"}, groupWait: 30 * time.Second, groupInterval: 1500 * time.Millisecond, repeatInterval: 4 * time.Hour},
	} {
		f := filepath.Join(t.TempDir(), "am.yml")
		if err := os.WriteFile(f, []byte(amConfigYAML(&c, "http://127.0.0.1:1/hook")), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := Amtool(t, "check-config", f); err != nil {
			t.Errorf("amtool check-config: %v\n%s\n%s", err, out, amConfigYAML(&c, "http://127.0.0.1:1/hook"))
		}
	}
}

func TestPromDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", time.Second: "1s", 90 * time.Second: "90s", time.Minute: "1m", 2 * time.Hour: "2h",
		500 * time.Millisecond: "500ms", 1500 * time.Millisecond: "1500ms", time.Microsecond: "1ms",
	} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestReceiverStatusAndBadPayload(t *testing.T) {
	t.Parallel()
	rx := WebhookReceiver(t)
	rx.SetStatus(http.StatusServiceUnavailable)
	resp, err := http.Post(rx.URL, "application/json", strings.NewReader(`{"version":"4","status":"firing","alerts":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || len(rx.Notifications()) != 0 {
		t.Fatalf("status %d, %d recorded; want 503 and none", resp.StatusCode, len(rx.Notifications()))
	}
	rx.SetStatus(http.StatusOK)
	resp, err = http.Post(rx.URL, "application/json", strings.NewReader(`{"version":"1","status":"resolved","alerts":[{"id":"a1","status":"resolved","labels":{"alertname":"X"},"startsAt":"2026-11-23T02:15:00Z","endsAt":"2026-11-23T02:20:00Z"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rx.Alerts()
	if len(got) != 1 || got[0].ID != "a1" || got[0].EndsAt.IsZero() || rx.Count("resolved", map[string]string{"alertname": "X"}) != 1 {
		t.Fatalf("alerts = %+v", got)
	}
	rx.Reset()
	if len(rx.Notifications()) != 0 {
		t.Fatal("Reset kept notifications")
	}
}
