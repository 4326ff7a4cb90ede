package main

// Binary-level fault tests of issue 3, "Nothing acknowledged is lost": the
// facmon binary is built with `go build` and run as `facmon run` against a
// real Mosquitto and a real InfluxDB 1.8.3, then SIGKILLed, SIGTERMed or
// flooded. The in-process fault tests are in internal/service/faults_test.go.
//
// Devices number their readings (seq) and stamp them (ts = a fixed base +
// seq milliseconds), so a reading stored twice collapses into one point
// and a missing one shows as a gap in 1..N. The publisher (testenv.Stream)
// and the /metrics and InfluxDB checks are shared with the in-process tests
// and live in internal/testenv.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/service/servicecheck"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// ----------------------------------------------------------------- facmon process

// facmonSetup is what stays the same across restarts of one facmon: the
// binary, its config (with the MQTT client id, so the persistent session),
// its spool directory and where it connects.
type facmonSetup struct {
	bin, config, spoolDir, mqttURL, influxURL, bucket, clientID string
	args                                                        []string // more flags of `facmon run`
}

func newFacmonSetup(t *testing.T, broker *testenv.Broker, influxURL, bucket, extraYAML string) facmonSetup {
	t.Helper()
	dir := t.TempDir()
	s := facmonSetup{
		bin:       buildFacmon(t),
		config:    filepath.Join(dir, "facmon.yaml"),
		spoolDir:  filepath.Join(dir, "spool"),
		mqttURL:   broker.URL,
		influxURL: influxURL,
		bucket:    bucket,
		clientID:  "facmon-" + bucket,
	}
	yaml := fmt.Sprintf(`log:
  level: info
  format: text
mqtt:
  client_id: %s
  max_reconnect_interval: 1s
influx:
  max_retry_interval: 1s
%s`, s.clientID, extraYAML)
	require.NoError(t, os.WriteFile(s.config, []byte(yaml), 0o600))
	return s
}

// facmonProc is one run of the binary, on testenv's process harness.
type facmonProc struct {
	*testenv.Process
	t      *testing.T
	web    string
	dumpAt int // log offset of a SIGQUIT goroutine dump, if one was taken
}

// start runs `facmon run` and waits until /healthz is green.
func (s facmonSetup) start(t *testing.T) *facmonProc {
	t.Helper()
	port := testenv.FreePort(t)
	logDir := t.TempDir()
	p := &facmonProc{
		Process: testenv.NewProcess("facmon", s.bin, append([]string{"run", "--config", s.config,
			"--mqtt-url", s.mqttURL, "--influx-url", s.influxURL, "--influx-bucket", s.bucket,
			"--listen", "127.0.0.1:" + strconv.Itoa(port), "--spool-dir", s.spoolDir}, s.args...), "", filepath.Join(logDir, "facmon.log")),
		t:   t,
		web: "http://127.0.0.1:" + strconv.Itoa(port),
	}
	require.NoError(t, p.Start())
	pid := p.Pid()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			log := p.Log()
			if p.dumpAt > 0 {
				log = log[:p.dumpAt]
			}
			t.Logf("facmon (pid %d) log %s:\n%s", pid, p.LogPath(), tail(log, 40))
		}
	})
	err := p.WaitReady(30*time.Second, 0, func() error {
		if code, body := httpGet(p.web + "/healthz"); code != 200 {
			return fmt.Errorf("/healthz %d: %s", code, body)
		}
		return nil
	})
	require.NoError(t, err)
	return p
}

// kill SIGKILLs this facmon and waits until it is reaped.
func (p *facmonProc) kill() { p.Kill() }

// term sends SIGTERM and returns the exit code and how long the exit took;
// it fails the test if facmon is still running after limit.
func (p *facmonProc) term(limit time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	done := p.Signal(syscall.SIGTERM)
	require.NotNil(p.t, done, "facmon is not running")
	select {
	case <-done:
	case <-time.After(limit):
		// SIGQUIT makes the Go runtime print every goroutine's stack:
		// show where facmon's own code is stuck.
		off := len(p.Log())
		p.dumpAt = off
		p.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		p.t.Fatalf("facmon still running %v after SIGTERM; its goroutines in facmon code (SIGQUIT dump):\n%s", limit, facmonFrames(p.Log()[off:]))
	}
	return p.ExitCode(), time.Since(start)
}

