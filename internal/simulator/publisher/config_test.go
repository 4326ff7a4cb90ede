package publisher

import (
	"testing"
	"time"

	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*simulator.Config)
		wantErr string
	}{
		{"bad scheme", func(c *simulator.Config) { c.BrokerURL = "http://localhost:1883" }, `unsupported scheme "http"`},
		{"no host", func(c *simulator.Config) { c.BrokerURL = "localhost" }, "want scheme://host[:port]"},
		{"mode", func(c *simulator.Config) { c.ClientMode = "bridge" }, `client mode "bridge"`},
		{"ward slug", func(c *simulator.Config) { c.Wards = []fleet.Ward{{ID: "Hải Châu 1"}} }, `id "Hải Châu 1": must be an ASCII slug`},
		{"duplicate ward", func(c *simulator.Config) { c.Wards = []fleet.Ward{{ID: "a"}, {ID: "a"}} }, `ward "a" listed twice`},
		{"empty wards", func(c *simulator.Config) { c.Wards = []fleet.Ward{} }, "at least one ward"},
		{"no devices", func(c *simulator.Config) { c.Devices = map[string]int{"door": 0} }, "nothing to simulate"},
		{"unknown class", func(c *simulator.Config) { c.Devices = map[string]int{"lift": 1} }, `unknown class "lift"`},
		{"interval", func(c *simulator.Config) { c.Interval = time.Millisecond }, "interval 1ms"},
		{"prefix", func(c *simulator.Config) { c.TopicPrefix = "facmon/#" }, "topic prefix"},
		{"qos", func(c *simulator.Config) { c.QoS = 3 }, "qos 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := simulator.DefaultConfig()
			tt.mutate(&cfg)
			_, err := New(cfg, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := simulator.DefaultConfig()
	assert.Equal(t, "Asia/Ho_Chi_Minh", cfg.Location.String())
	require.Len(t, cfg.Wards, 13)
	assert.Equal(t, fleet.Ward{ID: "thanh-binh", Name: "Thanh Bình"}, cfg.Wards[0])
	assert.Equal(t, fleet.Ward{ID: "hoa-cuong-nam", Name: "Hòa Cường Nam"}, cfg.Wards[12])
	assert.Equal(t, map[string]int{"door": 2, "hvac": 3, "server": 1, "camera": 4}, cfg.Devices)

	// A hand-made Config gets the same defaults, and the default port.
	s, err := New(simulator.Config{BrokerURL: "tcp://broker.example"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "broker.example:1883", s.broker.Host)
	assert.Equal(t, byte(1), s.cfg.QoS)
	assert.Equal(t, simulator.ModePerDevice, s.cfg.ClientMode)
	devs := s.Devices()
	require.Len(t, devs, 13*10)
	assert.Equal(t, fleet.Device{Ward: "thanh-binh", Class: "door", ID: "door-1"}, devs[0])
	assert.Equal(t, fleet.Device{Ward: "thanh-binh", Class: "hvac", ID: "hvac-1"}, devs[2])
	assert.Equal(t, "facmon/thanh-binh/door/door-1/telemetry", devs[0].TelemetryTopic("facmon"))
	assert.Equal(t, "facmon/thanh-binh/door/door-1/status", devs[0].StatusTopic("facmon"))

	// The caller's map is not shared with the simulator.
	devices := map[string]int{"door": 1}
	s, err = New(simulator.Config{Devices: devices}, nil)
	require.NoError(t, err)
	devices["door"] = 50
	assert.Len(t, s.Devices(), 13)
}
