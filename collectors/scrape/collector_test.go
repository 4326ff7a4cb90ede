package scrape

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/testenv"
)

// recSink records what the collector delivers; fail, when set, refuses some.
type recSink struct {
	mu   sync.Mutex
	rs   []*reading.Reading
	fail func(*reading.Reading) error
}

func (s *recSink) Deliver(r *reading.Reading, a reading.Acker) error {
	if s.fail != nil {
		if err := s.fail(r); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.rs = append(s.rs, r)
	s.mu.Unlock()
	a.Ack()
	return nil
}

// scrapes returns the scrape readings of a ward/app, in order.
func (s *recSink) scrapes(ward, app string) []*reading.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*reading.Reading
	for _, r := range s.rs {
		if r.Measurement == MeasurementScrape && r.Ward == ward && r.Device == app {
			out = append(out, r)
		}
	}
	return out
}

// series returns the readings of one measurement of a ward/app.
func (s *recSink) series(ward, app, measurement string) []*reading.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*reading.Reading
	for _, r := range s.rs {
		if r.Measurement == measurement && r.Ward == ward && r.Device == app {
			out = append(out, r)
		}
	}
	return out
}

func upOf(r *reading.Reading) int64 {
	f, _ := r.Field(FieldUp)
	return f.Int
}

func tag(r *reading.Reading, key string) string {
	for _, t := range r.Extra {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

type running struct {
	once   sync.Once
	c      *Collector
	reg    *prometheus.Registry
	sink   *recSink
	logs   *testenv.LogBuffer
	cancel context.CancelFunc
	done   chan error
}

// start runs a collector over targets until the test ends.
func start(t *testing.T, sink *recSink, targets ...Target) *running {
	t.Helper()
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	c, err := New(Options{Targets: targets, Bounds: testBounds}, sink, log, reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, reg: reg, sink: sink, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("collector log:\n%s", logs)
		}
	})
	return r
}

// stop ends Run and waits for it; later calls do nothing.
func (r *running) stop(t *testing.T) {
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("collector did not stop")
		}
	})
}

func (r *running) scrapesTotal(app, ward, result string) float64 {
	return testutil.ToFloat64(r.c.m.scrapes.WithLabelValues(app, ward, result))
}

func (r *running) droppedTotal(app, ward, reason string) float64 {
	return testutil.ToFloat64(r.c.m.dropped.WithLabelValues(app, ward, reason))
}

// testBounds are facmon's default ingest bounds.
var testBounds = TimeBounds{MaxPast: 7 * 24 * time.Hour, MaxFuture: 5 * time.Minute}

func tgt(url, ward, app string, interval, timeout time.Duration) Target {
	return Target{URL: url, Ward: ward, App: app, Interval: interval, Timeout: timeout, MaxSeries: 10000}
}

