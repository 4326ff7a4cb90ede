package simulator

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/fleet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	hcm = fleet.Vietnam()
	// 2 June 2025 is a Monday, 8 June the Sunday after.
	monday = time.Date(2025, 6, 2, 0, 0, 0, 0, hcm)
	sunday = time.Date(2025, 6, 8, 0, 0, 0, 0, hcm)
)

func at(day time.Time, hour, minute int) time.Time {
	return day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
}

// twoWards is a small fleet with the default devices per office.
func twoWards(faults ...Fault) Config {
	cfg := DefaultConfig()
	cfg.Wards = cfg.Wards[:2]
	cfg.Faults = faults
	return cfg
}

// series reads one device every interval for d, from start, and decodes the payloads.
func series(t *testing.T, m *Model, ward, device string, start time.Time, d, interval time.Duration) []map[string]any {
	t.Helper()
	var out []map[string]any
	for ts := start; !ts.After(start.Add(d)); ts = ts.Add(interval) {
		b, err := m.Next(ward, device, ts)
		require.NoError(t, err)
		out = append(out, decode(t, b))
	}
	return out
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	require.NoError(t, dec.Decode(&v), string(b))
	return v
}

func num(t *testing.T, v any) float64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v is not a number", v)
	f, err := n.Float64()
	require.NoError(t, err)
	return f
}

func TestOutdoorTemperatureCurve(t *testing.T) {
	dawn := outdoorTemp(at(monday, 5, 0), hcm, 1)
	afternoon := outdoorTemp(at(monday, 14, 0), hcm, 1)
	assert.InDelta(t, 25.5, dawn, 2.5)
	assert.InDelta(t, 33.5, afternoon, 2.5)
	assert.InDelta(t, 8, afternoon-dawn, 0.01, "the daily swing")
	january := time.Date(2025, 1, 15, 14, 0, 0, 0, hcm)
	assert.Less(t, outdoorTemp(january, hcm, 1), afternoon-2, "the monsoon winter is cooler")
}

func TestDoorCyclesFollowOfficeHours(t *testing.T) {
	m, err := NewModel(twoWards(), monday)
	require.NoError(t, err)
	cyclesOver := func(start time.Time) float64 {
		s := series(t, m, "thanh-binh", "door-1", start, time.Hour, 10*time.Second)
		var last float64
		for _, p := range s {
			c := num(t, p["cycles"])
			require.GreaterOrEqual(t, c, last, "cycles never go back")
			last = c
		}
		return last - num(t, s[0]["cycles"])
	}
	busy := cyclesOver(at(monday, 9, 0))
	night := cyclesOver(at(monday, 22, 0))
	assert.Greater(t, busy, 40.0, "a busy hour opens the door dozens of times")
	assert.Greater(t, busy, 10*night+10)
}

func TestDoorMotorCurrent(t *testing.T) {
	m, err := NewModel(twoWards(), monday)
	require.NoError(t, err)
	moving := 0
	for _, p := range series(t, m, "thanh-binh", "door-2", at(monday, 8, 0), 2*time.Hour, 10*time.Second) {
		a := num(t, p["motor_current_a"])
		if a != 0 {
			moving++
			assert.GreaterOrEqual(t, a, 1.2)
			assert.LessOrEqual(t, a, 1.6)
		}
		assert.Contains(t, []any{"open", "closed"}, p["state"])
	}
	assert.Positive(t, moving)
}

