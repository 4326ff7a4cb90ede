package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/internal/redact"
)

// InfluxOptions says where and how to write.
type InfluxOptions struct {
	URL    string
	Bucket string // "db" or "db/rp" on 1.8
	Org    string
	// Token is "user:password" on 1.8 with auth, empty without.
	Token            string
	Timeout          time.Duration
	MaxRetryInterval time.Duration
	CreateDatabase   bool
}

// Influx writes line-protocol batches with the blocking write API, so every
// error comes back to us rather than into the async client's bounded retry
// queue, which discards data after a few minutes of outage.
type Influx struct {
	opts    InfluxOptions
	client  influxdb2.Client
	write   api.WriteAPIBlocking
	log     *slog.Logger
	metrics *influxMetrics
	// poison receives points InfluxDB refused for good.
	poison    PoisonHandler
	ensuredDB atomic.Bool // Commit runs from several drain goroutines
	sleep     func(context.Context, time.Duration) error
}

// PoisonHandler takes a point InfluxDB will never accept (400/422), so it
// can be set aside instead of retried forever. An error means the point
// was not set aside; it is offered again.
type PoisonHandler interface {
	Poison(line []byte, status int, msg string) error
}

type influxMetrics struct {
	written    prometheus.Counter
	lastWrite  prometheus.Gauge
	errors     *prometheus.CounterVec
	latency    prometheus.Histogram
	batchSize  prometheus.Histogram
	poisonedBy *prometheus.CounterVec
	poisonErrs prometheus.Counter
}

func newInfluxMetrics(reg prometheus.Registerer) *influxMetrics {
	m := &influxMetrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_points_written_total", Help: "Points InfluxDB accepted.",
		}),
		// A timestamp, not a counter's rate, tells "nothing to write" from
		// "cannot write" when a quiet fleet sends little: alert on
		// time() minus it.
		lastWrite: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_influx_last_write_timestamp_seconds",
			Help: "Unix time of the last write InfluxDB accepted (0: none yet).",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_influx_write_errors_total",
			Help: "Failed write requests to InfluxDB by kind (network, timeout, http_429, http_5xx, http_4xx).",
		}, []string{"kind"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "facmon_influx_write_duration_seconds",
			Help:    "Duration of one write request to InfluxDB, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "facmon_influx_batch_points",
			Help:    "Points per write request.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		poisonedBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_points_quarantined_total",
			Help: "Points InfluxDB refused for good (400/422), set aside and not retried.",
		}, []string{"status"}),
		poisonErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_quarantine_write_errors_total",
			Help: "Failed writes of refused points to the quarantine file; the drain waits and retries, the points stay in the spool.",
		}),
	}
	for _, k := range []string{"network", "timeout", "http_429", "http_5xx", "http_4xx"} {
		m.errors.WithLabelValues(k)
	}
	for _, s := range []string{"400", "422"} {
		m.poisonedBy.WithLabelValues(s)
	}
	reg.MustRegister(m.written, m.lastWrite, m.errors, m.latency, m.batchSize, m.poisonedBy, m.poisonErrs)
	return m
}

// NewInflux creates the client. It does not contact InfluxDB: a database
// that is down at start-up is retried like any outage.
func NewInflux(opts InfluxOptions, poison PoisonHandler, log *slog.Logger, reg prometheus.Registerer) *Influx {
	copts := influxdb2.DefaultOptions().
		SetHTTPRequestTimeout(uint(max(1, opts.Timeout/time.Second))).
		SetLogLevel(0). // the client logs through its own logger; errors come back to us instead
		SetPrecision(time.Nanosecond)
	client := influxdb2.NewClientWithOptions(opts.URL, opts.Token, copts)
	return &Influx{
		opts:    opts,
		client:  client,
		write:   client.WriteAPIBlocking(opts.Org, opts.Bucket),
		log:     log,
		metrics: newInfluxMetrics(reg),
		poison:  poison,
		sleep:   sleepCtx,
	}
}

