package apps

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/publisher"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a simulated clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// monday6 is Monday 2 March 2026, 06:00 in Đà Nẵng.
func monday6() time.Time { return time.Date(2026, 3, 2, 6, 0, 0, 0, fleet.Vietnam()) }

func newTestApps(t *testing.T, clock *fakeClock, faults ...string) *Apps {
	t.Helper()
	var fs []simulator.Fault
	for _, s := range faults {
		f, err := simulator.ParseFault(s)
		require.NoError(t, err)
		fs = append(fs, f)
	}
	a, err := New(Config{Wards: fleet.DefaultWards()[:3], Seed: 7, Clock: clock.Now, Faults: fs})
	require.NoError(t, err)
	return a
}

func clockAt(day time.Time, hhmm string) time.Time {
	tt, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	return time.Date(day.Year(), day.Month(), day.Day(), tt.Hour(), tt.Minute(), 0, 0, day.Location())
}

func TestAppsFollowOfficeHours(t *testing.T) {
	clock := &fakeClock{t: monday6()}
	a := newTestApps(t, clock)
	day := monday6()
	byTime := map[string]AppSnapshot{}
	var prev AppSnapshot
	for m := 6 * 60; m <= 19*60; m += 5 {
		clock.Set(clockAt(day, hhmm(m)))
		s, err := a.Snapshot("thanh-binh")
		require.NoError(t, err)
		byTime[hhmm(m)] = s
		// The model is as of its last 10-second step.
		closed := !fleet.OfficeOpen(s.SimulatedTime.Add(-appStep), fleet.Vietnam())
		if closed {
			assert.Zero(t, s.QueueLength, "queue at %s, office closed", hhmm(m))
		}
		if prev.Ward != "" {
			assert.GreaterOrEqual(t, s.TicketsIssued, prev.TicketsIssued, "tickets never go back")
			assert.GreaterOrEqual(t, s.WaitCount, prev.WaitCount)
			if closed && !fleet.OfficeOpen(prev.SimulatedTime, fleet.Vietnam()) {
				assert.Equal(t, prev.TicketsIssued, s.TicketsIssued, "no tickets while closed (%s)", hhmm(m))
			}
		}
		assert.LessOrEqual(t, s.DossiersProcessed, s.DossiersReceived)
		prev = s
	}
	q := func(hhmm string) float64 { return byTime[hhmm].QueueLength }
	t.Logf("queue: 08:00 %v, 09:00 %v, 10:30 %v, 11:25 %v, 14:00 %v, 16:00 %v, 16:55 %v", q("08:00"), q("09:00"), q("10:30"), q("11:25"), q("14:00"), q("16:00"), q("16:55"))
	// The queue builds up in the peaks and drains after them.
	assert.Greater(t, q("10:30"), q("08:00")+10, "morning peak")
	assert.Less(t, q("11:25"), q("10:30"), "drains before lunch")
	assert.Greater(t, q("16:00"), q("14:00")+5, "afternoon peak")
	assert.Less(t, q("16:55"), q("16:00"), "drains before closing")
	end := byTime["19:00"]
	assert.Zero(t, end.QueueLength)
	assert.Greater(t, end.WaitCount, 150.0, "citizens served in a day")
	mean := end.WaitSum / end.WaitCount
	t.Logf("served %v, mean wait %.0f s, tickets today %v", end.WaitCount, mean, end.TicketsIssued-byTime["06:00"].TicketsIssued)
	assert.True(t, mean > 60 && mean < 3600, "mean wait %.0f s", mean)
}

func hhmm(m int) string {
	return time.Date(2000, 1, 1, m/60, m%60, 0, 0, time.UTC).Format("15:04")
}