func TestHVACRunsInOfficeHoursOnly(t *testing.T) {
	m, err := NewModel(twoWards(), monday)
	require.NoError(t, err)
	for _, dev := range []string{"hvac-1", "hvac-2", "hvac-3"} {
		work := series(t, m, "thuan-phuoc", dev, at(monday, 8, 0), 3*time.Hour, time.Minute)
		last := work[len(work)-1]
		assert.Equal(t, true, last["running"], dev)
		assert.Equal(t, "", last["fault"])
		assert.InDelta(t, num(t, last["setpoint_c"]), num(t, last["temp_c"]), 1.5, "room near setpoint")
		assert.Greater(t, num(t, last["power_w"]), 300.0)

		weekend := series(t, m, "thuan-phuoc", dev, at(sunday, 10, 0), time.Hour, time.Minute)
		for _, p := range weekend {
			assert.Equal(t, false, p["running"], dev)
			assert.Less(t, num(t, p["power_w"]), 10.0)
		}
		// Off all weekend: the room follows the outdoors, hours behind on a warming morning.
		room, out := num(t, weekend[len(weekend)-1]["temp_c"]), outdoorTemp(at(sunday, 11, 0), hcm, 1)
		assert.InDelta(t, out, room, 3)
		assert.Greater(t, room, num(t, last["setpoint_c"])+2)
	}
}

// wantKeys are the documented payload keys and their JSON kinds: "int" (a number
// without a decimal point), "float" (always with one), "bool", "string".
var wantKeys = map[string]map[string]string{
	"door": {"state": "string", "cycles": "int", "motor_current_a": "float", "obstruction": "bool", "fault": "int",
		"ts": "int", "seq": "int"},
	"hvac": {"temp_c": "float", "setpoint_c": "float", "humidity_pct": "float", "power_w": "float", "running": "bool",
		"fault": "string", "ts": "int", "seq": "int"},
	"server": {"cpu_pct": "float", "mem_pct": "float", "disk_pct": "float", "temp_c": "float", "ups_on_battery": "bool",
		"ups_charge_pct": "float", "ts": "int", "seq": "int"},
	"camera": {"recording": "bool", "fps": "float", "bitrate_kbps": "float", "storage_pct": "float", "ts": "int", "seq": "int"},
}

var floatRe = regexp.MustCompile(`^-?\d+\.\d{1,2}$`)

func kindOf(v any) string {
	switch v := v.(type) {
	case bool:
		return "bool"
	case string:
		return "string"
	case json.Number:
		if floatRe.MatchString(v.String()) {
			return "float"
		}
		if _, err := v.Int64(); err == nil {
			return "int"
		}
		return "bad number " + v.String()
	}
	return "unexpected"
}

func TestPayloadsHaveExactlyTheDocumentedKeysAndTypes(t *testing.T) {
	start := at(monday, 6, 0)
	m, err := NewModel(twoWards(
		Fault{Kind: FaultDoorStuckOpen, Ward: "thanh-binh", Device: "door-1", After: 3 * time.Hour, For: time.Hour},
		Fault{Kind: FaultACFailure, Ward: "thanh-binh", Device: "hvac-1", After: 3 * time.Hour, For: time.Hour},
		Fault{Kind: FaultCameraNotRecording, Ward: "thanh-binh", Device: "camera-1", After: 3 * time.Hour, For: time.Hour},
		Fault{Kind: FaultDiskFilling, Ward: "thanh-binh", Device: "server-1", After: 3 * time.Hour, For: time.Hour},
	), start)
	require.NoError(t, err)
	devices := m.Devices()
	require.Len(t, devices, 20)
	for _, d := range devices {
		want := wantKeys[d.Class]
		// A day and a half every 7 minutes: night, office hours, lunch, the faults.
		for ts := start; ts.Before(start.Add(36 * time.Hour)); ts = ts.Add(7 * time.Minute) {
			b, err := m.Next(d.Ward, d.ID, ts)
			require.NoError(t, err)
			p := decode(t, b)
			require.ElementsMatch(t, slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(p)), "%s: %s", d.ID, b)
			for k, kind := range want {
				require.Equal(t, kind, kindOf(p[k]), "%s %s in %s", d.ID, k, b)
			}
			assert.Equal(t, ts.UnixMilli(), mustInt(t, p["ts"]))
			switch d.Class {
			case "door":
				assert.Contains(t, []any{"open", "closed"}, p["state"])
			case "hvac":
				assert.Contains(t, []any{"", "E4"}, p["fault"])
			}
		}
	}
}

