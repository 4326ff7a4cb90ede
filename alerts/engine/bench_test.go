package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
)

// benchFleet is a 5,000-device fleet over 13 wards reporting the way the
// ingest benchmark's publisher does: doors open a third of the time, one
// AC in ten stopped, so several built-in rules hold live alerts and the
// lookups the hot path makes are the ones a real office causes.
func benchFleet(n int) []*reading.Reading {
	rng := rand.New(rand.NewPCG(1, 2))
	classes := []string{"door", "door", "door", "hvac", "hvac", "hvac", "hvac", "server", "camera", "camera"}
	t := monday(9, 0)
	out := make([]*reading.Reading, 0, n)
	for i := range n {
		class := classes[i%len(classes)]
		ward := fmt.Sprintf("ward-%d", i%13)
		dev := fmt.Sprintf("%s-%d", class, (i/13)%500)
		r := &reading.Reading{Measurement: class, Ward: ward, Class: class, Device: dev, Time: t, Received: t}
		switch class {
		case "door":
			state := "closed"
			if rng.IntN(3) == 0 {
				state = "open"
			}
			r.Fields = []reading.Field{st("state", state), in("cycles", int64(i)), fl("motor_current_a", 1.3), bo("obstruction", false), in("fault", 0)}
		case "hvac":
			r.Fields = []reading.Field{fl("temp_c", 24+rng.Float64()*6), fl("setpoint_c", 25), fl("humidity_pct", 60), fl("power_w", 1500), bo("running", rng.IntN(10) != 0), st("fault", "")}
		case "server":
			r.Fields = []reading.Field{fl("cpu_pct", 20), fl("mem_pct", 50), fl("disk_pct", 71), fl("temp_c", 50), bo("ups_on_battery", false), fl("ups_charge_pct", 100)}
		case "camera":
			r.Fields = []reading.Field{bo("recording", true), fl("fps", 25), fl("bitrate_kbps", 1900), fl("storage_pct", 65)}
		}
		out = append(out, r)
	}
	return out
}

// BenchmarkProcess is the alert engine's share of ingest: one reading
// through liveness and every rule of its class, with the built-in rules.
func BenchmarkProcess(b *testing.B) {
	cs, ps := rule.Compile(rule.Defaults(), map[string]map[string]string{
		"door":   {"state": "string", "cycles": "int", "motor_current_a": "float", "obstruction": "bool", "fault": "int"},
		"hvac":   {"temp_c": "float", "setpoint_c": "float", "humidity_pct": "float", "power_w": "float", "running": "bool", "fault": "string"},
		"server": {"cpu_pct": "float", "mem_pct": "float", "disk_pct": "float", "temp_c": "float", "ups_on_battery": "bool", "ups_charge_pct": "float"},
		"camera": {"recording": "bool", "fps": "float", "bitrate_kbps": "float", "storage_pct": "float"},
	})
	require.Empty(b, ps)
	start := monday(9, 0)
	cals := map[string]*calendar.Calendar{}
	for w := range 13 {
		cals[fmt.Sprintf("ward-%d", w)] = calendar.Default()
	}
	live := liveness.New(func(string, string, string) time.Duration { return time.Minute }, start)
	e, err := New(Options{
		Rules:     cs,
		Calendars: cals,
		Liveness:  live,
		Notifier:  &recorder{},
		Events:    &events{},
		Pipeline:  &pipe{connected: true},
		Now:       func() time.Time { return start },
	})
	require.NoError(b, err)
	fleet := benchFleet(50_000)
	for _, r := range fleet[:5000] {
		live.Observe(r)
		e.Process(r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := fleet[i%len(fleet)]
		live.Observe(r) // the service feeds liveness beside the engine: its cost is in the figure
		e.Process(r)
	}
}

func in(k string, v int64) reading.Field { return reading.Field{Key: k, Kind: reading.Int, Int: v} }
