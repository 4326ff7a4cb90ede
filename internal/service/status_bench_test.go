package service

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/view"

	"github.com/facmon/facmon/alerts/engine/lifecycle"

	"github.com/stretchr/testify/require"

	alertsapi "github.com/facmon/facmon/alerts/api"
	"github.com/facmon/facmon/alerts/engine"
	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/web/status"
)

type nopNotifier struct{}

func (nopNotifier) Firing(notify.Alert)   {}
func (nopNotifier) Resolved(notify.Alert) {}

type nopEvents struct{}

func (nopEvents) Deliver(_ *reading.Reading, a reading.Acker) error { a.Ack(); return nil }

type upPipeline struct{}

func (upPipeline) BrokerConnected() bool         { return true }
func (upPipeline) SpoolOldestAge() time.Duration { return 0 }
func (upPipeline) DeviceLimit() (time.Time, int) { return time.Time{}, 0 }

// collectingSource is the service's status source without a broker.
type collectingSource struct{ statusSource }

func (collectingSource) Collecting() bool { return true }

// flooded is facmon's liveness tracker and alert engine, with the
// built-in rules, after 50,000 new cameras spread over the 13 wards fell
// silent past their heartbeat: 50,000 DeviceOffline alerts firing, the
// flood of issue 12.
func flooded(b *testing.B, devices int) (config.Config, *liveness.Tracker, *engine.Engine) {
	b.Helper()
	cfg := config.Default()
	rules, err := cfg.CompileRules()
	require.NoError(b, err)
	cals, err := cfg.OfficeCalendars()
	require.NoError(b, err)
	t0 := time.Now().Add(-time.Hour)
	clock := t0
	tracker := liveness.New(cfg.Liveness.HeartbeatOf, t0)
	eng, err := engine.New(engine.Options{
		Rules: rules, Calendars: cals, Liveness: tracker,
		Notifier: nopNotifier{}, Events: nopEvents{}, Pipeline: upPipeline{},
		Now: func() time.Time { return clock },
	})
	require.NoError(b, err)
	clock = t0.Add(10 * time.Minute)
	for i := range devices {
		r := &reading.Reading{Measurement: "camera", Ward: cfg.Offices[i%len(cfg.Offices)].ID, Class: "camera",
			Device: fmt.Sprintf("camera-%05d", i), Time: clock, Received: clock,
			Fields: []reading.Field{{Key: "recording", Kind: reading.Bool, Bool: true}}}
		tracker.Observe(r)
		eng.Process(r)
	}
	for _, m := range []time.Duration{30, 45, 50} {
		clock = t0.Add(m * time.Minute)
		eng.Tick(clock)
	}
	p, err := eng.Alerts(view.Query{Rule: "DeviceOffline", State: lifecycle.StateFiring, Limit: 1})
	require.NoError(b, err)
	require.Equal(b, devices, p.Total, "every silent camera's alert fires")
	return cfg, tracker, eng
}

// BenchmarkStatusPage50kAlerts serves the status page as facmon does with
// 50,000 alerts firing (it took 52 s and 20 MB before alerts were grouped).
func BenchmarkStatusPage50kAlerts(b *testing.B) {
	const devices = 50_000
	cfg, tracker, eng := flooded(b, devices)
	page := status.New(collectingSource{statusSource{&Service{cfg: cfg, liveness: tracker, alerts: eng}}},
		status.Options{ReportPath: "/reports/uptime", AlertsPath: "/api/alerts"})
	serveBench(b, page, "/")
}

// BenchmarkAlertsAPI50k serves GET /api/alerts, the default page, with
// 50,000 alerts firing (2.6 s and 36 MB before it paged).
func BenchmarkAlertsAPI50k(b *testing.B) {
	_, _, eng := flooded(b, 50_000)
	mux := http.NewServeMux()
	alertsapi.New(eng, "").Register(mux)
	serveBench(b, mux, "/api/alerts")
}

// BenchmarkMemoryPerSilentDevice reports the heap facmon keeps per device
// once it fell silent past its heartbeat: its liveness state and its
// firing DeviceOffline alert, the worst case of a flood of new ids (the
// MQTT collector's device limit adds BenchmarkDeviceLimitMemory's figure).
func BenchmarkMemoryPerSilentDevice(b *testing.B) {
	const devices = 20_000
	var perDevice float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, tracker, eng := flooded(b, devices)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perDevice = float64(after.HeapAlloc-before.HeapAlloc) / devices
		runtime.KeepAlive(tracker)
		runtime.KeepAlive(eng)
	}
	b.ReportMetric(perDevice, "heap-bytes/device")
}

func serveBench(b *testing.B, h http.Handler, target string) {
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != 200 {
			b.Fatalf("%s: status %d", target, rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "response-bytes")
	if size >= 1<<20 {
		b.Fatalf("%s is %d bytes with 50,000 alerts firing: want under 1 MiB", target, size)
	}
}
