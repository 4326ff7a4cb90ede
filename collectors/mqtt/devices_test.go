package mqtt

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv"
)

func TestDeviceLimit(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	type step struct {
		ward, device string
		remember     bool // the liveness seed, not a message
		admitted     bool
		reason       string // part of the refusal's reason
	}
	cases := []struct {
		name             string
		perOffice, total int
		steps            []step
		tracked          int
	}{
		{"known ids always pass, a new one only under the office limit", 2, 10, []step{
			{ward: "a", device: "d1", admitted: true},
			{ward: "a", device: "d2", admitted: true},
			{ward: "a", device: "d3", reason: `ward "a" already has 2 devices, the limit of ingest.max_devices_per_office`},
			{ward: "a", device: "d1", admitted: true},
			{ward: "b", device: "d3", admitted: true},
		}, 3},
		{"the fleet limit holds across offices", 5, 3, []step{
			{ward: "a", device: "d1", admitted: true},
			{ward: "b", device: "d1", admitted: true},
			{ward: "c", device: "d1", admitted: true},
			{ward: "d", device: "d1", reason: "facmon already tracks 3 devices, the limit of ingest.max_devices"},
			{ward: "b", device: "d1", admitted: true},
		}, 3},
		{"a device stored before the restart is known beyond the limit", 1, 10, []step{
			{ward: "a", device: "flood-1", admitted: true},
			{ward: "a", device: "d1", remember: true},
			{ward: "a", device: "d1", admitted: true},
			{ward: "a", device: "flood-2", reason: "max_devices_per_office"},
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newDeviceLimit(tc.perOffice, tc.total)
			assert.True(t, l.lastRefused().IsZero())
			var refused time.Time
			for i, s := range tc.steps {
				at := t0.Add(time.Duration(i) * time.Second)
				if s.remember {
					l.remember(s.ward, "door", s.device)
					continue
				}
				ok, why := l.admit(s.ward, "door", s.device, at)
				assert.Equal(t, s.admitted, ok, "step %d: %s/%s", i, s.ward, s.device)
				if !s.admitted {
					assert.Contains(t, why, s.reason, "step %d", i)
					refused = at
				}
			}
			assert.Equal(t, int64(tc.tracked), l.tracked.Load())
			assert.True(t, refused.Equal(l.lastRefused()), "last refusal %v, want %v", l.lastRefused(), refused)
		})
	}
}

// TestDeviceLimitKeysDoNotPinTopics: the ids the limiter keeps are copies,
// not slices of the message topic that brought them (paho allocates a
// topic string per message: kept slices would keep every one alive).
func TestDeviceLimitKeysDoNotPinTopics(t *testing.T) {
	l := newDeviceLimit(10, 10)
	topic := "facmon/hai-chau-1/door/door-9/telemetry"
	parts := strings.Split(topic, "/")
	ward, device := parts[1], parts[3]
	require.True(t, sameBacking(ward, topic) && sameBacking(device, topic), "the ids slice the topic, as the decoder's captures do")
	ok, _ := l.admit(ward, "door", device, time.Now())
	require.True(t, ok)
	for k := range l.devices {
		assert.False(t, sameBacking(k.ward, topic), "ward id shares the topic's memory")
		assert.False(t, sameBacking(k.device, topic), "device id shares the topic's memory")
	}
}

func sameBacking(s, within string) bool {
	if s == "" {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	base := uintptr(unsafe.Pointer(unsafe.StringData(within)))
	return p >= base && p < base+uintptr(len(within))
}

// TestDeviceFloodThroughMosquitto publishes new ids of one office without
// an inventory, with mosquitto_pub, past a limit of 5 per office: the
// first 5 are taken, the rest counted as device_limit, and a known device
// still gets through after the refusals.
func TestDeviceFloodThroughMosquitto(t *testing.T) {
	b := testenv.StartMosquitto(t)
	sink := &recordingSink{}
	c, reg := startCollector(t, b, func(o *Options) { o.MaxDevicesPerOffice, o.MaxDevices = 5, 8 }, sink)
	var lines strings.Builder
	for i := range 12 {
		fmt.Fprintf(&lines, "facmon/hai-chau-1/camera/cam-%02d/telemetry {\"recording\":true}\n", i)
	}
	// A second office fills the fleet limit: 3 more fit, the next is refused.
	for i := range 4 {
		fmt.Fprintf(&lines, "facmon/thanh-binh/camera/cam-%02d/telemetry {\"recording\":true}\n", i)
	}
	for _, l := range strings.Split(strings.TrimSpace(lines.String()), "\n") {
		topic, payload, _ := strings.Cut(l, " ")
		mosquittoPub(t, b, topic, payload)
	}
	mosquittoPub(t, b, "facmon/hai-chau-1/camera/cam-00/telemetry", `{"recording":false}`)
	testenv.Eventually(t, 10*time.Second, "every message handled", func() (bool, string) {
		taken, refused := len(sink.readings()), counterValue(t, reg, "facmon_readings_rejected_total", "reason", string(ReasonDeviceLimit))
		return taken == 9 && refused == 8, fmt.Sprintf("%d taken, %v refused", taken, refused)
	})
	got := map[string]int{}
	for _, r := range sink.readings() {
		got[r.Ward+"/"+r.Device]++
	}
	assert.Equal(t, map[string]int{
		"hai-chau-1/cam-00": 2, "hai-chau-1/cam-01": 1, "hai-chau-1/cam-02": 1, "hai-chau-1/cam-03": 1, "hai-chau-1/cam-04": 1,
		"thanh-binh/cam-00": 1, "thanh-binh/cam-01": 1, "thanh-binh/cam-02": 1,
	}, got, "the first ids of each office up to the limits, and the known device after the refusals")
	last, tracked := c.DeviceLimit()
	assert.False(t, last.IsZero(), "the pipeline rule sees the refusal")
	assert.Equal(t, 8, tracked)
	assert.Equal(t, 8.0, gaugeValue(t, reg, "facmon_mqtt_devices"))
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// BenchmarkDeviceLimitMemory reports the heap the limiter keeps per
// tracked device (make bench; the README quotes it).
func BenchmarkDeviceLimitMemory(b *testing.B) {
	const devices = 100_000
	var perDevice float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		l := newDeviceLimit(devices, devices)
		for i := range devices {
			l.admit(fmt.Sprintf("ward-%03d", i%100), "camera", fmt.Sprintf("camera-%05d", i), time.Time{})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perDevice = float64(after.HeapAlloc-before.HeapAlloc) / devices
		runtime.KeepAlive(l)
	}
	b.ReportMetric(perDevice, "heap-bytes/device")
}