// scrapeBody fetches a ward's exposition through the handler.
func scrapeBody(t *testing.T, a *Apps, ward, accept string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/wards/"+ward+"/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

func TestAppsDeterministicWhateverTheScrapeRate(t *testing.T) {
	c1, c2 := &fakeClock{t: monday6()}, &fakeClock{t: monday6()}
	a1, a2 := newTestApps(t, c1), newTestApps(t, c2)
	end := clockAt(monday6(), "15:07")
	// a1 is scraped every 15 s, a2 once at the end.
	for tt := monday6(); tt.Before(end); tt = tt.Add(15 * time.Second) {
		c1.Set(tt)
		scrapeBody(t, a1, "thuan-phuoc", "")
	}
	c1.Set(end)
	c2.Set(end)
	_, _, b1 := scrapeBody(t, a1, "thuan-phuoc", "")
	_, _, b2 := scrapeBody(t, a2, "thuan-phuoc", "")
	assert.Equal(t, b1, b2)

	c3 := &fakeClock{t: monday6()}
	a3, err := New(Config{Wards: fleet.DefaultWards()[:3], Seed: 8, Clock: c3.Now})
	require.NoError(t, err)
	c3.Set(end)
	_, _, b3 := scrapeBody(t, a3, "thuan-phuoc", "")
	assert.NotEqual(t, b1, b3, "another seed, another day")
}

func TestAppsExposition(t *testing.T) {
	clock := &fakeClock{t: monday6()}
	a := newTestApps(t, clock)
	clock.Set(clockAt(monday6(), "09:30"))

	code, ct, body := scrapeBody(t, a, "thach-thang", "")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, ct, "text/plain")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	want := map[string]dto.MetricType{
		MetricTicketsIssued:     dto.MetricType_COUNTER,
		MetricQueueLength:       dto.MetricType_GAUGE,
		MetricWaitSeconds:       dto.MetricType_HISTOGRAM,
		MetricDossiersReceived:  dto.MetricType_COUNTER,
		MetricDossiersProcessed: dto.MetricType_COUNTER,
		MetricDossiersOverdue:   dto.MetricType_GAUGE,
	}
	require.Len(t, fams, len(want), "only the app's metrics: no Go or process collector")
	for name, typ := range want {
		require.Contains(t, fams, name)
		assert.Equal(t, typ, fams[name].GetType(), name)
	}
	assert.Len(t, fams[MetricWaitSeconds].Metric[0].Histogram.Bucket, len(waitBuckets)+1, "with +Inf")

	// OpenMetrics for those who ask.
	code, ct, body = scrapeBody(t, a, "thach-thang", "application/openmetrics-text;version=1.0.0")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, ct, "application/openmetrics-text")
	assert.True(t, strings.HasSuffix(body, "# EOF\n"))

	code, _, _ = scrapeBody(t, a, "son-tra", "")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestAppsFaults(t *testing.T) {
	clock := &fakeClock{t: monday6()}
	// From 06:00: app-down 09:00–09:30 at thanh-binh, queue-stuck 10:00–11:00 at thuan-phuoc.
	a := newTestApps(t, clock, "app-down@thanh-binh,after=3h,for=30m", "queue-stuck@thuan-phuoc,after=4h,for=1h",
		"door-stuck-open@thanh-binh/door-1") // not an app fault: ignored
	day := monday6()
	assert.Empty(t, a.FaultEvents())

	clock.Set(clockAt(day, "09:10"))
	code, _, _ := scrapeBody(t, a, "thanh-binh", "")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	code, _, _ = scrapeBody(t, a, "thuan-phuoc", "")
	assert.Equal(t, http.StatusOK, code, "other wards keep answering")
	clock.Set(clockAt(day, "09:30"))
	code, _, _ = scrapeBody(t, a, "thanh-binh", "")
	assert.Equal(t, http.StatusOK, code, "back at the end of the fault")

	snap := func(hhmm string) AppSnapshot {
		clock.Set(clockAt(day, hhmm))
		s, err := a.Snapshot("thuan-phuoc")
		require.NoError(t, err)
		return s
	}
	before := snap("09:59")
	stuck := snap("10:01")
	assert.True(t, stuck.Stuck)
	assert.GreaterOrEqual(t, stuck.QueueLength, float64(stuckQueueMin))
	later := snap("10:55")
	assert.Equal(t, stuck.QueueLength, later.QueueLength, "queue length stuck")
	assert.Equal(t, stuck.TicketsIssued, later.TicketsIssued, "no tickets issued")
	assert.GreaterOrEqual(t, stuck.TicketsIssued, before.TicketsIssued)
	after := snap("11:20")
	assert.False(t, after.Stuck)
	assert.Greater(t, after.TicketsIssued, later.TicketsIssued, "tickets again once the kiosk works")

	evs := a.FaultEvents()
	require.Len(t, evs, 2)
	assert.Equal(t, simulator.FaultEvent{Kind: simulator.FaultAppDown, Ward: "thanh-binh", Start: clockAt(day, "09:00"), End: clockAt(day, "09:30")}, evs[0])
	assert.Equal(t, simulator.FaultEvent{Kind: simulator.FaultQueueStuck, Ward: "thuan-phuoc", Start: clockAt(day, "10:00"), End: clockAt(day, "11:00")}, evs[1])
}

