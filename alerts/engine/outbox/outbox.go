// Package outbox hands what the alert engine records (alert_event points for
// storage, incident history lines for the state directory) to a sink that may be
// stuck for minutes, without ever making the engine wait: a bounded, ordered queue
// per sink, one goroutine that hands it over and retries, and the newest record
// dropped and counted when the queue is full.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outbox is one sink's queue. The engine records under
// its lock, which evaluation, ingest's Observe and every page need; a
// sink is stuck exactly when things go wrong (the storage pipeline blocks
// while a full spool cannot take its batch, a full disk refuses the
// history), which is when those pages matter. So records wait here, in
// order, in a bounded queue; one goroutine hands them over and retries
// what failed; when the queue is full the newest record is dropped and
// counted.
type Outbox[T any] struct {
	name  string
	limit int
	retry time.Duration
	log   *slog.Logger
	// send hands items over in order and returns how many it took; an
	// error leaves the rest for a retry.
	send func(items []T) (int, error)

	mu    sync.Mutex
	items []T
	kick  chan struct{}
	// sending keeps one send at a time (the worker, or the last pass at
	// shutdown), so nothing is handed over twice or out of order.
	sending sync.Mutex
	failing bool

	dropped prometheus.Counter
	errors  prometheus.Counter
}

// New makes the outbox called name (its label in m's metrics) of at most limit
// records, which send hands over; a refused send is retried every retry.
func New[T any](name string, limit int, retry time.Duration, log *slog.Logger, send func([]T) (int, error), m *Metrics) *Outbox[T] {
	o := &Outbox[T]{
		name: name, limit: limit, retry: retry, log: log, send: send,
		kick:    make(chan struct{}, 1),
		dropped: m.dropped.WithLabelValues(name),
		errors:  m.errors.WithLabelValues(name),
	}
	m.queues = append(m.queues, o.len)
	return o
}

// Push queues v; it never blocks.
func (o *Outbox[T]) Push(v T) {
	o.mu.Lock()
	if len(o.items) >= o.limit {
		o.mu.Unlock()
		o.dropped.Inc()
		return
	}
	o.items = append(o.items, v)
	o.mu.Unlock()
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

func (o *Outbox[T]) len() (string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.name, len(o.items)
}

// Queued returns a copy of what waits.
func (o *Outbox[T]) Queued() []T {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]T(nil), o.items...)
}

// Len is how many records wait.
func (o *Outbox[T]) Len() int {
	_, n := o.len()
	return n
}

// Settled calls read with what waits while no send runs, so that nothing moves
// from the queue to the sink while read looks at both (the history API reads
// the file and then the queue).
func (o *Outbox[T]) Settled(read func(queued []T)) {
	o.sending.Lock()
	defer o.sending.Unlock()
	read(o.Queued())
}

// Run hands records over until ctx ends, retrying failures every retry.
func (o *Outbox[T]) Run(ctx context.Context) {
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	defer wait.Stop()
	for {
		if !o.Flush() {
			wait.Reset(o.retry)
			select {
			case <-ctx.Done():
				return
			case <-wait.C:
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-o.kick:
		}
	}
}

// batch is the most records handed over at once.
const batch = 1024

// Flush hands over what is queued now, on the caller's goroutine; false when
// the sink refused some of it, which stays queued.
func (o *Outbox[T]) Flush() bool {
	o.sending.Lock()
	defer o.sending.Unlock()
	for {
		o.mu.Lock()
		items := append([]T(nil), o.items[:min(len(o.items), batch)]...)
		o.mu.Unlock()
		if len(items) == 0 {
			return true
		}
		n, err := o.send(items)
		o.mu.Lock()
		// Only a sender removes items, one at a time, and push only
		// appends: the first n are still the ones sent.
		o.items = append(o.items[:0], o.items[n:]...)
		left := len(o.items)
		o.mu.Unlock()
		if err != nil {
			o.errors.Inc()
			if !o.failing {
				o.failing = true
				o.log.Error("alerts: cannot record; kept and retried", "what", o.name, "queued", left, "err", err)
			}
			return false
		}
		if o.failing {
			o.failing = false
			o.log.Info("alerts: recording again", "what", o.name)
		}
	}
}

// Metrics are the counters and queue lengths of a set of outboxes, one
// Prometheus collector labelled by queue.
type Metrics struct {
	dropped *prometheus.CounterVec
	errors  *prometheus.CounterVec
	queued  *prometheus.Desc
	queues  []func() (string, int)
}

// NewMetrics makes the collector; register it once.
func NewMetrics() *Metrics {
	return &Metrics{
		queued: prometheus.NewDesc("facmon_alert_records_queued", "Alert events and history lines waiting for their sink.", []string{"queue"}, nil),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_alert_records_dropped_total",
			Help: "Alert events and history lines dropped because their queue was full (the sink stuck for long): events for storage, history for alerts.state_dir.",
		}, []string{"queue"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_alert_record_errors_total",
			Help: "Failed attempts to record alert events or history lines (a full disk); they stay queued and are retried.",
		}, []string{"queue"}),
	}
}

// Describe and Collect make the counters and the queue lengths one
// collector, so the lengths are read at scrape time.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.dropped.Describe(ch)
	m.errors.Describe(ch)
	ch <- m.queued
}

func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.dropped.Collect(ch)
	m.errors.Collect(ch)
	for _, q := range m.queues {
		name, n := q()
		ch <- prometheus.MustNewConstMetric(m.queued, prometheus.GaugeValue, float64(n), name)
	}
}

// Waiting is each outbox's name and queue length now.
func (m *Metrics) Waiting() map[string]int {
	w := make(map[string]int, len(m.queues))
	for _, q := range m.queues {
		name, n := q()
		w[name] = n
	}
	return w
}

// Dropped is the count of records of queue dropped because it was full.
func (m *Metrics) Dropped(queue string) prometheus.Counter { return m.dropped.WithLabelValues(queue) }

// Errors is the count of queue's refused sends.
func (m *Metrics) Errors(queue string) prometheus.Counter { return m.errors.WithLabelValues(queue) }