func mustInt(t *testing.T, v any) int64 {
	t.Helper()
	n, err := v.(json.Number).Int64()
	require.NoError(t, err)
	return n
}

func TestSeqStrictlyIncreasesPerDevice(t *testing.T) {
	m, err := NewModel(twoWards(), monday)
	require.NoError(t, err)
	last := map[string]int64{}
	for i := range 50 {
		ts := monday.Add(time.Duration(i) * 10 * time.Second)
		for _, d := range m.Devices() {
			b, err := m.Next(d.Ward, d.ID, ts)
			require.NoError(t, err)
			seq := mustInt(t, decode(t, b)["seq"])
			assert.Equal(t, last[d.Ward+d.ID]+1, seq, "seq starts at 1 and counts every message")
			last[d.Ward+d.ID] = seq
		}
	}
	_, err = m.Next("thanh-binh", "door-1", monday)
	assert.ErrorContains(t, err, "before the previous one")
	_, err = m.Next("thanh-binh", "door-9", monday.Add(time.Hour))
	assert.ErrorContains(t, err, "unknown device thanh-binh/door-9")
}

func TestDeterministic(t *testing.T) {
	run := func(seed int64) string {
		cfg := twoWards(Fault{Kind: FaultACFailure, Ward: "thuan-phuoc", Device: "hvac-2", After: time.Hour})
		cfg.Seed = seed
		m, err := NewModel(cfg, at(monday, 8, 0))
		require.NoError(t, err)
		var b strings.Builder
		for i := range 30 {
			ts := at(monday, 8, 0).Add(time.Duration(i) * 5 * time.Minute)
			for _, d := range m.Devices() {
				p, err := m.Next(d.Ward, d.ID, ts)
				require.NoError(t, err)
				b.Write(p)
			}
		}
		return b.String()
	}
	assert.Equal(t, run(7), run(7))
	assert.NotEqual(t, run(7), run(8))
}

func TestDiskFillingReachesFull(t *testing.T) {
	start := at(monday, 9, 0)
	f := Fault{Kind: FaultDiskFilling, Ward: "thanh-binh", Device: "server-1", After: 2 * time.Minute, For: 10 * time.Minute}
	m, err := NewModel(twoWards(f), start)
	require.NoError(t, err)
	s := series(t, m, "thanh-binh", "server-1", start, 20*time.Minute, 10*time.Second)
	before := num(t, s[0]["disk_pct"])
	peak := 0.0
	for i, p := range s {
		ts := start.Add(time.Duration(i) * 10 * time.Second)
		d := num(t, p["disk_pct"])
		assert.LessOrEqual(t, d, 100.0)
		if f.ActiveAt(start, ts) {
			peak = max(peak, d)
		}
	}
	assert.GreaterOrEqual(t, peak, 95.0, "full within the fault")
	assert.InDelta(t, before, num(t, s[len(s)-1]["disk_pct"]), 0.2, "cleaned up after the fault")

	// Without a "for", it fills at 1 % per interval.
	m, err = NewModel(twoWards(Fault{Kind: FaultDiskFilling, Ward: "thanh-binh", Device: "server-1"}), start)
	require.NoError(t, err)
	s = series(t, m, "thanh-binh", "server-1", start, 10*time.Minute, 10*time.Second)
	assert.InDelta(t, min(100, num(t, s[0]["disk_pct"])+60), num(t, s[len(s)-1]["disk_pct"]), 0.5)
}