func staticServer(t *testing.T, contentType, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A target that hangs, one that times out and one that serves garbage each
// cost only themselves: the healthy target scraped next to them keeps its
// pace, and the bad ones are counted and recorded as up=0.
func TestBadTargetsNeverStallAHealthyOne(t *testing.T) {
	healthy := staticServer(t, contentText, "# TYPE onestop_queue_length gauge\nonestop_queue_length 12\n")
	garbage := staticServer(t, "text/html", "<html><body>502 Bad Gateway</body></html>\n")
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case entered <- struct{}{}:
			default:
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	// Close after the collector stopped (deferred calls run before cleanups).
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })

	sink := &recSink{}
	began := time.Now()
	r := start(t, sink,
		tgt(healthy.URL, "thanh-binh", "onestop", 100*time.Millisecond, time.Second),
		tgt(garbage.URL, "thuan-phuoc", "onestop", 100*time.Millisecond, time.Second),
		// Times out at every scrape.
		tgt(hanging.URL+"/fast", "thach-thang", "onestop", 200*time.Millisecond, 150*time.Millisecond),
		// Hangs for 2.5 s at a time.
		tgt(hanging.URL+"/slow", "hai-chau-1", "onestop", 3*time.Second, 2500*time.Millisecond),
	)

	// While requests to the hanging server are held open, the healthy
	// target is scraped again and again.
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow target was not scraped")
	}
	before := len(sink.scrapes("thanh-binh", "onestop"))
	testenv.Eventually(t, 10*time.Second, "healthy target scraped while another hangs", func() (bool, string) {
		n := len(sink.scrapes("thanh-binh", "onestop"))
		return n >= before+5, fmt.Sprintf("%d scrapes", n)
	})
	testenv.Eventually(t, 10*time.Second, "timeouts and garbage counted", func() (bool, string) {
		to, bad := r.scrapesTotal("onestop", "thach-thang", ResultTimeout), r.scrapesTotal("onestop", "thuan-phuoc", ResultError)
		return to >= 2 && bad >= 2, fmt.Sprintf("timeouts %v, errors %v", to, bad)
	})
	for _, s := range sink.scrapes("thanh-binh", "onestop") {
		assert.Equal(t, int64(1), upOf(s))
	}
	for _, ward := range []string{"thuan-phuoc", "thach-thang"} {
		ss := sink.scrapes(ward, "onestop")
		require.NotEmpty(t, ss)
		for _, s := range ss {
			assert.Equal(t, int64(0), upOf(s), ward)
			samples, _ := s.Field(FieldSamples)
			assert.Zero(t, samples.Int)
		}
		assert.Empty(t, sink.series(ward, "onestop", "onestop_queue_length"))
	}
	assert.NotEmpty(t, sink.series("thanh-binh", "onestop", "onestop_queue_length"))
	assert.Zero(t, r.scrapesTotal("onestop", "thanh-binh", ResultError)+r.scrapesTotal("onestop", "thanh-binh", ResultTimeout))

	st := r.c.Status()
	require.Len(t, st, 4)
	assert.True(t, st[0].Up)
	assert.Equal(t, ResultError, st[1].Result)
	assert.Contains(t, st[1].LastError, "bad exposition")
	assert.Equal(t, ResultTimeout, st[2].Result)
	assert.Equal(t, "timed out after 150ms", st[2].LastError)

	// Logged, at most once per target and outcome every 10 s.
	logs := r.logs.String()
	windows := 1 + int(time.Since(began)/(10*time.Second))
	assert.LessOrEqual(t, strings.Count(logs, "scrape timed out"), 2*windows, logs)
	assert.Positive(t, strings.Count(logs, "scrape failed"), logs)
	assert.LessOrEqual(t, strings.Count(logs, "scrape failed"), windows, logs)
}

// Shutdown does not wait for a target that hangs.
func TestRunStopsPromptlyWithAHangingTarget(t *testing.T) {
	entered := make(chan struct{}, 1)
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-r.Context().Done()
	}))
	defer hanging.Close()
	r := start(t, &recSink{}, tgt(hanging.URL, "thanh-binh", "onestop", 2*time.Second, 1900*time.Millisecond))
	<-entered
	stopped := make(chan struct{})
	go func() { r.stop(t); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return within 3 s of its context ending")
	}
	assert.Empty(t, r.sink.scrapes("thanh-binh", "onestop"), "a scrape cut short by shutdown records nothing")
}