// facmonFrames keeps, of a Go goroutine dump, each goroutine's header and
// its frames in facmon's own packages.
func facmonFrames(dump string) string {
	var b strings.Builder
	for _, g := range strings.Split(dump, "\n\n") {
		lines := strings.Split(g, "\n")
		var own []string
		for _, l := range lines {
			if strings.HasPrefix(l, "github.com/facmon/facmon/") {
				own = append(own, "    "+l)
			}
		}
		if len(own) > 0 && strings.HasPrefix(lines[0], "goroutine ") {
			b.WriteString(lines[0] + "\n" + strings.Join(own, "\n") + "\n")
		}
	}
	return b.String()
}

func (p *facmonProc) log() string { return p.Log() }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
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

// TestFaultKillAndRestartLosesNothing: facmon is SIGKILLed twice
// mid-stream and restarted each time with the same spool directory and
// client id: once while writing to InfluxDB, once while InfluxDB is down
// and the spool holds thousands of acknowledged readings. Every seq is
// stored, the second restart replays the spool, duplicates collapse.
func TestFaultKillAndRestartLosesNothing(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	setup := newFacmonSetup(t, broker, db.URL, "kill", "")
	p := setup.start(t)
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 50, Interval: 100 * time.Millisecond})
	testenv.Eventually(t, 20*time.Second, "readings flowing", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, setup.bucket)
		return n >= 1000, fmt.Sprintf("stored %d", n)
	})

	// 1. SIGKILL while readings flow to InfluxDB.
	p.kill()
	t.Logf("killed facmon at %d readings stored", servicecheck.StoredSeqTotal(db, setup.bucket))
	time.Sleep(2 * time.Second) // the broker queues for the persistent session
	p = setup.start(t)
	before := servicecheck.StoredSeqTotal(db, setup.bucket)
	testenv.Eventually(t, 20*time.Second, "flow resumed after the restart", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, setup.bucket)
		return n >= before+1000, fmt.Sprintf("stored %d", n)
	})

	// 2. SIGKILL while InfluxDB is down: the spool holds acknowledged readings.
	db.Stop()
	testenv.Eventually(t, 20*time.Second, "spool absorbing", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(p.web)
		if err != nil {
			return false, err.Error()
		}
		return m["facmon_spool_readings"] >= 2000, fmt.Sprint(m["facmon_spool_readings"])
	})
	spooled := servicecheck.MustScrapeMetrics(t, p.web)["facmon_spool_readings"]
	p.kill()
	db.Start()
	p = setup.start(t)
	time.Sleep(2 * time.Second)
	pub.Stop()
	require.Zero(t, pub.Failed.Load(), "the broker acknowledged every publish")
	servicecheck.WaitAllStored(t, db, setup.bucket, pub.Want(), 60*time.Second)

	m := servicecheck.MustScrapeMetrics(t, p.web)
	t.Logf("after the second kill: spool held >= %.0f readings, the restart replayed %.0f", spooled, m["facmon_spool_replayed_readings_total"])
	assert.GreaterOrEqual(t, m["facmon_spool_replayed_readings_total"], spooled, "the restart replays what the spool held")
	assert.Zero(t, m["facmon_spool_dropped_records_total"])
	servicecheck.WaitConserved(t, p.web)
	assert.NotContains(t, p.log(), "panic")
}

