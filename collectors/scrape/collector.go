// Package scrape is the scrape collector: it reads the Prometheus metrics
// of the offices' service applications (queue ticket kiosk, dossier
// processing) on an interval and turns them into Readings, one per series,
// plus one "scrape" reading per scrape that says whether the app answered.
//
// Every target has its own goroutine, started at a fixed offset within its
// interval so targets do not all fire at once; a slow, dead or garbage-
// serving target only ever delays itself. See README.md for the mapping.
package scrape

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/ratelog"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/redact"
)

// Sink takes the readings of a scrape. Deliver may block for back-pressure
// (the storage batcher does while the disk spool is full: the target's next
// scrape then waits, nothing is dropped); an error means the reading can
// never be stored, and the collector counts it as unencodable.
type Sink interface {
	Deliver(r *reading.Reading, a reading.Acker) error
}

// Results of a scrape, the result label of facmon_scrapes_total.
const (
	ResultOK      = "ok"
	ResultError   = "error"
	ResultTimeout = "timeout"
)

// Fields of the scrape measurement.
const (
	FieldUp       = "up"
	FieldDuration = "duration_seconds"
	FieldSamples  = "samples"
)

// shutdownGrace bounds how long Run waits, once its context ended, for a
// target still handing a scrape to a blocked sink.
const shutdownGrace = 5 * time.Second

// receivedHelp must match the help of the other sources'
// facmon_readings_received_total, or the registry refuses the metric.
const receivedHelp = "Readings received, by source (mqtt messages, facmon heartbeats)."

// Collector scrapes every configured target until its context ends.
type Collector struct {
	targets []*target
	sink    Sink
	log     *slog.Logger
	limited *ratelog.Limiter
	m       metrics
}

type metrics struct {
	scrapes  *prometheus.CounterVec
	duration prometheus.Histogram
	dropped  *prometheus.CounterVec
	received prometheus.Counter
}

// TargetStatus is what the collector knows of a target after its last scrape.
type TargetStatus struct {
	Ward, App string
	URL       string // without credentials or query
	// Up is false until the first successful scrape.
	Up           bool
	Result       string // ok, error, timeout; "" before the first scrape
	LastScrape   time.Time
	LastDuration time.Duration
	LastError    string
	Series       int // points written by the last scrape, the scrape point excluded
}

type target struct {
	cfg      Target
	path     string // scrape[i], for messages
	mt       mapTarget
	client   *http.Client
	logURL   string
	offset   time.Duration
	failures int // consecutive failed scrapes, for the recovery log

	mu     sync.Mutex
	status TargetStatus
}

// New builds a collector for o's targets. It reads the TLS files and
// checks that the secret files can be read, so a mistake fails start-up,
// not every scrape. With no targets, Run just waits for its context.
func New(o Options, sink Sink, log *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	c := &Collector{sink: sink, log: log.With("collector", "scrape")}
	c.limited = ratelog.New(c.log, 10*time.Second)
	c.m = metrics{
		scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_scrapes_total", Help: "Scrapes of service apps' /metrics, by app, ward and result (ok, error, timeout).",
		}, []string{"app", "ward", "result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "facmon_scrape_duration_seconds", Help: "Time to fetch and parse one app's /metrics, all targets together.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_scrape_series_dropped_total", Help: "Scraped series not stored, by app, ward and reason (non_finite counts single values).",
		}, []string{"app", "ward", "reason"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_readings_received_total", Help: receivedHelp,
			ConstLabels: prometheus.Labels{"source": "scrape"},
		}),
	}
	for i, st := range o.Targets {
		t, err := newTarget(i, st, o.Bounds)
		if err != nil {
			return nil, err
		}
		for _, r := range []string{ResultOK, ResultError, ResultTimeout} {
			c.m.scrapes.WithLabelValues(t.cfg.App, t.cfg.Ward, r)
		}
		for _, r := range DropReasons {
			c.m.dropped.WithLabelValues(t.cfg.App, t.cfg.Ward, r)
		}
		c.targets = append(c.targets, t)
	}
	reg.MustRegister(c.m.scrapes, c.m.duration, c.m.dropped, c.m.received)
	return c, nil
}

