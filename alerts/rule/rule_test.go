package rule

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultsCompile(t *testing.T) {
	fields := map[string]map[string]string{
		"door":   {"state": "string", "cycles": "int", "motor_current_a": "float", "obstruction": "bool", "fault": "int"},
		"hvac":   {"temp_c": "float", "setpoint_c": "float", "humidity_pct": "float", "power_w": "float", "running": "bool", "fault": "string"},
		"server": {"cpu_pct": "float", "mem_pct": "float", "disk_pct": "float", "temp_c": "float", "ups_on_battery": "bool", "ups_charge_pct": "float"},
		"camera": {"recording": "bool", "fps": "float", "bitrate_kbps": "float", "storage_pct": "float"},
	}
	cs, ps := Compile(Defaults(), fields)
	require.Empty(t, ps)
	for _, c := range cs {
		assert.NotEmpty(t, c.Doc, "%s is documented", c.Name)
		vi, en := c.Summaries(Data{Device: "door-1", WardName: "Thanh Bình", Value: 1})
		assert.NotEqual(t, c.Name, vi, "%s renders its Vietnamese summary", c.Name)
		assert.NotEqual(t, c.Name, en)
	}
}

func TestHysteresis(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		op           string
		value, clear *float64
		v            float64
		fires, clrs  bool
	}{
		{">", f(30), f(29), 30.5, true, false},
		{">", f(30), f(29), 29.5, false, false}, // between: neither fires nor clears
		{">", f(30), f(29), 28.9, false, true},
		{">", f(30), nil, 30, false, true},
		{"<", f(10), f(15), 9, true, false},
		{"<", f(10), f(15), 12, false, false},
		{"<", f(10), f(15), 15.1, false, true},
		{"==", f(0), nil, 0, true, false},
		{"==", f(0), nil, 1, false, true},
	}
	for _, tc := range cases {
		c := &Compiled{Rule: Rule{Op: tc.op, Value: tc.value, Clear: tc.clear}}
		assert.Equal(t, tc.fires, Compare(tc.v, tc.op, *tc.value), "%+v", tc)
		assert.Equal(t, tc.clrs, c.Cleared(tc.v), "%+v", tc)
	}
}

func TestDurationDays(t *testing.T) {
	var d Duration
	require.NoError(t, d.UnmarshalText([]byte("3d")))
	assert.Equal(t, "72h0m0s", d.D().String())
	assert.Error(t, d.UnmarshalText([]byte("soon")))
}
