package liveness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/facmon/facmon/internal/reading"
)

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

func status(ward, class, device string, up int64, at time.Time) *reading.Reading {
	return &reading.Reading{Measurement: reading.MeasurementDeviceStatus, Ward: ward, Class: class, Device: device,
		Fields: []reading.Field{{Key: "up", Kind: reading.Int, Int: up}}, Received: at, Time: at}
}

func telemetry(ward, class, device string, at time.Time) *reading.Reading {
	return &reading.Reading{Measurement: class, Ward: ward, Class: class, Device: device,
		Fields: []reading.Field{{Key: "x", Kind: reading.Float, Float: 1}}, Received: at, Time: at}
}

func TestJudge(t *testing.T) {
	hb := func(_, class, _ string) time.Duration {
		if class == "camera" {
			return 5 * time.Minute
		}
		return time.Minute
	}
	k := Key{"thanh-binh", "door", "door-1"}
	cases := []struct {
		name     string
		readings []*reading.Reading
		at       time.Time
		want     Verdict
	}{
		{"fresh telemetry", []*reading.Reading{telemetry(k.Ward, k.Class, k.Device, t0.Add(2*time.Minute))}, t0.Add(150 * time.Second), Verdict{Up: true}},
		{"silent past the heartbeat: down from the last reading", []*reading.Reading{telemetry(k.Ward, k.Class, k.Device, t0.Add(2*time.Minute))}, t0.Add(4 * time.Minute),
			Verdict{Since: t0.Add(2 * time.Minute), Reason: "silent"}},
		{"last will after the last reading", []*reading.Reading{telemetry(k.Ward, k.Class, k.Device, t0.Add(2*time.Minute)), status(k.Ward, k.Class, k.Device, 0, t0.Add(3*time.Minute))}, t0.Add(3 * time.Minute),
			Verdict{Since: t0.Add(3 * time.Minute), Reason: "offline"}},
		{"a reading after an offline status means it is back", []*reading.Reading{status(k.Ward, k.Class, k.Device, 0, t0.Add(2*time.Minute)), telemetry(k.Ward, k.Class, k.Device, t0.Add(3*time.Minute))}, t0.Add(3 * time.Minute),
			Verdict{Up: true}},
		{"an older status delivered late does not undo a newer one", []*reading.Reading{status(k.Ward, k.Class, k.Device, 1, t0.Add(3*time.Minute)), status(k.Ward, k.Class, k.Device, 0, t0.Add(2*time.Minute))}, t0.Add(3 * time.Minute),
			Verdict{Up: true}},
		{"online status counts as a sign of life", []*reading.Reading{status(k.Ward, k.Class, k.Device, 1, t0.Add(3*time.Minute))}, t0.Add(3*time.Minute + 30*time.Second),
			Verdict{Up: true}},
		{"within the first heartbeat silence is not judged", nil, t0.Add(30 * time.Second), Verdict{Unknown: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(hb, t0)
			for _, r := range tc.readings {
				tr.Observe(r)
			}
			got := tr.Judge(k, tc.at)
			assert.Equal(t, tc.want.Up, got.Up)
			assert.Equal(t, tc.want.Reason, got.Reason)
			assert.Equal(t, tc.want.Unknown, got.Unknown)
			assert.True(t, tc.want.Since.Equal(got.Since), "since %s want %s", got.Since, tc.want.Since)
		})
	}
}

func TestPerClassHeartbeatAndSamples(t *testing.T) {
	tr := New(func(_, class, _ string) time.Duration {
		if class == "camera" {
			return 5 * time.Minute
		}
		return time.Minute
	}, t0)
	tr.Observe(telemetry("w", "camera", "camera-1", t0.Add(time.Minute)))
	tr.Observe(telemetry("w", "door", "door-1", t0.Add(time.Minute)))
	tr.Observe(&reading.Reading{Measurement: "facmon_heartbeat", Received: t0}) // no device: ignored
	now := t0.Add(4 * time.Minute)
	assert.True(t, tr.Judge(Key{"w", "camera", "camera-1"}, now).Up, "a camera may be quiet for 5 minutes")
	assert.False(t, tr.Judge(Key{"w", "door", "door-1"}, now).Up)
	samples := tr.Samples(now)
	assert.Len(t, samples, 2)
	ups := map[string]int64{}
	for _, s := range samples {
		assert.Equal(t, "device_availability", s.Measurement)
		f, _ := s.Field("up")
		ups[s.Device] = f.Int
	}
	assert.Equal(t, map[string]int64{"camera-1": 1, "door-1": 0}, ups)
	assert.Len(t, tr.Snapshot(), 2)
}

func TestChangesRecordExactTransitions(t *testing.T) {
	tr := New(func(string, string, string) time.Duration { return time.Minute }, t0)
	k := Key{"w", "door", "door-1"}
	tr.Observe(telemetry(k.Ward, k.Class, k.Device, t0.Add(time.Minute)))
	at := func(d time.Duration) []*reading.Reading { return tr.Changes(t0.Add(d)) }
	first := at(90 * time.Second)
	if assert.Len(t, first, 1) {
		f, _ := first[0].Field("up")
		assert.EqualValues(t, 1, f.Int)
		assert.True(t, first[0].Time.Equal(t0.Add(time.Minute)))
	}
	assert.Empty(t, at(100*time.Second), "no change, nothing written")
	// Silent from 00:01: down once past the heartbeat, dated just after its
	// last reading, which is also the time of its "seen": one timestamp
	// would make them one point in InfluxDB.
	down := at(3 * time.Minute)
	if assert.Len(t, down, 1) {
		f, _ := down[0].Field("up")
		r, _ := down[0].Field("reason")
		assert.EqualValues(t, 0, f.Int)
		assert.Equal(t, "silent", r.Str)
		assert.True(t, down[0].Time.Equal(t0.Add(time.Minute+time.Nanosecond)), "%s", down[0].Time)
	}
	// It comes back at 00:05:10 and reports again at 00:05:20; the change is
	// dated at the first reading, whenever Changes runs.
	tr.Observe(telemetry(k.Ward, k.Class, k.Device, t0.Add(5*time.Minute+10*time.Second)))
	tr.Observe(telemetry(k.Ward, k.Class, k.Device, t0.Add(5*time.Minute+20*time.Second)))
	back := at(5*time.Minute + 25*time.Second)
	if assert.Len(t, back, 1) {
		f, _ := back[0].Field("up")
		assert.EqualValues(t, 1, f.Int)
		assert.True(t, back[0].Time.Equal(t0.Add(5*time.Minute+10*time.Second)), "%s", back[0].Time)
	}
}