func newTarget(i int, st Target, in TimeBounds) (*target, error) {
	path := "scrape[" + strconv.Itoa(i) + "]"
	u, err := url.Parse(st.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s.url: want an http:// or https:// URL", path)
	}
	if st.Interval <= 0 || st.Timeout <= 0 {
		return nil, fmt.Errorf("%s: interval and timeout must be positive, got %v and %v", path, st.Interval, st.Timeout)
	}
	// Fail now rather than on every scrape; the files are read again on
	// each scrape so rotated secrets are picked up.
	if st.BearerTokenFile != "" {
		if _, err := clientauth.ReadSecret(st.BearerTokenFile); err != nil {
			return nil, fmt.Errorf("%s.bearer_token_file: %w", path, err)
		}
	}
	if st.BasicAuth != nil && st.BasicAuth.PasswordFile != "" {
		if _, err := clientauth.ReadSecret(st.BasicAuth.PasswordFile); err != nil {
			return nil, fmt.Errorf("%s.basic_auth.password_file: %w", path, err)
		}
	}
	var tc *tls.Config
	if st.TLS.Enabled() {
		if tc, err = st.TLS.Build(path + ".tls"); err != nil {
			return nil, err
		}
	}
	labels := make([]reading.Tag, 0, len(st.Labels))
	for k, v := range st.Labels {
		labels = append(labels, reading.Tag{Key: k, Value: v})
	}
	sort.Slice(labels, func(a, b int) bool { return labels[a].Key < labels[b].Key })
	timeout := st.Timeout
	tr := &http.Transport{
		// Apps sit on the offices' networks; an environment proxy meant
		// for the internet would only get in the way.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: timeout,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     2 * st.Interval,
	}
	h := fnv.New64a()
	h.Write([]byte(st.URL + "\x00" + st.Ward + "\x00" + st.App))
	t := &target{
		cfg:    st,
		path:   path,
		client: &http.Client{Transport: tr},
		logURL: redact.URL(u.String()),
		offset: time.Duration(h.Sum64() % uint64(st.Interval)),
		mt: mapTarget{
			Ward: st.Ward, App: st.App, Labels: labels, MaxSeries: st.MaxSeries,
			MaxPast: in.MaxPast, MaxFuture: in.MaxFuture,
		},
	}
	t.status = TargetStatus{Ward: st.Ward, App: st.App, URL: t.logURL}
	return t, nil
}

// Run scrapes every target until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range c.targets {
		wg.Go(func() { c.loop(ctx, t) })
	}
	if len(c.targets) > 0 {
		c.log.Info("scraping service apps", "targets", len(c.targets))
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		c.log.Warn("shutdown: a scrape is still waiting for the sink; its readings are lost")
	}
	for _, t := range c.targets {
		t.client.CloseIdleConnections()
	}
	return nil
}

// Status reports every target's last scrape, in configuration order.
func (c *Collector) Status() []TargetStatus {
	out := make([]TargetStatus, len(c.targets))
	for i, t := range c.targets {
		t.mu.Lock()
		out[i] = t.status
		t.mu.Unlock()
	}
	return out
}

// loop scrapes one target at its offset within every interval. A scrape
// that overruns skips the ticks it missed rather than bursting.
func (c *Collector) loop(ctx context.Context, t *target) {
	interval := t.cfg.Interval
	next := time.Now().Add(t.offset)
	timer := time.NewTimer(t.offset)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		c.scrape(ctx, t)
		next = next.Add(interval)
		if late := time.Since(next); late > 0 {
			next = next.Add((late/interval + 1) * interval)
		}
		timer.Reset(time.Until(next))
	}
}

type noAck struct{}

func (noAck) Ack() {}