// Close releases idle connections.
func (w *Influx) Close() { w.client.Close() }

// Ping reports whether InfluxDB answers, for /healthz.
func (w *Influx) Ping(ctx context.Context) error {
	ok, err := w.client.Ping(ctx)
	if err != nil {
		return fmt.Errorf("influxdb at %s: %w", redact.URL(w.opts.URL), err)
	}
	if !ok {
		return fmt.Errorf("influxdb at %s: not ready", redact.URL(w.opts.URL))
	}
	return nil
}

// Commit writes lines, retrying network errors, timeouts, 429 and 5xx with
// capped exponential backoff that honours Retry-After, until it succeeds or
// ctx ends. Points refused with 400/422 are found by bisection and handed
// to the poison handler, so one bad point never blocks the rest.
func (w *Influx) Commit(ctx context.Context, lines []byte, points int) error {
	if !w.ensuredDB.Load() && w.opts.CreateDatabase {
		w.ensureDatabase(ctx)
	}
	return w.commit(ctx, lines, points)
}

func (w *Influx) commit(ctx context.Context, lines []byte, points int) error {
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := w.writeOnce(ctx, lines, points)
		if err == nil {
			w.metrics.written.Add(float64(points))
			w.metrics.lastWrite.SetToCurrentTime()
			return nil
		}
		var herr *influxhttp.Error
		status := 0
		if errors.As(err, &herr) {
			status = herr.StatusCode
		}
		if status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge {
			return w.splitPoison(ctx, lines, points, status, err)
		}
		if status == http.StatusNotFound && w.opts.CreateDatabase {
			// The database is missing: InfluxDB may have been down when we
			// first tried to create it, or someone dropped it since.
			w.ensureDatabase(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := backoff
		if herr != nil && herr.RetryAfter > 0 {
			wait = time.Duration(herr.RetryAfter) * time.Second
		}
		if attempt == 0 || attempt%10 == 0 {
			w.log.Warn("influxdb write failed; retrying", "err", w.clean(err), "points", points, "attempt", attempt+1, "retry_in", wait)
		}
		if err := w.sleep(ctx, wait); err != nil {
			return err
		}
		backoff = min(backoff*2, w.opts.MaxRetryInterval)
	}
}

func (w *Influx) writeOnce(ctx context.Context, lines []byte, points int) error {
	start := time.Now()
	err := w.write.WriteRecord(ctx, string(lines))
	w.metrics.latency.Observe(time.Since(start).Seconds())
	w.metrics.batchSize.Observe(float64(points))
	if err != nil {
		w.metrics.errors.WithLabelValues(errorKind(err)).Inc()
	}
	return err
}

// splitPoison halves a refused batch until the refused points stand alone.
// InfluxDB 1.8 has already stored the good points of a partial write;
// writing them again is harmless because their timestamps are fixed.
func (w *Influx) splitPoison(ctx context.Context, lines []byte, points int, status int, err error) error {
	body := bytes.TrimRight(lines, "\n")
	if points <= 1 || bytes.IndexByte(body, '\n') < 0 {
		msg := w.clean(err)
		if err := w.setAside(ctx, body, status, msg); err != nil {
			return err
		}
		w.metrics.poisonedBy.WithLabelValues(strconv.Itoa(status)).Inc()
		w.log.Error("influxdb refused a point for good; set aside", "status", status, "err", msg)
		return nil
	}
	n := bytes.Count(body, []byte{'\n'}) + 1
	mid := 0
	for i := 0; i < n/2; i++ {
		mid += bytes.IndexByte(body[mid:], '\n') + 1
	}
	if err := w.commit(ctx, body[:mid], n/2); err != nil {
		return err
	}
	return w.commit(ctx, body[mid:], n-n/2)
}

// setAside hands a refused point to the poison handler until it takes it
// or ctx ends. Until then the commit does not return, so the drain waits
// and the point stays in the spool: counted as quarantined only once it is
// in the quarantine file, never lost between the two.
func (w *Influx) setAside(ctx context.Context, line []byte, status int, msg string) error {
	if w.poison == nil {
		return nil
	}
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := w.poison.Poison(line, status, msg)
		if err == nil {
			if attempt > 0 {
				w.log.Info("refused point set aside after all; the drain goes on", "attempts", attempt+1)
			}
			return nil
		}
		w.metrics.poisonErrs.Inc()
		if attempt == 0 || attempt%10 == 0 {
			w.log.Error("cannot set a refused point aside; the drain waits and retries, the point stays in the spool", "status", status, "err", err, "attempt", attempt+1, "retry_in", backoff)
		}
		if err := w.sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = max(min(backoff*2, w.opts.MaxRetryInterval), 100*time.Millisecond)
	}
}

