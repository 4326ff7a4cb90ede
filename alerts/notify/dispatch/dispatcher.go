// Package dispatch hands the alert engine's notifications to every notifier
// without ever blocking the rule evaluation: a queue and a goroutine per
// notifier, batching, retries with backoff, re-posts to Alertmanager, and the
// notification metrics.
//
// The alert engine calls Dispatcher.Firing when an alert starts firing, on
// every evaluation while it fires if it likes, and when it escalates (the
// same Alert.ID with the label escalation="1"); Dispatcher.Resolved when it
// ends; and Dispatcher.Restore at start-up for the firing alerts of its
// durable state. Each call returns at once: every notifier has its own
// queue and goroutine.
//
//   - Alertmanager gets every firing alert again every repost_interval
//     (default 1m) with endsAt = now + 4 × repost_interval, so that
//     Alertmanager keeps it active between posts and ends it by itself a
//     few minutes after facmon stops posting (facmon died). A resolution is
//     posted with the real end time, after which the alert is forgotten.
//     Alertmanager's grouping, silences, inhibition, routing and receivers
//     (e-mail, Telegram, webhooks; see deploy/alertmanager/) do the rest.
//     Several URLs (an HA cluster) are all posted to; a post succeeds when
//     one of them accepted it.
//   - A webhook gets each transition once: firing, escalation, resolved.
//
// Requests carry up to batch_size alerts (default 64), gathered for at most
// batch_wait (20ms). Network errors, timeouts, 408, 429 and 5xx are retried
// with capped exponential backoff that honours Retry-After; a notification
// still failing after give_up_after (1h) is dropped with an error log. Other
// 4xx answers are final. Delivery is at least once: receivers may see a
// notification twice.
//
// # Metrics
//
//	facmon_notifications_total{notifier,result="ok|error"}  requests by result
//	facmon_notification_failures_total{notifier}           notifications given up (alert on it)
//	facmon_notifications_dropped_total{notifier}           re-posts dropped from a full queue or superseded
//	facmon_notification_duration_seconds{notifier}         request latency
//	facmon_notification_queue_length{notifier}            notifications waiting
//
// notifier is "alertmanager" or "webhook:NAME".
package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/prometheus/client_golang/prometheus"
)

// Options tune the Dispatcher; zero values mean the defaults
// (see Config for their meaning).
type Options struct {
	RepostInterval   time.Duration // default 1m
	GiveUpAfter      time.Duration // default 1h
	MaxRetryInterval time.Duration // default 1m
	// MinRetryInterval is the first backoff, doubled on every failure up
	// to MaxRetryInterval. Default 500ms.
	MinRetryInterval time.Duration
	QueueSize        int           // re-posts per notifier; default 10000
	BatchSize        int           // default 64
	BatchWait        time.Duration // default notify.DefaultBatchWait (20ms)
	// ShutdownDrain is how long Run keeps sending first notifications and
	// resolutions still queued when its context ends. Default 5s.
	ShutdownDrain time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.RepostInterval, notify.DefaultRepostInterval)
	def(&o.GiveUpAfter, notify.DefaultGiveUpAfter)
	def(&o.MaxRetryInterval, notify.DefaultMaxRetryInterval)
	def(&o.MinRetryInterval, 500*time.Millisecond)
	def(&o.BatchWait, notify.DefaultBatchWait)
	def(&o.ShutdownDrain, 5*time.Second)
	o.MinRetryInterval = min(o.MinRetryInterval, o.MaxRetryInterval)
	if o.QueueSize <= 0 {
		o.QueueSize = notify.DefaultQueueSize
	}
	if o.BatchSize <= 0 {
		o.BatchSize = notify.DefaultBatchSize
	}
	return o
}

// Dispatcher hands alerts to every notifier without ever blocking its
// caller, the rule evaluation: each notifier has its own queue and
// goroutine, so a receiver that hangs or is down delays nobody else.
//
// Per notifier it keeps the alerts that fire, so that
//   - a Reposter (Alertmanager) gets every firing alert again each
//     RepostInterval, with endsAt = now + 4 × RepostInterval, and its
//     resolution with the real end, after which the alert is forgotten;
//   - any other notifier (a webhook) gets each transition once: the first
//     Firing of an alert, a Firing whose labels changed (an escalation,
//     "escalation"="1"), and the Resolved.
//
// Deliveries are batched (BatchSize alerts or BatchWait), retried with
// capped exponential backoff (honouring Retry-After) on network errors,
// timeouts, 408, 429 and 5xx, and given up with an error log after
// GiveUpAfter. Other HTTP statuses are not retried. A full queue drops
// the oldest re-post, never a first notification or a resolution.
type Dispatcher struct {
	workers []*worker
	opts    Options
	log     *slog.Logger
	started atomic.Bool
}

