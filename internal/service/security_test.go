package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

func writeSecret(t *testing.T, name, value string) string {
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(value+"\n"), 0o600))
	return p
}

// startWithLogs runs facmon with every log line captured at debug level.
func startWithLogs(t *testing.T, cfg config.Config, logs *testenv.LogBuffer) (web string, stop func()) {
	t.Helper()
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := New(cfg, log, NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return "http://" + svc.WebAddr(), stop
}

func TestTLSWithClientCertAndPassword(t *testing.T) {
	const mqttPassword = "mqtt-pw-7Hq2-do-not-log"
	const influxToken = "facmon:influx-token-Zx91-do-not-log"
	broker := testenv.StartMosquitto(t, testenv.WithTLS(), testenv.WithTLSClientCert(), testenv.WithPassword("facmon", mqttPassword))
	db := influxdb.Start(t, influxdb.WithoutFlux())
	cfg, err := config.Load("", config.Overrides{
		MQTTURL: broker.TLSURL, InfluxURL: db.URL, InfluxBucket: "tls",
		InfluxTokenFile: writeSecret(t, "influx-token", influxToken), Listen: "127.0.0.1:0",
	})
	require.NoError(t, err)
	cfg.MQTT.Username = "facmon"
	cfg.MQTT.PasswordFile = writeSecret(t, "mqtt-password", mqttPassword)
	cfg.MQTT.TLS = clientauth.TLS{CAFile: broker.CAFile, CertFile: broker.CertFile, KeyFile: broker.KeyFile, ServerName: "localhost"}
	cfg.MQTT.ClientID = "facmon-tls"
	cfg.Spool.Dir = t.TempDir()
	require.NoError(t, cfg.Validate())
	var logs testenv.LogBuffer
	web, stop := startWithLogs(t, cfg, &logs)
	testenv.Eventually(t, 20*time.Second, "connected over TLS", func() (bool, string) {
		code, body := get(t, web+"/healthz")
		return code == 200, body
	})

	// A device publishes over TLS with its own account.
	opts := paho.NewClientOptions().AddBroker(broker.TLSURL).SetClientID("door-1").
		SetUsername("facmon").SetPassword(mqttPassword).SetTLSConfig(broker.ClientTLSConfig(t))
	dev := paho.NewClient(opts)
	tok := dev.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	defer dev.Disconnect(100)
	for i := 1; i <= 5; i++ {
		tok := dev.Publish("facmon/thach-thang/door/door-1/telemetry", 1, false, fmt.Sprintf(`{"cycles":%d,"seq":%d}`, i, i))
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
	}
	testenv.Eventually(t, 15*time.Second, "stored", func() (bool, string) {
		n := count(t, db, "tls", `SELECT count(seq) FROM door`)
		return n == 5, fmt.Sprint(n)
	})
	_, metrics := get(t, web+"/metrics")
	_, health := get(t, web+"/healthz")
	stop()
	for what, text := range map[string]string{"logs": logs.String(), "/metrics": metrics, "/healthz": health} {
		assert.NotContains(t, text, mqttPassword, "MQTT password leaked into %s", what)
		assert.NotContains(t, text, "influx-token-Zx91", "InfluxDB token leaked into %s", what)
	}
	assert.Contains(t, logs.String(), "mqtt connected and subscribed", "the log was captured")
}

func TestWrongPasswordFailsClearlyWithoutLeaking(t *testing.T) {
	const wrong = "wrong-pw-Kk31-do-not-log"
	broker := testenv.StartMosquitto(t, testenv.WithPassword("facmon", "right-password"))
	db := influxdb.Start(t, influxdb.WithoutFlux())
	cfg, err := config.Load("", config.Overrides{MQTTURL: broker.URL, InfluxURL: db.URL, InfluxBucket: "pw", Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	cfg.MQTT.Username = "facmon"
	cfg.MQTT.PasswordFile = writeSecret(t, "pw", wrong)
	cfg.MQTT.ClientID = "facmon-pw"
	cfg.Spool.Dir = t.TempDir()
	var logs testenv.LogBuffer
	web, stop := startWithLogs(t, cfg, &logs)
	time.Sleep(2 * time.Second)
	code, body := get(t, web+"/healthz")
	assert.Equal(t, 503, code)
	assert.True(t, strings.HasPrefix(body, "mqtt: down"), body)
	stop()
	assert.Contains(t, logs.String(), "mqtt connect failed", "the operator is told why")
	assert.Contains(t, logs.String(), "not Authorized")
	assert.NotContains(t, logs.String(), wrong)
	assert.NotContains(t, body, wrong)
}
