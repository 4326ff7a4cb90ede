package topic

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompileErrors(t *testing.T) {
	cases := map[string]string{
		"":                          "empty pattern",
		"a/#/b":                     "segment 2: '#' must be the last segment",
		"facmon/{ward}/{floor}":     "segment 3: unknown name {floor}",
		"facmon/{ward}/{ward}":      "segment 3: {ward} captured twice",
		"facmon/x{ward}/{device}":   `segment 2 "x{ward}": wildcards and {names} must fill a whole segment`,
		"facmon/dev+/{device}/tele": `segment 2 "dev+"`,
	}
	for pattern, want := range cases {
		_, err := Compile(pattern)
		require.Error(t, err, pattern)
		assert.Contains(t, err.Error(), want, pattern)
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		pattern, topic string
		ok             bool
		want           Captures
	}{
		{"facmon/{ward}/{class}/{device}/telemetry", "facmon/thanh-binh/door/door-1/telemetry", true,
			Captures{Ward: "thanh-binh", Class: "door", Device: "door-1"}},
		{"facmon/{ward}/{class}/{device}/telemetry", "facmon/thanh-binh/door/door-1/status", false, Captures{}},
		{"facmon/{ward}/{class}/{device}/telemetry", "facmon/thanh-binh/door/door-1/telemetry/x", false, Captures{}},
		{"facmon/{ward}/{class}/{device}/telemetry", "facmon/thanh-binh/door/telemetry", false, Captures{}},
		{"facmon/{ward}/{class}/{device}/telemetry", "facmon/thanh-binh/door//telemetry", true,
			Captures{Ward: "thanh-binh", Class: "door"}},
		{"tele/{device}/SENSOR", "tele/plug-7/SENSOR", true, Captures{Device: "plug-7"}},
		{"site/{site}/+/{room}/{device}/#", "site/hq/floor2/r201/cam-1/a/b", true,
			Captures{Site: "hq", Room: "r201", Device: "cam-1"}},
		{"site/{site}/#", "site/hq", true, Captures{Site: "hq"}},
		{"zigbee2mqtt/{device}", "zigbee2mqtt/door_sensor_3", true, Captures{Device: "door_sensor_3"}},
	}
	for _, tc := range cases {
		p, err := Compile(tc.pattern)
		require.NoError(t, err)
		var c Captures
		assert.Equal(t, tc.ok, p.Match(tc.topic, &c), "%s ~ %s", tc.pattern, tc.topic)
		if tc.ok {
			assert.Equal(t, tc.want, c, tc.topic)
		}
	}
}

func TestFilter(t *testing.T) {
	p, err := Compile("site/{site}/+/{room}/{device}/#")
	require.NoError(t, err)
	assert.Equal(t, "site/+/+/+/+/#", p.Filter())
	assert.True(t, p.Captures(Room))
	assert.False(t, p.Captures(Ward))
}

func BenchmarkMatch(b *testing.B) {
	p, _ := Compile("facmon/{ward}/{class}/{device}/telemetry")
	var c Captures
	b.ReportAllocs()
	for b.Loop() {
		p.Match("facmon/hoa-cuong-nam/camera/camera-4/telemetry", &c)
	}
}

// FuzzTopic checks that compiling and matching arbitrary patterns and
// topics never panics, and that what a match captures is a topic level.
func FuzzTopic(f *testing.F) {
	f.Add("facmon/{ward}/{class}/{device}/telemetry", "facmon/a/b/c/telemetry")
	f.Add("site/{site}/#", "site/x/y")
	f.Add("+/+/{device}", "//")
	f.Fuzz(func(t *testing.T, pattern, topicName string) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		var c Captures
		if !p.Match(topicName, &c) {
			return
		}
		levels := strings.Split(topicName, "/")
		for _, v := range []string{c.Ward, c.Class, c.Device, c.Site, c.Room} {
			if strings.Contains(v, "/") {
				t.Fatalf("capture %q spans levels of %q", v, topicName)
			}
			if v != "" && !contains(levels, v) {
				t.Fatalf("capture %q is not a level of %q", v, topicName)
			}
		}
	})
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}
