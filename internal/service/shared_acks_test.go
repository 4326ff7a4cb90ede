package service

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/alertmanager"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

type sharedAlert struct {
	ID, Rule, Device string
	Acked            bool
	AckBy            string `json:"ack_by"`
	AckComment       string `json:"ack_comment"`
}

func activeAlerts(t *testing.T, web string) []sharedAlert {
	t.Helper()
	var body struct {
		Alerts []sharedAlert `json:"alerts"`
	}
	_, b := get(t, web+"/api/alerts?rule=ACFault")
	require.NoError(t, json.Unmarshal([]byte(b), &body), b)
	return body.Alerts
}

func ackVia(t *testing.T, web, id, method, body string) {
	t.Helper()
	req, _ := http.NewRequest(method, web+"/api/alerts/"+id+"/ack", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok-shared")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "%s ack on %s", method, web)
}

// waitAck waits until the one active alert on web is acknowledged as
// want says (by whom, when acked).
func waitAck(t *testing.T, web string, acked bool, by string) {
	t.Helper()
	testenv.Eventually(t, 3*AckSyncInterval+2*time.Second, fmt.Sprintf("%s shows acked=%v by %q", web, acked, by), func() (bool, string) {
		as := activeAlerts(t, web)
		if len(as) != 1 {
			return false, fmt.Sprintf("%d active alerts", len(as))
		}
		return as[0].Acked == acked && (!acked || as[0].AckBy == by), fmt.Sprintf("%+v", as[0])
	})
}

// Two instances of a group raise the same alert; an acknowledgement taken
// on one shows on the other through the Alertmanager silence it creates,
// its withdrawal too, and it outlives the instance that took it: that
// instance stops, the silence stays, and the survivor still shows it.
func TestAcknowledgementsSharedThroughSilences(t *testing.T) {
	receiver := alertmanager.WebhookReceiver(t)
	am := alertmanager.Start(t, receiver.URL, alertmanager.WithTimings(0, time.Second, time.Hour))
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "api-token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tok-shared\n"), 0o600))
	member := func(name string) config.Config {
		return alertConfig(t, broker, db, "acks", filepath.Join(dir, name), func(c *config.Config) {
			c.MQTT.ClientID, c.MQTT.SharedGroup = name, "district"
			c.Alerts.Notifiers.Alertmanager.URLs = []string{am.URL}
			c.Alerts.APITokenFile = tokenFile
		})
	}
	webA, stopA := runService(t, member("facmon-a"))
	webB, _ := runService(t, member("facmon-b"))

	testenv.Eventually(t, 20*time.Second, "both instances subscribed", func() (bool, string) {
		a, b := metric(t, webA, "facmon_mqtt_evaluation_connected"), metric(t, webB, "facmon_mqtt_evaluation_connected")
		return a == 1 && b == 1, fmt.Sprint(a, b)
	})
	out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(broker.Port), "-q", "1",
		"-t", "facmon/hai-chau-1/hvac/ac-7/telemetry", "-m", `{"fault":"E4","temp_c":29.5}`).CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, web := range []string{webA, webB} {
		testenv.Eventually(t, 10*time.Second, "the fault raised on "+web, func() (bool, string) {
			as := activeAlerts(t, web)
			return len(as) == 1 && as[0].Rule == "ACFault", fmt.Sprintf("%+v", as)
		})
	}
	id := activeAlerts(t, webA)[0].ID
	assert.Equal(t, id, activeAlerts(t, webB)[0].ID, "the instances name the alert alike")

	ackVia(t, webA, id, http.MethodPost, `{"by":"Trần Văn Hùng","comment":"thợ đang tới"}`)
	waitAck(t, webB, true, "Trần Văn Hùng")
	assert.Equal(t, "thợ đang tới", activeAlerts(t, webB)[0].AckComment)

	ackVia(t, webB, id, http.MethodDelete, "")
	waitAck(t, webA, false, "")

	ackVia(t, webB, id, http.MethodPost, `{"by":"Lê Thị Thu","comment":"đã gọi bảo hành"}`)
	waitAck(t, webA, true, "Lê Thị Thu")

	stopA()
	time.Sleep(3 * AckSyncInterval)
	waitAck(t, webB, true, "Lê Thị Thu")
	silenced := 0
	for _, s := range amSilences(t, am.URL) {
		if labels, ok := s.ExactLabels(); ok && labels["alertname"] == "ACFault" && s.Status.State == "active" {
			silenced++
		}
	}
	assert.Equal(t, 1, silenced, "one active silence of the alert, after its second acknowledgement")
}

func amSilences(t *testing.T, base string) []notify.Silence {
	t.Helper()
	_, body := get(t, base+"/api/v2/silences")
	var out []notify.Silence
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out
}