func TestMappingAndCountersOfAScrape(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "nan_inf.prom"))
	require.NoError(t, err)
	srv := staticServer(t, contentText, string(body)+"# TYPE good gauge\ngood{k=\"v\"} 1\ngood{k=\"w\"} 2\n")
	sink := &recSink{fail: func(r *reading.Reading) error {
		if tag(r, "k") == "w" {
			return errors.New("refused by the sink")
		}
		return nil
	}}
	tg := tgt(srv.URL, "nam-duong", "kiosk", 100*time.Millisecond, time.Second)
	tg.Labels = map[string]string{"zone": "b", "env": "test"}
	r := start(t, sink, tg)
	testenv.Eventually(t, 5*time.Second, "a scrape", func() (bool, string) {
		return len(sink.scrapes("nam-duong", "kiosk")) > 0, ""
	})
	r.stop(t)

	s := sink.scrapes("nam-duong", "kiosk")[0]
	assert.Equal(t, ClassApp, s.Class)
	assert.Equal(t, []reading.Tag{{Key: "env", Value: "test"}, {Key: "zone", Value: "b"}}, s.Extra, "target labels on the scrape point too")
	samples, _ := s.Field(FieldSamples)
	assert.Equal(t, int64(11), samples.Int)
	d, _ := s.Field(FieldDuration)
	assert.Greater(t, d.Float, 0.0)
	assert.Equal(t, s.Time, s.Received)

	good := sink.series("nam-duong", "kiosk", "good")
	require.NotEmpty(t, good)
	assert.Equal(t, []reading.Tag{{Key: "env", Value: "test"}, {Key: "k", Value: "v"}, {Key: "zone", Value: "b"}}, good[0].Extra)
	assert.Equal(t, s.Time, good[0].Time, "the points of a scrape share its start time")

	scrapes := r.scrapesTotal("kiosk", "nam-duong", ResultOK)
	require.GreaterOrEqual(t, scrapes, 1.0)
	assert.Equal(t, 6*scrapes, r.droppedTotal("kiosk", "nam-duong", DropNonFinite))
	assert.Equal(t, 4*scrapes, r.droppedTotal("kiosk", "nam-duong", DropNoFields))
	assert.Equal(t, scrapes, r.droppedTotal("kiosk", "nam-duong", DropUnencodable))
	// received counts what the sink took: 3 series and the scrape point per scrape.
	assert.Equal(t, 4*scrapes, testutil.ToFloat64(r.c.m.received))
	// One duration observed per scrape. (CollectAndCount would count the
	// histogram's series, always 1, and passed only while one scrape ran.)
	var duration dto.Metric
	require.NoError(t, r.c.m.duration.Write(&duration))
	assert.Equal(t, scrapes, float64(duration.GetHistogram().GetSampleCount()))
}

// Bearer token and basic auth come from files, read again on every scrape;
// TLS is verified against the CA given; no secret reaches a log.
func TestAuthAndTLS(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		user, pass, basic := r.BasicAuth()
		if r.Header.Get("Authorization") != "Bearer s3cret-token-2" && !(basic && user == "facmon" && pass == "pa55-word") {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", contentText)
		fmt.Fprintln(w, "up_and_running 1")
	}))
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("s3cret-token-1\n"), 0o600))
	pwFile := filepath.Join(dir, "password")
	require.NoError(t, os.WriteFile(pwFile, []byte("pa55-word\n"), 0o600))

	bearer := tgt(srv.URL+"/metrics?api_key=query-s3cret", "thanh-binh", "onestop", 100*time.Millisecond, time.Second)
	bearer.BearerTokenFile = tokenFile
	bearer.TLS = clientauth.TLS{CAFile: caFile}
	basic := tgt(srv.URL+"/metrics", "thuan-phuoc", "onestop", 100*time.Millisecond, time.Second)
	basic.BasicAuth = &clientauth.BasicAuth{Username: "facmon", PasswordFile: pwFile}
	basic.TLS = clientauth.TLS{CAFile: caFile}
	unverified := tgt(srv.URL+"/metrics", "thach-thang", "onestop", 100*time.Millisecond, time.Second)
	unverified.BasicAuth = &clientauth.BasicAuth{Username: "facmon", PasswordFile: pwFile}
	sink := &recSink{}
	r := start(t, sink, bearer, basic, unverified)

	testenv.Eventually(t, 5*time.Second, "basic auth scrape", func() (bool, string) {
		ss := sink.scrapes("thuan-phuoc", "onestop")
		return len(ss) > 0 && upOf(ss[len(ss)-1]) == 1, ""
	})
	testenv.Eventually(t, 5*time.Second, "the wrong token refused", func() (bool, string) {
		return r.scrapesTotal("onestop", "thanh-binh", ResultError) >= 1, ""
	})
	// Rotate the token: the next scrape uses the new one.
	require.NoError(t, os.WriteFile(tokenFile, []byte("s3cret-token-2\n"), 0o600))
	testenv.Eventually(t, 5*time.Second, "the rotated token accepted", func() (bool, string) {
		ss := sink.scrapes("thanh-binh", "onestop")
		return len(ss) > 0 && upOf(ss[len(ss)-1]) == 1, ""
	})
	testenv.Eventually(t, 5*time.Second, "an unknown CA refused", func() (bool, string) {
		return r.scrapesTotal("onestop", "thach-thang", ResultError) >= 1, ""
	})
	assert.Contains(t, r.c.Status()[2].LastError, "certificate")
	r.stop(t)

	logs := r.logs.String()
	assert.Contains(t, logs, "HTTP 401 Unauthorized")
	for _, secret := range []string{"s3cret-token", "pa55-word", "query-s3cret"} {
		assert.NotContains(t, logs, secret)
	}
	assert.Contains(t, logs, "api_key=redacted", "the query's keys stay, their values go")
	for _, st := range r.c.Status() {
		assert.NotContains(t, st.URL, "query-s3cret")
		assert.NotContains(t, st.LastError, "s3cret")
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, auths, "Bearer s3cret-token-1")
	assert.Contains(t, auths, "Bearer s3cret-token-2")
}