// TestFaultFloodOfMalformedMessages: 10,000 malformed messages (many of
// them 60–70 KB) interleaved with 2,000 valid readings. All valid readings
// are stored, every bad one is counted by reason, and the RSS of the facmon
// process stays bounded. The test runs the binary so that RSS is facmon's
// own: the malformed payloads add up to about 270 MB, so a facmon that kept
// any per-message copy of them would blow far past the bound.
func TestFaultFloodOfMalformedMessages(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	setup := newFacmonSetup(t, broker, db.URL, "flood", "")
	p := setup.start(t)

	pub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("flood-pub"))
	tok := pub.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { pub.Disconnect(100) })
	sem := make(chan struct{}, 200)
	var wg sync.WaitGroup
	var failed atomic.Int64
	publish := func(topic, payload string) {
		sem <- struct{}{}
		tok := pub.Publish(topic, 1, false, payload)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
				failed.Add(1)
			}
		}()
	}
	waitPublished := func() {
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(120 * time.Second):
			t.Fatal("PUBACKs outstanding after 120 s")
		}
	}
	base := time.Now().Add(-time.Minute).UnixMilli()
	valid := func(dev string, seq int) (string, string) {
		return "facmon/thanh-binh/door/" + dev + "/telemetry", fmt.Sprintf(`{"cycles":%d,"seq":%d,"ts":%d}`, seq, seq, base+int64(seq))
	}

	// Warm up, then take the baseline.
	for i := 1; i <= 100; i++ {
		publish(valid("warm-up", i))
	}
	waitPublished()
	testenv.Eventually(t, 20*time.Second, "warm-up stored", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, setup.bucket)
		return n == 100, fmt.Sprintf("stored %d", n)
	})
	time.Sleep(time.Second)
	baseline := servicecheck.MustScrapeMetrics(t, p.web)["process_resident_memory_bytes"]

	big := strings.Repeat("x", 60_000)
	tele := "facmon/thanh-binh/door/door-1/telemetry"
	old := strconv.FormatInt(time.Now().Add(-8*24*time.Hour).UnixMilli(), 10)
	bad := []struct{ topic, payload, reason string }{
		{tele, `{"state":"` + big, "malformed_json"},
		{tele, `{"state":"` + strings.Repeat("x", 70_000) + `"}`, "payload_too_large"},
		{tele, `{"cycles":"many","pad":"` + big + `"}`, "wrong_type"},
		{"facmon/thanh-binh/hvac/hvac-1/telemetry", `{"pad":"` + big + `","temp_c":NaN}`, "non_finite"},
		{tele, `[` + strings.Repeat("1,", 30_000) + `1]`, "not_an_object"},
		{tele, ``, "empty_payload"},
		{tele, `{"pad":"` + big + `"}`, "no_fields"},
		{"facmon/son-tra/door/door-1/telemetry", `{"cycles":1}`, "unknown_ward"},
		{"facmon/thanh-binh/lift/lift-1/telemetry", `{"floor":1}`, "unknown_class"},
		{"facmon/thanh-binh/door/door 1/telemetry", `{"cycles":1}`, "bad_id"},
		{tele, `{"cycles":1,"ts":"yesterday"}`, "bad_timestamp"},
		{tele, `{"cycles":1,"ts":` + old + `}`, "timestamp_out_of_range"},
		{tele, `{"cycles":1,"seq":-1}`, "bad_seq"},
		{"facmon/thanh-binh/door/door-1/status", `maybe`, "bad_status"},
	}

	var peak atomic.Int64
	peak.Store(int64(baseline))
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if m, err := servicecheck.ScrapeMetrics(p.web); err == nil {
				if v := int64(m["process_resident_memory_bytes"]); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()

	const floods, validEvery = 10_000, 5
	want := map[string]float64{}
	var badBytes int64
	good := 0
	for i := range floods {
		b := bad[i%len(bad)]
		publish(b.topic, b.payload)
		want[b.reason]++
		badBytes += int64(len(b.payload))
		if i%validEvery == validEvery-1 {
			good++
			publish(valid("flood-ok", good))
		}
	}
	waitPublished()
	require.Zero(t, failed.Load(), "the broker acknowledged every publish")
	testenv.Eventually(t, 60*time.Second, "every bad message counted and every valid one stored", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(p.web)
		if err != nil {
			return false, err.Error()
		}
		rejected := servicecheck.SumMetric(m, "facmon_readings_rejected_total")
		n := db.Count(setup.bucket, `SELECT count(seq) FROM door WHERE device = 'flood-ok'`)
		return rejected == floods && n == int64(good), fmt.Sprintf("rejected %.0f of %d, valid stored %d of %d", rejected, floods, n, good)
	})
	close(stopSampling)
	<-sampled

	m := servicecheck.MustScrapeMetrics(t, p.web)
	for reason, n := range want {
		assert.Equal(t, n, m[`facmon_readings_rejected_total{reason="`+reason+`"}`], reason)
	}
	assert.Empty(t, servicecheck.MissingSeqs(servicecheck.StoredSeqs(t, db, setup.bucket), map[string]int64{"flood-ok": int64(good), "warm-up": 100}, nil))
	growth := float64(peak.Load()) - baseline
	t.Logf("malformed payloads: %d MB; facmon RSS baseline %.0f MB, peak %.0f MB (+%.0f MB), end %.0f MB",
		badBytes>>20, baseline/(1<<20), float64(peak.Load())/(1<<20), growth/(1<<20), m["process_resident_memory_bytes"]/(1<<20))
	assert.Less(t, growth, float64(64<<20), "RSS stays bounded while %d MB of malformed payloads pass through", badBytes>>20)
	code, _ := httpGet(p.web + "/healthz")
	assert.Equal(t, 200, code, "bad input does not make facmon unhealthy")
	servicecheck.WaitConserved(t, p.web)
}

