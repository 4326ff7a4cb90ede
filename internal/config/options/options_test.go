package options

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/collectors/scrape"
	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/reports/loader"
)

// The collector sees what the file says, each section where it belongs,
// and the built-in status words where a topic names none.
func TestMQTTOptionsTakeEachSection(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte(`mqtt:
  url: tcp://broker:1883
  client_id: facmon-a
  username: facmon
  keepalive: 15s
  max_payload_bytes: 2048
  topics:
    - pattern: zigbee2mqtt/{device}/availability
      kind: status
      tags: {ward: thanh-binh, class: hvac}
      status: {path: state, online: [online], offline: [offline]}
    - pattern: tele/{device}/LWT
      kind: status
      tags: {ward: hai-chau-1, class: hvac}
    - pattern: tele/{device}/SENSOR
      kind: telemetry
      tags: {ward: hai-chau-1, class: hvac}
      fields: {AM2301.Temperature: temp_c}
ingest:
  max_past: 1h
  max_devices_per_office: 7
  max_devices: 70
`), config.Overrides{})
	require.NoError(t, err)
	o := MQTT(cfg)
	assert.Equal(t, mqtt.Broker{
		URL: "tcp://broker:1883", ClientID: "facmon-a", Username: "facmon",
		KeepAlive: 15 * time.Second, ConnectTimeout: 10 * time.Second, MaxReconnectInterval: 30 * time.Second,
	}, o.Broker)
	assert.Equal(t, 7, o.MaxDevicesPerOffice)
	assert.Equal(t, 70, o.MaxDevices)
	assert.Equal(t, 2048, o.Decoder.MaxPayloadBytes)
	assert.Equal(t, time.Hour, o.Decoder.MaxPast)
	assert.Equal(t, 5*time.Minute, o.Decoder.MaxFuture)
	require.Len(t, o.Decoder.Routes, 3)
	assert.Equal(t, mqtt.Route{
		Pattern: "zigbee2mqtt/{device}/availability", Status: true, StatusPath: "state",
		Online: []string{"online"}, Offline: []string{"offline"},
		Tags: map[string]string{"ward": "thanh-binh", "class": "hvac"},
	}, o.Decoder.Routes[0])
	assert.Equal(t, []string{"online", "up", "1", "true"}, o.Decoder.Routes[1].Online, "no words given: the built-in ones")
	assert.Equal(t, []string{"offline", "down", "0", "false"}, o.Decoder.Routes[1].Offline)
	assert.False(t, o.Decoder.Routes[2].Status)
	assert.Equal(t, map[string]string{"AM2301.Temperature": "temp_c"}, o.Decoder.Routes[2].Fields)
	assert.Equal(t, "float", o.Decoder.Profiles["hvac"]["temp_c"])
	assert.Len(t, o.Decoder.Offices, len(config.DefaultOffices()))
	assert.Contains(t, o.Decoder.Offices, "thanh-binh")
}

// Options are copies: a collector can never change the configuration it
// was built from, nor one collector's options another's.
func TestMQTTOptionsShareNothingWithTheConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Offices[0].Devices = []string{"door-1"}
	o := MQTT(cfg)
	o.Decoder.Offices[cfg.Offices[0].ID][0] = "changed"
	o.Decoder.Profiles["door"]["state"] = "changed"
	assert.Equal(t, "door-1", cfg.Offices[0].Devices[0])
	assert.Equal(t, "string", cfg.Profiles["door"].Fields["state"])
}

// A target's unset interval, timeout and series cap take their defaults;
// a timeout left out of a short interval is the interval.
func TestScrapeTargetsTakeTheirDefaults(t *testing.T) {
	cfg := config.Default()
	cfg.Ingest.MaxPast = config.Duration(time.Hour)
	cfg.Scrape = []config.ScrapeTarget{
		{URL: "http://a/metrics", Ward: "thanh-binh", App: "onestop"},
		{URL: "http://b/metrics", Ward: "hai-chau-1", App: "kiosk", Interval: config.Duration(2 * time.Second),
			Labels: map[string]string{"floor": "1"}, BasicAuth: &clientauth.BasicAuth{Username: "u", PasswordFile: "/run/pw"}},
	}
	o := Scrape(cfg)
	assert.Equal(t, scrape.TimeBounds{MaxPast: time.Hour, MaxFuture: 5 * time.Minute}, o.Bounds)
	require.Len(t, o.Targets, 2)
	assert.Equal(t, scrape.Target{URL: "http://a/metrics", Ward: "thanh-binh", App: "onestop",
		Interval: config.DefaultScrapeInterval, Timeout: config.DefaultScrapeTimeout, MaxSeries: config.DefaultScrapeMaxSeries}, o.Targets[0])
	assert.Equal(t, 2*time.Second, o.Targets[1].Timeout)
	assert.Equal(t, map[string]string{"floor": "1"}, o.Targets[1].Labels)
	o.Targets[1].BasicAuth.Username = "changed"
	assert.Equal(t, "u", cfg.Scrape[1].BasicAuth.Username, "the options are a copy")
}

// The report's settings come from the offices, calendars, liveness and
// reports sections; declared devices of a known class are its inventory.
func TestUptimeOptionsFromConfig(t *testing.T) {
	cfg, err := config.Load("", config.Overrides{})
	require.NoError(t, err)
	cfg.Liveness.Devices = map[string]config.Duration{"thanh-binh/camera-4": config.Duration(5 * time.Minute)}
	cfg.Offices[0].Devices = []string{"door-1", "camera-4", "kiosk-1"}
	o, err := Uptime(cfg)
	require.NoError(t, err)
	assert.Len(t, o.Settings.Offices, 13)
	assert.Equal(t, "Thanh Bình", o.Settings.Offices[0].Name)
	assert.Equal(t, "Asia/Ho_Chi_Minh", o.Settings.Location.String())
	assert.Equal(t, time.Minute, o.MinHeartbeat)
	assert.Equal(t, 5*time.Minute, o.MaxHeartbeat)
	assert.Equal(t, []string{"door", "hvac", "server", "camera"}, o.Classes)
	assert.Equal(t, []string{"cycles", "fault", "motor_current_a", "obstruction", "state", "seq"}, o.Fields["door"])
	assert.Equal(t, []loader.InventoryDevice{{Ward: "thanh-binh", Class: "door", Device: "door-1"}, {Ward: "thanh-binh", Class: "camera", Device: "camera-4"}}, o.Inventory,
		"kiosk is not a device class")
	assert.Equal(t, 5*time.Minute, o.Settings.Heartbeat("thanh-binh", "camera", "camera-4"))
	require.NotNil(t, o.Settings.Calendars["thanh-binh"])
	assert.False(t, o.Settings.Calendars["thanh-binh"].Open(time.Date(2026, 3, 1, 10, 0, 0, 0, o.Settings.Location)), "Sunday")
	assert.Equal(t, cfg.Reports, o.Settings.Config)
}
