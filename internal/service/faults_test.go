package service

// Fault tests of issue 3, "Nothing acknowledged is lost", that run facmon
// in-process against a real Mosquitto and a real InfluxDB 1.8.3. The
// binary-level ones (SIGKILL, SIGTERM, the malformed flood with its RSS) are
// in cmd/facmon/faults_test.go.
//
// Every test publishes with paho at QoS 1 from devices that number their
// readings (seq) and stamp them (ts = a fixed base + seq milliseconds), so
// a reading stored twice collapses into one point and a missing one shows
// as a gap in 1..N. The publisher (testenv.Stream) and the /metrics and
// InfluxDB checks are shared with the binary-level tests and live in
// internal/testenv.

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/service/servicecheck"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// outageDuration is how long TestFaultInfluxOutageLosesNothing keeps
// InfluxDB down. The issue asks for 60 s; that is what FACMON_LONG_FAULTS=1
// runs. By default (make test) it is 15 s so the suite stays fast;
// everything else in the test is identical.
func outageDuration() time.Duration {
	if os.Getenv("FACMON_LONG_FAULTS") == "1" {
		return 60 * time.Second
	}
	return 15 * time.Second
}

// wardIDs are the IDs of the default wards, which testenv.Stream spreads
// its devices over.
func wardIDs() []string {
	var ids []string
	for _, o := range config.DefaultOffices() {
		ids = append(ids, o.ID)
	}
	return ids
}

// ----------------------------------------------------------------- tests

// TestFaultInfluxOutageLosesNothing: InfluxDB stopped while 500 readings/s
// flow (50 devices × 10/s), then restarted: facmon keeps acknowledging
// into its spool during the outage, and afterwards every seq is stored.
func TestFaultInfluxOutageLosesNothing(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	r := startService(t, broker, db, func(c *config.Config) {
		// Once InfluxDB is back, the next retry comes within a second
		// instead of the default 30 s cap of the backoff.
		c.Influx.MaxRetryInterval = config.Duration(time.Second)
	})
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 50, Interval: 100 * time.Millisecond})
	testenv.Eventually(t, 20*time.Second, "readings flowing into InfluxDB", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, r.bucket)
		return n >= 500, fmt.Sprintf("stored %d", n)
	})

	outage := outageDuration()
	db.Stop()
	down := time.Now()
	before := servicecheck.MustScrapeMetrics(t, r.web)
	pubBefore := pub.Published.Load()
	time.Sleep(time.Until(down.Add(outage)))
	during := servicecheck.MustScrapeMetrics(t, r.web)
	pubDuring := pub.Published.Load() - pubBefore
	appendedDuring := during["facmon_spool_appended_readings_total"] - before["facmon_spool_appended_readings_total"]
	t.Logf("InfluxDB down %v: published %d, facmon spooled and acked %.0f, spool holds %.0f readings (%.0f bytes)",
		time.Since(down).Round(time.Second), pubDuring, appendedDuring, during["facmon_spool_readings"], during["facmon_spool_bytes"])
	// facmon kept acknowledging: all but what is in flight (at most the
	// broker's and facmon's inflight windows) went into the spool.
	assert.GreaterOrEqual(t, appendedDuring, float64(pubDuring-2000), "facmon keeps acknowledging into the spool while InfluxDB is down")
	assert.Greater(t, during["facmon_spool_readings"], before["facmon_spool_readings"]+float64(pubDuring)/2, "the spool absorbs the stream")
	assert.Zero(t, during["facmon_spool_full"])
	assert.Zero(t, during["facmon_points_written_total"]-before["facmon_points_written_total"], "nothing written while InfluxDB is down")

	db.Start()
	time.Sleep(3 * time.Second) // the stream goes on across the restart
	pub.Stop()
	require.Zero(t, pub.Failed.Load(), "the broker acknowledged every publish")
	servicecheck.WaitAllStored(t, db, r.bucket, pub.Want(), 60*time.Second)

	testenv.Eventually(t, 20*time.Second, "spool empty", func() (bool, string) {
		m := servicecheck.MustScrapeMetrics(t, r.web)
		return m["facmon_spool_readings"] == 0, fmt.Sprint(m["facmon_spool_readings"])
	})
	end := servicecheck.MustScrapeMetrics(t, r.web)
	assert.Zero(t, end["facmon_spool_dropped_records_total"])
	assert.Positive(t, end[`facmon_influx_write_errors_total{kind="network"}`], "the outage was seen as network errors")
	servicecheck.WaitConserved(t, r.web)
}

