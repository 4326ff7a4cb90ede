package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

var t0 = time.Date(2026, 11, 23, 2, 15, 0, 123456789, time.UTC)

func doorReading(device string, cycles int64) *reading.Reading {
	return &reading.Reading{
		Measurement: "door", Ward: "thanh-binh", Class: "door", Device: device, Time: t0,
		Fields: []reading.Field{
			{Key: "state", Kind: reading.String, Str: "open"},
			{Key: "cycles", Kind: reading.Int, Int: cycles},
			{Key: "motor_current_a", Kind: reading.Float, Float: 1.4},
			{Key: "obstruction", Kind: reading.Bool, Bool: false},
		},
	}
}

func TestEncoder(t *testing.T) {
	cases := []struct {
		name string
		r    *reading.Reading
		want string
		err  string
	}{
		{"door", doorReading("door-1", 18231),
			`door,class=door,device=door-1,ward=thanh-binh state="open",cycles=18231i,motor_current_a=1.4,obstruction=false 1795400100123456789` + "\n", ""},
		{"extra tags keep lexical order", &reading.Reading{
			Measurement: "hvac", Ward: "hai-chau-1", Class: "hvac", Device: "plug 7", Time: t0,
			Extra:  []reading.Tag{{Key: "room", Value: "waiting-room"}, {Key: "site", Value: "hq"}},
			Fields: []reading.Field{{Key: "temp_c", Kind: reading.Float, Float: 29}},
		}, `hvac,class=hvac,device=plug\ 7,room=waiting-room,site=hq,ward=hai-chau-1 temp_c=29 1795400100123456789` + "\n", ""},
		{"extra tags in every position, empty ones left out", &reading.Reading{
			Measurement: "alert_event", Ward: "nam-duong", Time: t0,
			Extra:  []reading.Tag{{Key: "severity", Value: "critical"}, {Key: "alertname", Value: "WardUnreachable"}, {Key: "zone", Value: ""}},
			Fields: []reading.Field{{Key: "state", Kind: reading.String, Str: "firing"}},
		}, `alert_event,alertname=WardUnreachable,severity=critical,ward=nam-duong state="firing" 1795400100123456789` + "\n", ""},
		{"NaN field left out", &reading.Reading{
			Measurement: "hvac", Ward: "w", Class: "hvac", Device: "d", Time: t0,
			Fields: []reading.Field{{Key: "temp_c", Kind: reading.Float, Float: math.NaN()}, {Key: "running", Kind: reading.Bool, Bool: true}},
		}, `hvac,class=hvac,device=d,ward=w running=true 1795400100123456789` + "\n", ""},
		{"only NaN is an error", &reading.Reading{
			Measurement: "hvac", Ward: "w", Class: "hvac", Device: "d", Time: t0,
			Fields: []reading.Field{{Key: "temp_c", Kind: reading.Float, Float: math.Inf(1)}},
		}, "", "no writable field"},
		{"string escapes", &reading.Reading{
			Measurement: "hvac", Ward: "w", Class: "hvac", Device: "d", Time: t0,
			Fields: []reading.Field{{Key: "fault", Kind: reading.String, Str: `E"4\`}},
		}, `hvac,class=hvac,device=d,ward=w fault="E\"4\\" 1795400100123456789` + "\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder()
			require.NoError(t, e.Append(doorReading("door-0", 1)))
			before := string(e.Bytes())
			err := e.Append(tc.r)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				assert.Equal(t, before, string(e.Bytes()), "a failed reading leaves nothing behind")
				require.NoError(t, e.Append(doorReading("door-2", 2)), "the encoder is usable after an error")
				assert.Equal(t, 2, strings.Count(string(e.Bytes()), "\n"))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, before+tc.want, string(e.Bytes()))
		})
	}
}

type ackCounter struct{ n *atomic.Int64 }

func (a ackCounter) Ack() { a.n.Add(1) }

type scriptedCommitter struct {
	mu       sync.Mutex
	failures int // fail this many commits first (as if ctx were cancelled)
	batches  []int
	gate     chan struct{} // when set, each commit waits for it
}

func (c *scriptedCommitter) Commit(ctx context.Context, lines []byte, points int) error {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if strings.Count(string(lines), "\n") != points {
		panic("points and lines disagree")
	}
	if c.failures > 0 {
		c.failures--
		return context.Canceled
	}
	c.batches = append(c.batches, points)
	return nil
}

func TestBatcherAcksOnlyAfterCommit(t *testing.T) {
	gate := make(chan struct{})
	c := &scriptedCommitter{gate: gate}
	b := NewBatcher(BatchOptions{MaxPoints: 10, AckWindow: 5, Linger: time.Hour, DrainTimeout: time.Second}, c, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	var acked atomic.Int64
	for i := range 5 {
		require.NoError(t, b.Deliver(doorReading("d", int64(i)), ackCounter{&acked}))
	}
	// The batch reached the ack window and is committing, held by the gate.
	time.Sleep(50 * time.Millisecond)
	assert.Zero(t, acked.Load(), "nothing is acked before its commit returns")
	close(gate)
	testenv.Eventually(t, 5*time.Second, "acks after commit", func() (bool, string) {
		return acked.Load() == 5, ""
	})
	cancel()
	require.NoError(t, <-done)
}

func TestBatcherLingerFlushesPartialBatch(t *testing.T) {
	c := &scriptedCommitter{}
	b := NewBatcher(BatchOptions{MaxPoints: 100, AckWindow: 50, Linger: 20 * time.Millisecond, DrainTimeout: time.Second}, c, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Run(ctx)
	var acked atomic.Int64
	require.NoError(t, b.Deliver(doorReading("d", 1), ackCounter{&acked}))
	testenv.Eventually(t, 5*time.Second, "the linger timer commits a lone reading", func() (bool, string) {
		return acked.Load() == 1, ""
	})
}

func TestBatcherBackPressureAndDrain(t *testing.T) {
	gate := make(chan struct{})
	c := &scriptedCommitter{gate: gate}
	b := NewBatcher(BatchOptions{MaxPoints: 4, AckWindow: 4, Linger: time.Hour, DrainTimeout: 5 * time.Second}, c, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var acked atomic.Int64
	delivered := make(chan int, 100)
	go func() {
		for i := range 12 {
			_ = b.Deliver(doorReading("d", int64(i)), ackCounter{&acked})
			delivered <- i
		}
	}()
	// 4 commit (held), 4 accumulate, the 9th must wait.
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, 8, len(delivered), "Deliver blocks once a full batch waits behind the committing one")
	assert.Zero(t, acked.Load())
	cancel()
	close(gate) // InfluxDB is back; the drain commits what is held
	require.NoError(t, <-done)
	assert.GreaterOrEqual(t, acked.Load(), int64(8), "the drain commits and acks both batches held at shutdown")
	assert.LessOrEqual(t, acked.Load(), int64(12), "nothing is acked twice")
}

func TestBatcherUncommittedStaysUnacked(t *testing.T) {
	c := &scriptedCommitter{failures: 100}
	b := NewBatcher(BatchOptions{MaxPoints: 10, AckWindow: 1, Linger: time.Millisecond, DrainTimeout: 50 * time.Millisecond}, c, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var acked atomic.Int64
	require.NoError(t, b.Deliver(doorReading("d", 1), ackCounter{&acked}))
	time.Sleep(20 * time.Millisecond)
	cancel()
	<-done
	assert.Zero(t, acked.Load(), "a reading never committed is never acked: the broker keeps it")
}

type poisonRecorder struct {
	mu    sync.Mutex
	lines []string
	codes []int
}

func (p *poisonRecorder) Poison(line []byte, status int, _ string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, string(line))
	p.codes = append(p.codes, status)
	return nil
}

func TestInfluxCommitCreatesDatabaseAndWrites(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	reg := prometheus.NewRegistry()
	w := NewInflux(InfluxOptions{URL: db.URL, Bucket: "facmon_t", Timeout: 5 * time.Second, MaxRetryInterval: time.Second, CreateDatabase: true}, nil, slog.New(slog.DiscardHandler), reg)
	defer w.Close()
	require.NoError(t, w.Ping(context.Background()))
	assert.Zero(t, testutil.ToFloat64(w.metrics.lastWrite), "no write yet")
	e := NewEncoder()
	for i := range 3 {
		r := doorReading("door-"+string(rune('1'+i)), int64(100+i))
		require.NoError(t, e.Append(r))
	}
	began := float64(time.Now().UnixNano()) / 1e9
	require.NoError(t, w.Commit(context.Background(), e.Bytes(), 3))
	ended := float64(time.Now().UnixNano()) / 1e9
	last := testutil.ToFloat64(w.metrics.lastWrite)
	assert.True(t, began <= last && last <= ended, "last write at %f, not within the commit [%f, %f]", last, began, ended)
	rows := db.Query(t, "facmon_t", `SELECT cycles, state FROM door GROUP BY device`)
	require.Len(t, rows, 3)
	assert.Equal(t, "door-1", rows[0].Tags["device"])
	n, _ := influxdb.AsInt64(rows[0].Value(0, "cycles"))
	assert.EqualValues(t, 100, n)
	assert.Equal(t, 3.0, testutil.ToFloat64(w.metrics.written))
}

func TestInfluxPoisonPointIsSetAsideOthersLand(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, `CREATE DATABASE poison`)
	db.Write(t, "poison", "door,class=door,device=door-0,ward=thanh-binh cycles=1i 1795400000000000000\n")
	p := &poisonRecorder{}
	w := NewInflux(InfluxOptions{URL: db.URL, Bucket: "poison", Timeout: 5 * time.Second, MaxRetryInterval: time.Second}, p, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	defer w.Close()
	var lines strings.Builder
	for i := range 9 {
		if i == 4 {
			// cycles is an integer in this shard: a float is refused for good.
			lines.WriteString("door,class=door,device=door-bad,ward=thanh-binh cycles=2.5 1795400100000000000\n")
			continue
		}
		lines.WriteString("door,class=door,device=door-" + string(rune('a'+i)) + ",ward=thanh-binh cycles=7i 1795400100000000000\n")
	}
	require.NoError(t, w.Commit(context.Background(), []byte(lines.String()), 9))
	require.Len(t, p.lines, 1)
	assert.Contains(t, p.lines[0], "door-bad")
	assert.Equal(t, 400, p.codes[0])
	rows := db.Query(t, "poison", `SELECT count(cycles) FROM door WHERE time > 1795400050000000000`)
	n, _ := influxdb.AsInt64(rows[0].Value(0, "count"))
	assert.EqualValues(t, 8, n, "every good point landed")
	assert.Equal(t, 1.0, testutil.ToFloat64(w.metrics.poisonedBy.WithLabelValues("400")))
}

func TestInfluxRetriesHonourRetryAfter(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, `CREATE DATABASE retry`)
	target, _ := url.Parse(db.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var calls atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.Header().Set("Retry-After", "2")
			http.Error(w, `{"code":"unavailable","message":"overloaded"}`, http.StatusServiceUnavailable)
		case 2:
			http.Error(w, `{"code":"too many requests"}`, http.StatusTooManyRequests)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	defer front.Close()
	reg := prometheus.NewRegistry()
	w := NewInflux(InfluxOptions{URL: front.URL, Bucket: "retry", Timeout: 5 * time.Second, MaxRetryInterval: time.Second}, nil, slog.New(slog.DiscardHandler), reg)
	defer w.Close()
	var waits []time.Duration
	w.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	require.NoError(t, w.Commit(context.Background(), []byte("door,class=door,device=d,ward=w cycles=1i 1795400100000000000\n"), 1))
	require.Len(t, waits, 2)
	assert.Equal(t, 2*time.Second, waits[0], "Retry-After: 2 is honoured")
	assert.Equal(t, 200*time.Millisecond, waits[1], "then capped exponential backoff")
	assert.Equal(t, 1.0, testutil.ToFloat64(w.metrics.errors.WithLabelValues("http_5xx")))
	assert.Equal(t, 1.0, testutil.ToFloat64(w.metrics.errors.WithLabelValues("http_429")))
	rows := db.Query(t, "retry", `SELECT count(cycles) FROM door`)
	require.Len(t, rows, 1)
}

func TestInfluxCommitStopsWithContext(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer dead.Close()
	w := NewInflux(InfluxOptions{URL: dead.URL, Bucket: "x", Timeout: time.Second, MaxRetryInterval: 10 * time.Millisecond}, nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := w.Commit(ctx, []byte("door,class=door,device=d,ward=w cycles=1i 1\n"), 1)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	assert.Zero(t, testutil.ToFloat64(w.metrics.lastWrite), "a failed write is not a write")
}

func BenchmarkEncode(b *testing.B) {
	e := NewEncoder()
	r := doorReading("door-1", 18231)
	b.ReportAllocs()
	for b.Loop() {
		if e.Len() > 1<<20 {
			e.Reset(e.Bytes())
		}
		_ = e.Append(r)
	}
}

// TestBatcherHoldsAtMostMaxPending: the service's options for
// mqtt.max_inflight 100 (influx.batch_size above it). With the commit
// stalled, one half-window batch commits while the next accumulates: the
// two together must stay within MaxPending (they reached 1.5 times it),
// Offer must refuse rather than wait, and once the commit resumes every
// reading is acked with the gauge never above the bound.
func TestBatcherHoldsAtMostMaxPending(t *testing.T) {
	gate := make(chan struct{})
	c := &scriptedCommitter{gate: gate}
	reg := prometheus.NewRegistry()
	b := NewBatcher(BatchOptions{MaxPoints: 100, MaxPending: 100, AckWindow: 50, Linger: 10 * time.Millisecond, DrainTimeout: time.Second}, c, slog.New(slog.DiscardHandler), reg)
	pending := func() float64 { return testutil.ToFloat64(b.pending) }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()

	var most atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if p := int64(pending()); p > most.Load() {
				most.Store(p)
			}
			select {
			case <-stopSampling:
				return
			default:
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()

	var acked, delivered atomic.Int64
	go func() {
		for i := range 300 {
			_ = b.Deliver(doorReading("d", int64(i)), ackCounter{&acked})
			delivered.Add(1)
		}
	}()
	testenv.Eventually(t, 5*time.Second, "deliveries stall", func() (bool, string) {
		n := delivered.Load()
		time.Sleep(50 * time.Millisecond)
		return n == delivered.Load() && n > 0, fmt.Sprintf("delivered %d", n)
	})
	assert.Equal(t, int64(100), delivered.Load(), "Deliver waits once MaxPending are held")
	assert.Equal(t, 100.0, pending())
	ok, err := b.Offer(doorReading("d", 1000), ackCounter{&acked})
	require.NoError(t, err)
	assert.False(t, ok, "Offer refuses at once when there is no room")
	assert.Equal(t, 100.0, pending(), "a refused offer holds nothing")

	close(gate)
	testenv.Eventually(t, 5*time.Second, "every reading acked", func() (bool, string) {
		return acked.Load() == 300, fmt.Sprintf("acked %d", acked.Load())
	})
	ok, err = b.Offer(doorReading("d", 1001), ackCounter{&acked})
	require.NoError(t, err)
	assert.True(t, ok, "Offer takes a reading when there is room")
	close(stopSampling)
	<-sampled
	assert.LessOrEqual(t, most.Load(), int64(100), "facmon_ingest_pending_readings never above MaxPending")
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, int64(301), acked.Load())
	assert.Zero(t, pending())
}