func TestACFailureWarmsTheRoom(t *testing.T) {
	start := at(monday, 9, 0)
	f := Fault{Kind: FaultACFailure, Ward: "thanh-binh", Device: "hvac-1", After: 30 * time.Minute, For: 30 * time.Minute}
	m, err := NewModel(twoWards(f), start)
	require.NoError(t, err)
	s := series(t, m, "thanh-binh", "hvac-1", start, 90*time.Minute, time.Minute)
	atStart, tenIn, atEnd, after := s[30], s[40], s[59], s[89]
	assert.Equal(t, true, s[29]["running"])
	assert.Equal(t, false, tenIn["running"])
	assert.Equal(t, "E4", tenIn["fault"])
	rise := num(t, tenIn["temp_c"]) - num(t, atStart["temp_c"])
	assert.InDelta(t, 3, rise, 0.6, "about 0.3 °C a minute")
	out := outdoorTemp(start.Add(59*time.Minute), hcm, 1)
	assert.LessOrEqual(t, num(t, atEnd["temp_c"]), out+2.5, "toward outdoor+2, not beyond")
	assert.Greater(t, num(t, atEnd["temp_c"]), num(t, atStart["temp_c"])+5)
	assert.Equal(t, true, after["running"], "repaired")
	assert.Equal(t, "", after["fault"])
	assert.Less(t, num(t, after["temp_c"]), num(t, atEnd["temp_c"])-3, "cooling again")
}

func TestDoorStuckOpen(t *testing.T) {
	start := at(monday, 9, 0)
	f := Fault{Kind: FaultDoorStuckOpen, Ward: "thanh-binh", Device: "door-1", After: 10 * time.Minute, For: 20 * time.Minute}
	m, err := NewModel(twoWards(f), start)
	require.NoError(t, err)
	s := series(t, m, "thanh-binh", "door-1", start, time.Hour, 10*time.Second)
	stuck := s[61:180] // 10:10 to 29:50 into the run
	for _, p := range stuck {
		assert.Equal(t, "open", p["state"])
		assert.Equal(t, stuck[0]["cycles"], p["cycles"], "cycles stop")
		assert.Equal(t, json.Number("0"), p["fault"], "no fault code: the controller thinks someone is in the doorway")
	}
	assert.Greater(t, num(t, s[len(s)-1]["cycles"]), num(t, stuck[0]["cycles"]), "cycling again after the fault")
}

func TestCameraNotRecording(t *testing.T) {
	start := at(monday, 20, 0)
	f := Fault{Kind: FaultCameraNotRecording, Ward: "thuan-phuoc", Device: "camera-3", After: 5 * time.Minute, For: 5 * time.Minute}
	m, err := NewModel(twoWards(f), start)
	require.NoError(t, err)
	s := series(t, m, "thuan-phuoc", "camera-3", start, 15*time.Minute, time.Minute)
	for i, p := range s {
		if i >= 5 && i < 10 {
			assert.Equal(t, false, p["recording"])
			assert.Equal(t, json.Number("0.0"), p["fps"])
			assert.Equal(t, s[5]["storage_pct"], p["storage_pct"], "nothing written")
			continue
		}
		assert.Equal(t, true, p["recording"])
		assert.Equal(t, json.Number("25.0"), p["fps"])
		assert.Greater(t, num(t, p["bitrate_kbps"]), 1000.0)
	}
	// The NVR purges a day at midnight: storage drops once a day.
	before := num(t, series(t, m, "thuan-phuoc", "camera-3", at(monday, 23, 59), 0, time.Minute)[0]["storage_pct"])
	afterMidnight := num(t, series(t, m, "thuan-phuoc", "camera-3", at(monday, 24, 1), 0, time.Minute)[0]["storage_pct"])
	assert.Greater(t, before-afterMidnight, 5.0)
}

func TestFormatDecimal(t *testing.T) {
	tests := []struct {
		v    float64
		prec int
		want string
	}{
		{25, 1, "25.0"}, {27.46, 1, "27.5"}, {1.4, 2, "1.4"}, {1.456, 2, "1.46"}, {0, 2, "0.0"},
		{-0.001, 1, "0.0"}, {100, 1, "100.0"}, {1650.04, 1, "1650.0"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(formatDecimal(tt.v, tt.prec)), "%v", tt.v)
	}
}