// TestFaultInfluxDownBeforeFirstWrite: InfluxDB goes away after facmon
// started but before its first write (docker-compose starting facmon and
// InfluxDB together, or an outage on a fresh install), then comes back.
// The database does not exist yet, so the first write after the outage
// gets 404 "database not found"; facmon must create the database and
// store every reading rather than retry the 404 forever.
func TestFaultInfluxDownBeforeFirstWrite(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	r := startService(t, broker, db, func(c *config.Config) {
		c.Influx.MaxRetryInterval = config.Duration(time.Second)
	})
	db.Stop()
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 10, Interval: 100 * time.Millisecond})
	time.Sleep(3 * time.Second)
	db.Start()
	time.Sleep(time.Second)
	pub.Stop()
	require.Zero(t, pub.Failed.Load())
	servicecheck.WaitAllStored(t, db, r.bucket, pub.Want(), 20*time.Second)
	servicecheck.WaitConserved(t, r.web)
}

// TestFaultMosquittoRestartKeepsBrokerAcked: Mosquitto (persistence on) is
// restarted mid-stream. Every reading the broker acknowledged to the
// publisher is stored: those it had queued for facmon's persistent session
// survive in its database, those facmon had taken are in facmon's spool.
func TestFaultMosquittoRestartKeepsBrokerAcked(t *testing.T) {
	broker := testenv.StartMosquitto(t, testenv.WithPersistence())
	db := influxdb.Start(t, influxdb.WithoutFlux())
	r := startService(t, broker, db, func(c *config.Config) {
		c.MQTT.MaxReconnectInterval = config.Duration(time.Second)
	})
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 50, Interval: 100 * time.Millisecond})
	testenv.Eventually(t, 20*time.Second, "readings flowing into InfluxDB", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, r.bucket)
		return n >= 1000, fmt.Sprintf("stored %d", n)
	})

	broker.Stop() // SIGTERM: Mosquitto writes its persistence file
	time.Sleep(time.Second)
	broker.Start()
	testenv.Eventually(t, 30*time.Second, "facmon reconnected", func() (bool, string) {
		code, body := get(t, r.web+"/healthz")
		return code == 200, body
	})
	time.Sleep(3 * time.Second)
	pub.Stop()
	acked := pub.AckedSeqs()
	var n int
	for _, m := range acked {
		n += len(m)
	}
	t.Logf("published %d, broker acknowledged %d, unacknowledged %d", pub.Published.Load(), n, pub.Failed.Load())
	servicecheck.WaitAckedStored(t, db, r.bucket, acked, 60*time.Second)
	m := servicecheck.MustScrapeMetrics(t, r.web)
	assert.GreaterOrEqual(t, m["facmon_mqtt_connection_lost_total"], 1.0)
	assert.Zero(t, m["facmon_spool_dropped_records_total"])
	servicecheck.WaitConserved(t, r.web)
}

// scriptedInflux stands in front of the real InfluxDB: it answers 503 with
// Retry-After to the first writes, 422 to any write whose body holds the
// poison point (so facmon's bisection must isolate it), and passes the rest
// through. It records when each write arrived and how it was answered.
type scriptedInflux struct {
	proxy  *httputil.ReverseProxy
	poison []byte

	mu          sync.Mutex
	unavailable int    // 503 answers still to give
	retryAfter  string // their Retry-After
	writes      []writeEvent
}

type writeEvent struct {
	at     time.Time
	status int
	lines  int
}

func newScriptedInflux(t *testing.T, target string, unavailable int, retryAfter string, poison string) (*scriptedInflux, *httptest.Server) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	s := &scriptedInflux{proxy: httputil.NewSingleHostReverseProxy(u), poison: []byte(poison), unavailable: unavailable, retryAfter: retryAfter}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("scripted InfluxDB saw: %s", s.describe())
		}
	})
	return s, srv
}

