package config

import (
	"strings"
	"testing"

	"github.com/facmon/facmon/internal/config/yamlcheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const z2mTopic = `mqtt:
  topics:
    - pattern: zigbee2mqtt/{device}/availability
      kind: status
      tags: {ward: thanh-binh, class: hvac}
`

func TestStatusPayloadIsParsed(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(z2mTopic+"      status: {path: state, online: [online], offline: [offline]}\n"), Overrides{})
	require.NoError(t, err)
	require.Len(t, cfg.MQTT.Topics, 1)
	assert.Equal(t, StatusPayload{Path: "state", Online: []string{"online"}, Offline: []string{"offline"}}, cfg.MQTT.Topics[0].Status)

	// YAML reads true and 1 as a boolean and a number; a status value is
	// the text the device sends, so they are kept as written.
	cfg, err = Parse("c.yaml", []byte(z2mTopic+"      status: {path: online, online: [true, 1], offline: [false, 0]}\n"), Overrides{})
	require.NoError(t, err)
	assert.Equal(t, []string{"true", "1"}, cfg.MQTT.Topics[0].Status.Online)

	cfg, err = Parse("c.yaml", []byte(z2mTopic), Overrides{})
	require.NoError(t, err)
	assert.True(t, cfg.MQTT.Topics[0].Status.IsZero(), "no status key: the plain words")
	assert.Equal(t, []string{"online", "up", "1", "true"}, cfg.MQTT.Topics[0].Status.OnlineWords())
	assert.Equal(t, []string{"offline", "down", "0", "false"}, cfg.MQTT.Topics[0].Status.OfflineWords())
}

// The three status topics of collectors/mqtt/README.md, as written there.
func TestDocumentedDeviceStatusTopicsParse(t *testing.T) {
	cfg, err := Parse("c.yaml", []byte(`mqtt:
  topics:
    - pattern: tele/{device}/LWT
      kind: status
      tags: {ward: hai-chau-1, class: hvac, room: waiting-room}
    - pattern: zigbee2mqtt/{device}/availability
      kind: status
      tags: {ward: thanh-binh, class: hvac, room: server-room}
      status: {path: state, online: [online], offline: [offline]}
    - pattern: "{device}/online"          # quoted: YAML reads a leading { as a mapping
      kind: status
      tags: {ward: nam-duong, class: door}
`), Overrides{})
	require.NoError(t, err)
	require.Len(t, cfg.MQTT.Topics, 3)
	assert.Equal(t, "{device}/online", cfg.MQTT.Topics[2].Pattern)
	assert.Equal(t, "state", cfg.MQTT.Topics[1].Status.Path)
}

func TestStatusPayloadProblemsNameTheirLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"on a telemetry topic", "mqtt:\n  topics:\n    - pattern: zigbee2mqtt/{device}\n      kind: telemetry\n      tags: {ward: thanh-binh, class: hvac}\n      status: {path: state}\n",
			[]string{`c.yaml:6: mqtt.topics[0].status: only a topic of kind status reads a status payload`}},
		{"unknown key", z2mTopic + "      status:\n        path: state\n        up: [online]\n",
			[]string{`c.yaml:8: mqtt.topics[0].status.up: unknown key "up" (known here: offline, online, path)`}},
		{"a value that is a list", z2mTopic + "      status:\n        online: [[online]]\n",
			[]string{`c.yaml:7: mqtt.topics[0].status.online[0]: want a single value`}},
		{"wildcard path", z2mTopic + "      status:\n        path: devices.#.state\n",
			[]string{`c.yaml:7: mqtt.topics[0].status.path: "devices.#.state" is not a path of plain keys`}},
		{"empty path segment", z2mTopic + "      status:\n        path: state.\n",
			[]string{`c.yaml:7: mqtt.topics[0].status.path: "state." is not a path of plain keys`}},
		{"empty value", z2mTopic + "      status:\n        path: state\n        online: [online, \" \"]\n        offline: [offline]\n",
			[]string{`c.yaml:8: mqtt.topics[0].status.online[1]: empty value`}},
		{"a value in both lists", z2mTopic + "      status:\n        online:\n          - Online\n        offline:\n          - Offline\n          - online\n",
			[]string{`c.yaml:11: mqtt.topics[0].status.offline[1]: "online" is also listed at mqtt.topics[0].status.online[0]`}},
		{"against the built-in words", z2mTopic + "      status:\n        offline: [up]\n",
			[]string{`c.yaml:7: mqtt.topics[0].status.offline[0]: "up" is one of the built-in online words (online, up, 1, true); list online values too`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml), Overrides{})
			require.Error(t, err)
			ps, ok := yamlcheck.AsProblems(err)
			require.True(t, ok, "%T %v", err, err)
			require.Len(t, ps, len(tc.want), ps.Error())
			for i, w := range tc.want {
				assert.True(t, strings.HasPrefix(ps[i].Error(), w), "got  %s\nwant %s…", ps[i].Error(), w)
			}
		})
	}
}