func TestAppFaultsParseAsWardFaults(t *testing.T) {
	f, err := simulator.ParseFault("app-down@hai-chau-1,after=1m,for=2m")
	require.NoError(t, err)
	assert.Equal(t, simulator.Fault{Kind: simulator.FaultAppDown, Ward: "hai-chau-1", After: time.Minute, For: 2 * time.Minute}, f)
	assert.Equal(t, "app-down@hai-chau-1,after=1m0s,for=2m0s", f.String())
	_, err = simulator.ParseFault("queue-stuck@hai-chau-1/door-1")
	assert.ErrorContains(t, err, "applies to a whole ward")
	_, err = New(Config{Faults: []simulator.Fault{{Kind: simulator.FaultQueueStuck, Ward: "son-tra"}}})
	assert.ErrorContains(t, err, `unknown ward "son-tra"`)
	_, err = New(Config{App: "One Stop"})
	assert.ErrorContains(t, err, "must be an ASCII slug")
}

// The fleet simulator takes the app faults too (so one --fault list serves both) and
// reports them among its fault events; they change nothing in the devices' telemetry.
func TestSimulatorRecordsAppFaults(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close() // nothing listens: the devices keep retrying, the fault schedule runs anyway
	cfg := simulator.DefaultConfig()
	cfg.BrokerURL = "tcp://" + addr
	cfg.Wards = cfg.Wards[:2]
	cfg.Duration = 300 * time.Millisecond
	f, err := simulator.ParseFault("app-down@thanh-binh,after=50ms")
	require.NoError(t, err)
	cfg.Faults = []simulator.Fault{f}
	sim, err := publisher.New(cfg, nil)
	require.NoError(t, err)
	_ = sim.Run(context.Background())
	evs := sim.FaultEvents()
	require.Len(t, evs, 1)
	assert.Equal(t, simulator.FaultAppDown, evs[0].Kind)
	assert.Equal(t, "thanh-binh", evs[0].Ward)

	m, err := simulator.NewModel(cfg, monday6())
	require.NoError(t, err)
	plain := cfg
	plain.Faults = nil
	m0, err := simulator.NewModel(plain, monday6())
	require.NoError(t, err)
	for _, d := range m.Devices() {
		p1, err := m.Next(d.Ward, d.ID, clockAt(monday6(), "09:00"))
		require.NoError(t, err)
		p0, err := m0.Next(d.Ward, d.ID, clockAt(monday6(), "09:00"))
		require.NoError(t, err)
		assert.Equal(t, string(p0), string(p1), d.ID)
	}
}

func TestAppsServeAndTargets(t *testing.T) {
	a, err := New(Config{Wards: fleet.DefaultWards()[:2], Seed: 1})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String() + "/"
	targets := a.Targets(base)
	require.Len(t, targets, 2)
	assert.Equal(t, "http://"+ln.Addr().String()+"/wards/thanh-binh/metrics", targets[0].URL)
	assert.Equal(t, "thuan-phuoc", targets[1].Ward)
	assert.Equal(t, Name, targets[1].App)
	resp, err := http.Get(targets[1].URL)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), MetricQueueLength)
	resp, err = http.Get(base)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Contains(t, string(body), "/wards/thuan-phuoc/metrics")
	cancel()
	require.NoError(t, <-done)
}