func (s *scriptedInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || (r.URL.Path != "/api/v2/write" && r.URL.Path != "/write") {
		s.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	plain := body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			plain, _ = io.ReadAll(zr)
		}
	}
	ev := writeEvent{at: time.Now(), lines: bytes.Count(bytes.TrimRight(plain, "\n"), []byte("\n")) + 1}
	s.mu.Lock()
	switch {
	case s.unavailable > 0:
		s.unavailable--
		ev.status = http.StatusServiceUnavailable
	case bytes.Contains(plain, s.poison):
		ev.status = http.StatusUnprocessableEntity
	}
	s.mu.Unlock()
	switch ev.status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", s.retryAfter)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"code":"unavailable","message":"scripted: service unavailable"}`)
	case http.StatusUnprocessableEntity:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"cycles\" on measurement \"door\" is type float, already exists as type integer dropped=1"}`)
	default:
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.proxy.ServeHTTP(rec, r)
		ev.status = rec.status
	}
	s.mu.Lock()
	s.writes = append(s.writes, ev)
	s.mu.Unlock()
}

func (s *scriptedInflux) events() []writeEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

func (s *scriptedInflux) describe() string {
	var b strings.Builder
	var prev time.Time
	for i, e := range s.events() {
		gap := time.Duration(0)
		if i > 0 {
			gap = e.at.Sub(prev)
		}
		prev = e.at
		fmt.Fprintf(&b, "[%d lines → %d after %v] ", e.lines, e.status, gap.Round(time.Millisecond))
	}
	return b.String()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// TestFaultPoisonQuarantinedAndRetryAfterHonoured: InfluxDB (behind a
// scripted proxy) answers the first three writes 503 with Retry-After: 2,
// and 422 to any write holding one poison point. The good points land, the
// poison point alone is set aside in the quarantine file and counted, and
// facmon waited the 2 s the header asked for before each retry.
func TestFaultPoisonQuarantinedAndRetryAfterHonoured(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	// Only the door point is poison: facmon's own points about the device
	// (liveness transitions) are good and must land.
	script, srv := newScriptedInflux(t, db.URL, 3, "2", "door,class=door,device=poison,")
	var spoolDir string
	r := startService(t, broker, db, func(c *config.Config) {
		c.Influx.URL = srv.URL
		// Were Retry-After ignored, the backoff (100 ms, 200 ms, …) would
		// retry well within 2 s.
		c.Influx.MaxRetryInterval = config.Duration(time.Second)
		spoolDir = c.Spool.Dir
	})

	pub := newPublisher(t, broker)
	base := time.Now().Add(-time.Minute).UnixMilli()
	const good = 200
	for i := 1; i <= good; i++ {
		pub(fmt.Sprintf("facmon/thanh-binh/door/door-%d/telemetry", i%20), fmt.Sprintf(`{"cycles":%d,"seq":%d,"ts":%d}`, i, i, base+int64(i)))
		if i == good/2 {
			pub("facmon/hai-chau-1/door/poison/telemetry", fmt.Sprintf(`{"cycles":1,"seq":1,"ts":%d}`, base))
		}
	}
	testenv.Eventually(t, 60*time.Second, "good points stored, poison quarantined", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, r.bucket)
		m, err := servicecheck.ScrapeMetrics(r.web)
		if err != nil {
			return false, err.Error()
		}
		q := m[`facmon_points_quarantined_total{status="422"}`]
		return n == good && q == 1, fmt.Sprintf("stored %d of %d, quarantined %v", n, good, q)
	})
	assert.Zero(t, db.Count(r.bucket, `SELECT count(seq) FROM door WHERE device = 'poison'`))

	data, err := os.ReadFile(QuarantinePath(config.Config{Spool: config.Spool{Dir: spoolDir}}))
	require.NoError(t, err, "the quarantine file")
	var points []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if !strings.HasPrefix(l, "#") {
			points = append(points, l)
		}
	}
	require.Len(t, points, 1, "only the poison point is set aside:\n%s", data)
	assert.Contains(t, points[0], "device=poison")
	assert.Contains(t, string(data), "status=422")

	// The three 503 answers: the next write came no sooner than Retry-After.
	evs := script.events()
	var unavailable int
	for i, e := range evs {
		if e.status != http.StatusServiceUnavailable {
			continue
		}
		unavailable++
		require.Less(t, i+1, len(evs), "a write followed the 503")
		gap := evs[i+1].at.Sub(e.at)
		assert.GreaterOrEqual(t, gap, 1900*time.Millisecond, "write %d came %v after a 503 with Retry-After: 2", i+1, gap)
	}
	assert.Equal(t, 3, unavailable)
	t.Logf("writes seen: %s", script.describe())

	m := servicecheck.MustScrapeMetrics(t, r.web)
	assert.Equal(t, 3.0, m[`facmon_influx_write_errors_total{kind="http_5xx"}`])
	assert.Zero(t, m[`facmon_points_quarantined_total{status="400"}`])
	assert.Zero(t, m["facmon_spool_dropped_records_total"])
	servicecheck.WaitConserved(t, r.web)
}

// TestFaultSpoolFullStopsAcks: with a 2 MiB spool and InfluxDB down, the
// spool fills, facmon_spool_full becomes 1 and facmon stops acknowledging
// (the broker holds what the devices keep publishing); when InfluxDB comes
// back the flow resumes and every seq is stored.
func TestFaultSpoolFullStopsAcks(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	const maxBytes = 2 << 20
	r := startService(t, broker, db, func(c *config.Config) {
		c.Spool.MaxBytes = maxBytes
		c.Influx.MaxRetryInterval = config.Duration(time.Second)
	})
	// About 330 bytes of line protocol per reading, 1000 readings/s: the
	// spool is full about 6 s into the outage.
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 50, Interval: 50 * time.Millisecond, Pad: 240})
	testenv.Eventually(t, 20*time.Second, "readings flowing into InfluxDB", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, r.bucket)
		return n >= 500, fmt.Sprintf("stored %d", n)
	})

	db.Stop()
	testenv.Eventually(t, 60*time.Second, "spool full", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(r.web)
		if err != nil {
			return false, err.Error()
		}
		return m["facmon_spool_full"] == 1, fmt.Sprintf("spool %.0f of %d bytes", m["facmon_spool_bytes"], maxBytes)
	})
	// The messages already in flight (at most mqtt.max_inflight) still
	// arrive and wait, unacknowledged; then the broker stops sending.
	var prev float64 = -1
	testenv.Eventually(t, 10*time.Second, "deliveries to facmon stop", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(r.web)
		if err != nil {
			return false, err.Error()
		}
		n := m[`facmon_readings_received_total{source="mqtt"}`]
		stable := n == prev
		prev = n
		time.Sleep(400 * time.Millisecond)
		return stable, fmt.Sprintf("received %.0f, pending %.0f", n, m["facmon_ingest_pending_readings"])
	})
	full := servicecheck.MustScrapeMetrics(t, r.web)
	pubFull := pub.Published.Load()
	time.Sleep(3 * time.Second)
	later := servicecheck.MustScrapeMetrics(t, r.web)
	pubLater := pub.Published.Load()
	t.Logf("spool full at %.0f bytes, %.0f readings; published %d more in 3 s", full["facmon_spool_bytes"], full["facmon_spool_readings"], pubLater-pubFull)
	assert.Greater(t, pubLater-pubFull, int64(1000), "the devices keep publishing")
	assert.Equal(t, full["facmon_spool_appended_readings_total"], later["facmon_spool_appended_readings_total"], "no reading is acknowledged while the spool is full")
	assert.Equal(t, full[`facmon_readings_received_total{source="mqtt"}`], later[`facmon_readings_received_total{source="mqtt"}`], "the broker holds the backlog")
	assert.LessOrEqual(t, later["facmon_spool_bytes"], float64(maxBytes))
	assert.LessOrEqual(t, later["facmon_ingest_pending_readings"], 1000.0, "facmon holds at most mqtt.max_inflight unacknowledged readings")
	assert.Equal(t, 1.0, later["facmon_spool_full"])
	code, body := get(t, r.web+"/healthz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "spool: down: full")

	// While the backlog at the broker is taken in, sample how many
	// readings facmon holds unacknowledged (see the report: Mosquitto
	// 2.0.11 sends far more than max_inflight once a backlog is queued).
	var maxPending atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if m, err := servicecheck.ScrapeMetrics(r.web); err == nil {
				if p := int64(m["facmon_ingest_pending_readings"]); p > maxPending.Load() {
					maxPending.Store(p)
				}
			}
		}
	}()
	defer func() {
		close(stopSampling)
		<-sampled
		t.Logf("most readings held unacknowledged while the backlog came in: %d (mqtt.max_inflight 1000, influx.batch_size 5000)", maxPending.Load())
	}()
	db.Start()
	testenv.Eventually(t, 60*time.Second, "spool has room again", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(r.web)
		if err != nil {
			return false, err.Error()
		}
		return m["facmon_spool_full"] == 0 && m["facmon_spool_appended_readings_total"] > later["facmon_spool_appended_readings_total"],
			fmt.Sprintf("full %v, appended %v", m["facmon_spool_full"], m["facmon_spool_appended_readings_total"])
	})
	time.Sleep(2 * time.Second)
	pub.Stop()
	require.Zero(t, pub.Failed.Load(), "the broker acknowledged every publish")
	servicecheck.WaitAllStored(t, db, r.bucket, pub.Want(), 90*time.Second)
	end := servicecheck.MustScrapeMetrics(t, r.web)
	assert.Zero(t, end["facmon_spool_dropped_records_total"])
	servicecheck.WaitConserved(t, r.web)
}