// influxGate stands in front of the real InfluxDB: while closed, every
// write is answered 503 with Retry-After: 30, so facmon's drain sleeps;
// everything else passes through.
type influxGate struct {
	proxy  *httputil.ReverseProxy
	closed atomic.Bool
	writes atomic.Int64 // writes passed through to InfluxDB
}

func newInfluxGate(t *testing.T, target string) (*influxGate, *httptest.Server) {
	u, err := url.Parse(target)
	require.NoError(t, err)
	g := &influxGate{proxy: httputil.NewSingleHostReverseProxy(u)}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *influxGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && (r.URL.Path == "/api/v2/write" || r.URL.Path == "/write") {
		if g.closed.Load() {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "30")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"code":"unavailable","message":"gate closed"}`)
			return
		}
		g.writes.Add(1)
	}
	g.proxy.ServeHTTP(w, r)
}

// queuedForSession connects as clientID with the persistent session and
// returns, per device, the seqs the broker still held for it (queued or
// delivered but never acknowledged).
func queuedForSession(t *testing.T, b *testenv.Broker, clientID string) map[string]map[int64]bool {
	t.Helper()
	var mu sync.Mutex
	out := map[string]map[int64]bool{}
	last := time.Now()
	var n int
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL).SetClientID(clientID).SetCleanSession(false).
		SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) {
			parts := strings.Split(msg.Topic(), "/")
			var p struct {
				Seq int64 `json:"seq"`
			}
			_ = json.Unmarshal(msg.Payload(), &p)
			mu.Lock()
			defer mu.Unlock()
			n++
			last = time.Now()
			if len(parts) == 5 && p.Seq > 0 {
				if out[parts[3]] == nil {
					out[parts[3]] = map[int64]bool{}
				}
				out[parts[3]][p.Seq] = true
			}
		}))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	defer c.Disconnect(100)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		quiet := time.Since(last) > 2*time.Second
		mu.Unlock()
		if quiet {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("the broker still held %d messages for %s", n, clientID)
	return out
}

// TestFaultTermFlushesSpoolAndExits0: SIGTERM while readings flow and the
// spool holds readings InfluxDB has not yet taken (the drain is sleeping
// out a Retry-After: 30 when the signal comes). facmon stops intake,
// flushes the spool to InfluxDB within spool.shutdown_drain, exits 0, and
// every reading it acknowledged is stored: each published seq is either in
// InfluxDB or still held by the broker for facmon's persistent session.
func TestFaultTermFlushesSpoolAndExits0(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	gate, srv := newInfluxGate(t, db.URL)
	setup := newFacmonSetup(t, broker, srv.URL, "term", "spool:\n  shutdown_drain: 10s\n")
	p := setup.start(t)
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 50, Interval: 100 * time.Millisecond})
	testenv.Eventually(t, 20*time.Second, "readings flowing", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, setup.bucket)
		return n >= 500, fmt.Sprintf("stored %d", n)
	})

	gate.closed.Store(true)
	testenv.Eventually(t, 20*time.Second, "spool holding readings", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(p.web)
		if err != nil {
			return false, err.Error()
		}
		return m["facmon_spool_readings"] >= 1500 && m[`facmon_influx_write_errors_total{kind="http_5xx"}`] >= 1, fmt.Sprint(m["facmon_spool_readings"])
	})
	// The conservation check needs the flow to settle: pause the devices.
	pub.Paused.Store(true)
	servicecheck.WaitConserved(t, p.web)
	pub.Paused.Store(false)
	time.Sleep(time.Second)

	gate.closed.Store(false) // the drain still sleeps out its Retry-After: 30
	before := servicecheck.MustScrapeMetrics(t, p.web)
	storedBefore := servicecheck.StoredSeqTotal(db, setup.bucket)
	require.Positive(t, before["facmon_spool_readings"])
	code, took := p.term(30 * time.Second)
	t.Logf("SIGTERM with %.0f readings in the spool: exit %d after %v", before["facmon_spool_readings"], code, took.Round(time.Millisecond))
	assert.Equal(t, 0, code, "SIGTERM ends facmon with exit 0")
	assert.Less(t, took, 12*time.Second, "within spool.shutdown_drain (10 s) and a margin")
	time.Sleep(500 * time.Millisecond) // the devices publish on after facmon left
	pub.Stop()
	require.Zero(t, pub.Failed.Load(), "the broker acknowledged every publish")

	storedAfter := servicecheck.StoredSeqTotal(db, setup.bucket)
	// The spool also holds facmon's own points (heartbeats, liveness),
	// which storedTotal does not count.
	own := servicecheck.SumMetric(before, "facmon_readings_received_total") - before[`facmon_readings_received_total{source="mqtt"}`]
	assert.GreaterOrEqual(t, storedAfter, storedBefore+int64(before["facmon_spool_readings"]-own), "the shutdown flushed the spool to InfluxDB")
	held := queuedForSession(t, broker, setup.clientID)
	problems := servicecheck.MissingSeqs(servicecheck.StoredSeqs(t, db, setup.bucket), pub.Want(), held)
	assert.Empty(t, problems, "every published seq is stored or still held by the broker: nothing facmon acknowledged is lost")
	log := p.log()
	assert.NotContains(t, log, "spool not fully sent")
	assert.NotContains(t, log, "panic")
	assert.Contains(t, log, "facmon stopped")
}

// TestFaultTermWhileSpoolFullAndInfluxDown: SIGTERM while InfluxDB is down
// and the spool is at its cap, so a group commit is waiting for room. The
// spool cannot be flushed, but facmon must still stop within its deadlines
// (the collector's last flush is bounded by mqtt.connect_timeout, the
// shutdown drain by spool.shutdown_drain) and exit 0, leaving the spool on
// disk and the unacknowledged messages at the broker; the next start
// stores everything.
func TestFaultTermWhileSpoolFullAndInfluxDown(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	setup := newFacmonSetup(t, broker, db.URL, "termfull", "spool:\n  max_bytes: 1MiB\n  shutdown_drain: 2s\n")
	p := setup.start(t)
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 50, Interval: 50 * time.Millisecond, Pad: 240})
	testenv.Eventually(t, 20*time.Second, "readings flowing", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, setup.bucket)
		return n >= 500, fmt.Sprintf("stored %d", n)
	})
	db.Stop()
	testenv.Eventually(t, 30*time.Second, "spool full", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(p.web)
		if err != nil {
			return false, err.Error()
		}
		return m["facmon_spool_full"] == 1, fmt.Sprint(m["facmon_spool_bytes"])
	})
	// Deadlines: mqtt.connect_timeout (10 s) for the collector's last
	// flush, spool.shutdown_drain (2 s) twice (batcher, spool), a margin.
	code, took := p.term(25 * time.Second)
	t.Logf("SIGTERM with the spool full and InfluxDB down: exit %d after %v", code, took.Round(time.Millisecond))
	assert.Equal(t, 0, code)

	pub.Stop()
	require.Zero(t, pub.Failed.Load(), "the broker acknowledged every publish")
	db.Start()
	p = setup.start(t)
	servicecheck.WaitAllStored(t, db, setup.bucket, pub.Want(), 60*time.Second)
	assert.Zero(t, servicecheck.MustScrapeMetrics(t, p.web)["facmon_spool_dropped_records_total"])
	servicecheck.WaitConserved(t, p.web)
}
