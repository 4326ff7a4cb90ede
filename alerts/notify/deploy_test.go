package notify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/notify/notifytest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/alertmanager"
)

// deployDir holds the example Alertmanager configuration.
var deployDir = filepath.Join("..", "..", "deploy", "alertmanager")

// haiChauWards are the 13 ward offices of the default fleet (DESIGN.md).
var haiChauWards = []string{
	"thanh-binh", "thuan-phuoc", "thach-thang", "hai-chau-1", "hai-chau-2", "phuoc-ninh", "hoa-thuan-tay",
	"hoa-thuan-dong", "nam-duong", "binh-hien", "binh-thuan", "hoa-cuong-bac", "hoa-cuong-nam",
}

func TestDeployAlertmanagerConfigIsValid(t *testing.T) {
	out, err := alertmanager.Amtool(t, "check-config", filepath.Join(deployDir, "alertmanager.yml"))
	require.NoError(t, err, "amtool check-config:\n%s", out)
	assert.Contains(t, out, "SUCCESS")
	assert.Contains(t, out, "2 inhibit rules")
	assert.Contains(t, out, "1 templates")
}

func TestDeployAlertmanagerRoutes(t *testing.T) {
	route := func(labels ...string) string {
		t.Helper()
		args := append([]string{"config", "routes", "test", "--config.file=" + filepath.Join(deployDir, "alertmanager.yml")}, labels...)
		out, err := alertmanager.Amtool(t, args...)
		require.NoError(t, err, "amtool %v:\n%s", args, out)
		// The answer is the last line; amtool may warn before it.
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return strings.TrimSpace(lines[len(lines)-1])
	}
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"alertname=DoorStuckOpen", "severity=critical", "ward=thanh-binh", "class=door", "device=door-1"}, "technician-north"},
		{[]string{"alertname=ACFailure", "severity=critical", "ward=phuoc-ninh"}, "technician-centre"},
		{[]string{"alertname=WardUnreachable", "severity=critical", "ward=hoa-cuong-nam"}, "technician-south"},
		{[]string{"alertname=ACFailure", "severity=critical", "ward=binh-hien", "escalation=1"}, "district-it-lead,technician-centre"},
		{[]string{"alertname=BrokerDisconnected", "severity=critical"}, "district-it-oncall"},
		{[]string{"alertname=DeviceOffline", "severity=critical", "ward=a-merged-ward"}, "district-it-oncall"},
		{[]string{"alertname=DiskFilling", "severity=warning", "ward=thanh-binh"}, "district-it"},
		{[]string{"alertname=DoorCycles", "severity=info", "ward=thanh-binh"}, "blackhole"},
		{[]string{"alertname=Unlabelled"}, "district-it"},
	} {
		assert.Equal(t, tc.want, route(tc.labels...), "%v", tc.labels)
	}
	// Every ward of the default fleet has its own technician.
	for _, w := range haiChauWards {
		assert.True(t, strings.HasPrefix(route("severity=critical", "ward="+w), "technician-"), "ward %s has no technician route", w)
	}
}

func TestDeployAlertmanagerTemplate(t *testing.T) {
	t.Setenv("TZ", "Asia/Ho_Chi_Minh")
	data := notifytest.WriteFile(t, "data.json", `{"receiver":"technician-north","status":"firing","alerts":[
 {"status":"firing","labels":{"alertname":"DoorStuckOpen","severity":"critical","ward":"thanh-binh","class":"door","device":"door-1"},
  "annotations":{"summary_vi":"Cửa tự động kẹt mở","summary_en":"Automatic door stuck open","runbook_url":"https://wiki.example/door","acknowledged_by":"anh.nguyen"},
  "startsAt":"2026-11-23T02:15:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://facmon.example/alerts/1"},
 {"status":"resolved","labels":{"alertname":"DoorStuckOpen","severity":"critical","ward":"thanh-binh","class":"door","device":"door-2"},
  "annotations":{"summary_vi":"Cửa tự động kẹt mở"},
  "startsAt":"2026-11-23T02:15:00Z","endsAt":"2026-11-23T02:25:00Z","generatorURL":"http://facmon.example/alerts/2"}],
 "groupLabels":{"alertname":"DoorStuckOpen","ward":"thanh-binh"},
 "commonLabels":{"alertname":"DoorStuckOpen","severity":"critical","ward":"thanh-binh","class":"door"},
 "commonAnnotations":{},"externalURL":"http://alertmanager.example"}`)
	out, err := alertmanager.Amtool(t, "template", "render", "--template.glob="+filepath.Join(deployDir, "facmon.tmpl"),
		"--template.data="+data, "--template.text="+`{{ template "facmon.text" . }}`)
	require.NoError(t, err, "%s", out)
	for _, want := range []string{
		"[FIRING:1] DoorStuckOpen — thanh-binh",
		"🔴 Cửa tự động kẹt mở\nAutomatic door stuck open\n",
		"Phường / Ward: thanh-binh · Thiết bị / Device: door/door-1",
		"Từ / Since: 23/11/2026 09:15\n",
		"Đã nhận / Acknowledged by: anh.nguyen",
		"Hướng dẫn / Runbook: https://wiki.example/door",
		"http://facmon.example/alerts/1",
		"✅ Cửa tự động kẹt mở",
		"Kết thúc / Ended: 23/11/2026 09:25",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "<no value>")
}