type metrics struct {
	requests *prometheus.CounterVec
	failures *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	queued   *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_notifications_total",
			Help: "Requests to a notifier's receiver (each carries up to batch_size alerts) by result: ok or error (an error is retried unless final).",
		}, []string{"notifier", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_notification_failures_total",
			Help: "Alert notifications given up: still failing after give_up_after, or refused for good (4xx other than 408/429). Should stay 0.",
		}, []string{"notifier"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_notifications_dropped_total",
			Help: "Re-posts of still-firing alerts dropped from a notifier's queue: superseded by a newer re-post of the same alert, or the oldest when the queue was full.",
		}, []string{"notifier"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "facmon_notification_duration_seconds",
			Help:    "Duration of one request to a notifier's receiver, successful or not.",
			Buckets: prometheus.ExponentialBuckets(0.002, 2, 14),
		}, []string{"notifier"}),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "facmon_notification_queue_length",
			Help: "Alert notifications waiting in a notifier's queue (first notifications, resolutions and re-posts).",
		}, []string{"notifier"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.failures, m.dropped, m.duration, m.queued)
	}
	return m
}

// New creates the dispatcher; Run delivers. Alerts given before
// Run are queued. reg may be nil (no metrics registered). Notifier names
// must be unique.
func New(notifiers []notify.Notifier, opts Options, log *slog.Logger, reg prometheus.Registerer) *Dispatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{opts: opts.withDefaults(), log: log}
	m := newMetrics(reg)
	for _, n := range notifiers {
		name := n.Name()
		w := &worker{
			d:       d,
			n:       n,
			name:    name,
			log:     log.With("notifier", name),
			state:   map[string]*alertState{},
			pending: map[variantKey]*entry{},
			wake:    make(chan struct{}, 1),

			okCount:  m.requests.WithLabelValues(name, "ok"),
			errCount: m.requests.WithLabelValues(name, "error"),
			failures: m.failures.WithLabelValues(name),
			dropped:  m.dropped.WithLabelValues(name),
			duration: m.duration.WithLabelValues(name),
			queued:   m.queued.WithLabelValues(name),
		}
		w.rep, _ = n.(notify.Reposter)
		d.workers = append(d.workers, w)
	}
	return d
}

// Firing hands over a new or still-firing alert, or an escalation (the
// same ID with "escalation"="1" among its labels). Calling it on every
// evaluation is fine: Alertmanager gets the newest version at the next
// re-post, the webhooks nothing new unless the labels changed.
func (d *Dispatcher) Firing(a notify.Alert) {
	a = normalize(a)
	a.EndsAt = time.Time{}
	for _, w := range d.workers {
		w.firing(a, false)
	}
}

// Restore hands over an alert that fired and was notified before facmon
// restarted: Alertmanager gets it again right away (it knows the alert
// already, and notifies nobody anew) and then at every re-post; the other
// notifiers only remember it, to send its resolution later. The engine
// calls Restore, not Firing, for the firing alerts of its durable state.
func (d *Dispatcher) Restore(a notify.Alert) {
	a = normalize(a)
	a.EndsAt = time.Time{}
	for _, w := range d.workers {
		w.firing(a, true)
	}
}

// Update hands over a new version of a firing alert, acknowledged or no
// longer: Alertmanager gets it at once rather than at the next re-post, so
// its notifications name who is on it; webhooks only remember it (they
// were told of the firing, and hear of the resolution).
func (d *Dispatcher) Update(a notify.Alert) {
	a = normalize(a)
	a.EndsAt = time.Time{}
	for _, w := range d.workers {
		w.update(a)
	}
}

// Resolved hands over a resolution; EndsAt is the time it resolved (now
// when zero). Every notifier gets it, also when it never saw the alert
// fire (a receiver ignores what it does not know), and the Reposters
// forget the alert: every label set posted under its ID (the escalated
// one too) is resolved.
func (d *Dispatcher) Resolved(a notify.Alert) {
	a = normalize(a)
	if a.EndsAt.IsZero() {
		a.EndsAt = time.Now()
	}
	for _, w := range d.workers {
		w.resolved(a)
	}
}

func normalize(a notify.Alert) notify.Alert {
	a = a.Clone()
	if a.ID == "" {
		a.ID = notify.LabelsKey(a.Labels)
	}
	return a
}

// Run delivers until ctx ends, then spends up to ShutdownDrain sending
// the first notifications and resolutions still queued. It returns nil
// then; it can run only once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if !d.started.CompareAndSwap(false, true) {
		return errors.New("notify: Dispatcher.Run called twice")
	}
	var wg sync.WaitGroup
	for _, w := range d.workers {
		wg.Go(func() { w.run(ctx) })
	}
	wg.Wait()
	return nil
}

// FromConfig turns the notifiers' section into the Dispatcher's options,
// defaults for zero values.
func FromConfig(c notify.Config) Options {
	return Options{
		RepostInterval:   c.RepostInterval.D(),
		GiveUpAfter:      c.GiveUpAfter.D(),
		MaxRetryInterval: c.MaxRetryInterval.D(),
		QueueSize:        c.QueueSize,
		BatchSize:        c.BatchSize,
		BatchWait:        c.BatchWait.D(),
	}.withDefaults()
}