// scrape fetches, parses and maps one scrape and hands its readings to the
// sink. The timeout covers fetching and parsing; handing over may wait on
// the sink. A scrape cut short by shutdown records nothing.
func (c *Collector) scrape(ctx context.Context, t *target) {
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	fams, err := t.fetch(sctx)
	cancel()
	took := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	result := ResultOK
	var res mapped
	switch {
	case err == nil:
		res = mapFamilies(fams, t.mt, start)
	case errors.Is(err, context.DeadlineExceeded):
		result = ResultTimeout
	default:
		result = ResultError
	}
	c.m.duration.Observe(took.Seconds())
	c.m.scrapes.WithLabelValues(t.cfg.App, t.cfg.Ward, result).Inc()

	// The verdict goes first: whatever waits behind it (the sink, the
	// alert engine's queue), up=0 must not be the point that is late.
	up := int64(0)
	if result == ResultOK {
		up = 1
	}
	c.deliver(t, verdict(t, start, took, res.Samples, up))
	written := 0
	for _, r := range res.Readings {
		if ctx.Err() != nil {
			return
		}
		if c.deliver(t, r) {
			written++
		}
	}
	for reason, n := range res.Dropped {
		c.m.dropped.WithLabelValues(t.cfg.App, t.cfg.Ward, reason).Add(float64(n))
		// NaN is what a summary without observations shows: routine, not news.
		level := slog.LevelWarn
		if reason == DropNonFinite || reason == DropNoFields {
			level = slog.LevelDebug
		}
		c.limited.Log(level, t.path+":drop:"+reason, "scraped series dropped",
			"app", t.cfg.App, "ward", t.cfg.Ward, "url", t.logURL, "reason", reason, "count", n)
	}

	msg := ""
	if err != nil {
		msg = describe(err, t.cfg.Timeout)
		t.failures++
		key := t.path + ":" + result
		if result == ResultTimeout {
			c.limited.Log(slog.LevelWarn, key, "scrape timed out", "app", t.cfg.App, "ward", t.cfg.Ward, "url", t.logURL, "timeout", t.cfg.Timeout)
		} else {
			c.limited.Log(slog.LevelWarn, key, "scrape failed", "app", t.cfg.App, "ward", t.cfg.Ward, "url", t.logURL, "err", msg)
		}
	} else if t.failures > 0 {
		c.log.Info("scrape succeeds again", "app", t.cfg.App, "ward", t.cfg.Ward, "url", t.logURL, "failed_scrapes", t.failures)
		t.failures = 0
	}
	t.mu.Lock()
	t.status.Up = result == ResultOK
	t.status.Result = result
	t.status.LastScrape = start
	t.status.LastDuration = took
	t.status.LastError = msg
	t.status.Series = written
	t.mu.Unlock()
}

// deliver hands one reading to the sink and counts it.
func (c *Collector) deliver(t *target, r *reading.Reading) bool {
	if err := c.sink.Deliver(r, noAck{}); err != nil {
		c.m.dropped.WithLabelValues(t.cfg.App, t.cfg.Ward, DropUnencodable).Inc()
		c.limited.Log(slog.LevelWarn, t.path+":unencodable", "scraped series not stored", "app", t.cfg.App, "ward", t.cfg.Ward,
			"measurement", r.Measurement, "reason", DropUnencodable, "err", err)
		return false
	}
	c.m.received.Inc()
	return true
}

// fetch requests the exposition and parses it, all within ctx.
func (t *target) fetch(ctx context.Context) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.cfg.URL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("User-Agent", "facmon-scrape")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(t.cfg.Timeout.Seconds(), 'f', -1, 64))
	switch {
	case t.cfg.BearerTokenFile != "":
		tok, err := clientauth.ReadSecret(t.cfg.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("bearer_token_file: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case t.cfg.BasicAuth != nil:
		pw := ""
		if t.cfg.BasicAuth.PasswordFile != "" {
			if pw, err = clientauth.ReadSecret(t.cfg.BasicAuth.PasswordFile); err != nil {
				return nil, fmt.Errorf("basic_auth.password_file: %w", err)
			}
		}
		req.SetBasicAuth(t.cfg.BasicAuth.Username, pw)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("exposition larger than %d MiB", maxBodyBytes>>20)
	}
	return parse(ctx, body, resp.Header.Get("Content-Type"))
}

// describe turns a scrape error into a short log-safe message: the URL
// (with whatever query it carries) is left out of net/http's errors.
func describe(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out after " + timeout.String()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return strings.ToValidUTF8(msg, "?")
}