func TestNewFailsFast(t *testing.T) {
	o := Options{Targets: []Target{tgt("http://127.0.0.1:1/metrics", "thanh-binh", "onestop", 15*time.Second, 5*time.Second)}, Bounds: testBounds}
	o.Targets[0].BearerTokenFile = "/nonexistent/token"
	_, err := New(o, &recSink{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	assert.ErrorContains(t, err, "scrape[0].bearer_token_file")
	o.Targets[0].BearerTokenFile = ""
	o.Targets[0].TLS = clientauth.TLS{CAFile: "/nonexistent/ca.pem"}
	_, err = New(o, &recSink{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	assert.ErrorContains(t, err, "scrape[0].tls.ca_file")
	o.Targets[0].TLS = clientauth.TLS{}
	o.Targets[0].Interval = 0
	_, err = New(o, &recSink{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	assert.ErrorContains(t, err, "scrape[0]: interval and timeout must be positive")
}

// The Accept header asks for the text format first; a target that serves
// only OpenMetrics is parsed all the same.
func TestAcceptHeaderAndOpenMetricsTarget(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "basic.om"))
	require.NoError(t, err)
	var accept atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept.Store(r.Header.Get("Accept"))
		w.Header().Set("Content-Type", contentOM)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	sink := &recSink{}
	start(t, sink, tgt(srv.URL, "thanh-binh", "onestop", 100*time.Millisecond, time.Second))
	testenv.Eventually(t, 5*time.Second, "an OpenMetrics scrape", func() (bool, string) {
		return len(sink.series("thanh-binh", "onestop", "onestop_wait_seconds")) > 0, ""
	})
	assert.True(t, strings.HasPrefix(accept.Load().(string), "text/plain;version=0.0.4"))
	h := sink.series("thanh-binh", "onestop", "onestop_wait_seconds")[0]
	inf, ok := h.FloatField("+Inf")
	assert.True(t, ok)
	assert.Equal(t, 81.0, inf)
}

func TestOversizedExpositionFailsTheScrape(t *testing.T) {
	line := "# " + strings.Repeat("x", 1022) + "\n"
	srv := staticServer(t, contentText, strings.Repeat(line, maxBodyBytes/len(line)+1))
	sink := &recSink{}
	r := start(t, sink, tgt(srv.URL, "thanh-binh", "onestop", 100*time.Millisecond, 2*time.Second))
	testenv.Eventually(t, 5*time.Second, "the oversized scrape failed", func() (bool, string) {
		return r.scrapesTotal("onestop", "thanh-binh", ResultError) >= 1, ""
	})
	assert.Equal(t, "exposition larger than 4 MiB", r.c.Status()[0].LastError)
}