// ensureDatabase creates the database on 1.x (CREATE DATABASE is
// idempotent) or the bucket on 2.x. Lacking permission is not fatal: the
// operator may have created it already.
func (w *Influx) ensureDatabase(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	db, _, _ := strings.Cut(w.opts.Bucket, "/")
	health, err := w.client.Health(cctx)
	if err != nil {
		// 1.8 answers /health too; no answer means it is down, and the
		// write loop will retry. Try again on the next commit.
		return
	}
	version := ""
	if health.Version != nil {
		version = *health.Version
	}
	// A 1.x built from source reports version "unknown", so only a
	// version that says 2 or later skips InfluxQL; a failed CREATE DATABASE
	// falls back to the bucket API.
	v2 := strings.HasPrefix(strings.TrimPrefix(version, "v"), "2.") || strings.HasPrefix(strings.TrimPrefix(version, "v"), "3.")
	if !v2 {
		err = w.influxQL(cctx, `CREATE DATABASE "`+strings.ReplaceAll(db, `"`, `\"`)+`"`)
	}
	if v2 || err != nil {
		if berr := w.ensureBucket(cctx); berr == nil {
			err = nil
		} else if err == nil {
			err = berr
		}
	}
	if err != nil {
		w.log.Warn("could not create the database; writes will fail if it is missing", "bucket", w.opts.Bucket, "err", w.clean(err))
	} else {
		w.log.Info("database ready", "bucket", w.opts.Bucket, "influxdb_version", version)
	}
	w.ensuredDB.Store(true)
}

func (w *Influx) ensureBucket(ctx context.Context) error {
	buckets := w.client.BucketsAPI()
	if _, err := buckets.FindBucketByName(ctx, w.opts.Bucket); err == nil {
		return nil
	}
	org, err := w.client.OrganizationsAPI().FindOrganizationByName(ctx, w.opts.Org)
	if err != nil {
		return fmt.Errorf("find organization %q: %w", w.opts.Org, err)
	}
	_, err = buckets.CreateBucketWithName(ctx, org, w.opts.Bucket)
	return err
}

func (w *Influx) influxQL(ctx context.Context, q string) error {
	u := strings.TrimRight(w.opts.URL, "/") + "/query"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(url.Values{"q": {q}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w.opts.Token != "" {
		req.Header.Set("Authorization", "Token "+w.opts.Token)
	}
	resp, err := w.client.HTTPService().DoHTTPRequestWithResponse(req, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 || bytes.Contains(body, []byte(`"error"`)) {
		return fmt.Errorf("%s: status %d: %s", q, resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

// clean renders an error without the token, which some transports echo.
func (w *Influx) clean(err error) string {
	s := err.Error()
	if w.opts.Token != "" {
		s = strings.ReplaceAll(s, w.opts.Token, "[redacted]")
	}
	return s
}

func errorKind(err error) string {
	var herr *influxhttp.Error
	if errors.As(err, &herr) && herr.StatusCode > 0 {
		switch {
		case herr.StatusCode == http.StatusTooManyRequests:
			return "http_429"
		case herr.StatusCode >= 500:
			return "http_5xx"
		default:
			return "http_4xx"
		}
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "network"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