// The inhibit rules of the example, in a real Alertmanager: its routes and
// inhibit rules as shipped, its receivers replaced by the test's webhook
// (the real ones would mail and message people).
func TestDeployAlertmanagerInhibition(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join(deployDir, "alertmanager.yml"))
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	rx := alertmanager.WebhookReceiver(t)
	var receivers []any
	for _, r := range cfg["receivers"].([]any) {
		name := r.(map[string]any)["name"]
		receivers = append(receivers, map[string]any{"name": name, "webhook_configs": []any{map[string]any{"url": rx.URL + "/" + fmt.Sprint(name), "send_resolved": true}}})
	}
	cfg["receivers"] = receivers
	delete(cfg, "templates")
	global := cfg["global"].(map[string]any)
	for k := range global {
		if strings.HasPrefix(k, "smtp_") {
			delete(global, k)
		}
	}
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	amp := alertmanager.Start(t, rx.URL, alertmanager.WithConfig(string(out)))

	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{amp.URL}}, nil)
	require.NoError(t, err)
	offline := func(ward, device string) notify.Alert {
		return notify.Alert{ID: ward + "/" + device, StartsAt: time.Now(), Labels: map[string]string{
			"alertname": "DeviceOffline", "severity": "critical", "ward": ward, "class": "camera", "device": device,
		}}
	}
	ward := notify.Alert{ID: "ward/thanh-binh", StartsAt: time.Now(), Labels: map[string]string{
		"alertname": "WardUnreachable", "severity": "critical", "ward": "thanh-binh",
	}}
	diskWarn := notify.Alert{ID: "disk90", StartsAt: time.Now(), Labels: map[string]string{
		"alertname": "DiskFull", "severity": "warning", "ward": "nam-duong", "class": "server", "device": "srv-1",
	}}
	diskCrit := diskWarn.Clone()
	diskCrit.ID, diskCrit.Labels["severity"] = "disk95", "critical"
	require.NoError(t, am.NotifyUntil(context.Background(), []notify.Alert{
		ward, offline("thanh-binh", "cam-1"), offline("thanh-binh", "cam-2"), offline("thuan-phuoc", "cam-1"), diskWarn, diskCrit,
	}, time.Now().Add(time.Minute)))

	testenv.Eventually(t, 20*time.Second, "inhibition", func() (bool, string) {
		as, err := amp.AlertsErr(context.Background())
		if err != nil {
			return false, err.Error()
		}
		state := map[string]string{}
		for _, a := range as {
			key := a.Labels["alertname"] + "/" + a.Labels["severity"] + "/" + a.Labels["ward"] + "/" + a.Labels["device"]
			state[key] = a.Status.State
			if len(a.Status.InhibitedBy) > 0 {
				state[key] += " (inhibited)"
			}
		}
		want := map[string]string{
			"WardUnreachable/critical/thanh-binh/":     "active",
			"DeviceOffline/critical/thanh-binh/cam-1":  "suppressed (inhibited)",
			"DeviceOffline/critical/thanh-binh/cam-2":  "suppressed (inhibited)",
			"DeviceOffline/critical/thuan-phuoc/cam-1": "active",
			"DiskFull/warning/nam-duong/srv-1":         "suppressed (inhibited)",
			"DiskFull/critical/nam-duong/srv-1":        "active",
		}
		return fmt.Sprint(state) == fmt.Sprint(want), fmt.Sprint(state)
	})
}
