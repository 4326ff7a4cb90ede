package storage

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/internal/reading"
)

// Committer makes a batch of line-protocol points durable. It returns nil
// only when every point is either stored or set aside for good, and an
// error only when ctx ended first.
type Committer interface {
	Commit(ctx context.Context, lines []byte, points int) error
}

// BatchOptions tunes when a batch is committed.
type BatchOptions struct {
	// MaxPoints is the most points in one commit.
	MaxPoints int
	// MaxPending is the most points held uncommitted (and so unacked) at
	// once, the batch committing and the one accumulating together; the
	// service sets it to mqtt.max_inflight. 0 means two full batches.
	MaxPending int
	// AckWindow commits as soon as this many acks wait. The broker stops
	// sending once its inflight window is full of unacked messages, so
	// waiting for more than that would only wait for the linger timer.
	AckWindow int
	// Linger is the longest a point waits for its batch to fill.
	Linger time.Duration
	// DrainTimeout bounds the last commit when Run's context ends.
	DrainTimeout time.Duration
}

// Batcher groups readings into batches and acknowledges each reading only
// after its batch is committed. Encoding happens on the caller's goroutine
// under a short lock, so encoding the next batch overlaps committing the
// previous one; at most one batch commits at a time and at most one more
// accumulates, which bounds memory whatever the broker sends.
type Batcher struct {
	opts   BatchOptions
	commit Committer
	log    *slog.Logger

	// flushing is a one-slot semaphore keeping one commit at a time, so
	// batches reach the committer in order whether Run or Flush takes
	// them; a channel, so a caller with a deadline can give up waiting.
	flushing chan struct{}
	mu       sync.Mutex
	room     *sync.Cond // signalled when the accumulating batch is taken
	enc      *Encoder
	acks     []reading.Acker
	points   int // in the accumulating batch
	held     int // accumulating and committing: what facmon_ingest_pending_readings shows
	first    time.Time
	closed   bool
	spare    []byte
	kick     chan struct{}
	pending  prometheus.Gauge
	encErrs  prometheus.Counter
}

// NewBatcher returns a batcher committing through c.
func NewBatcher(opts BatchOptions, c Committer, log *slog.Logger, reg prometheus.Registerer) *Batcher {
	if opts.AckWindow <= 0 || opts.AckWindow > opts.MaxPoints {
		opts.AckWindow = opts.MaxPoints
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 2 * opts.MaxPoints
	}
	opts.AckWindow = min(opts.AckWindow, opts.MaxPending)
	b := &Batcher{
		opts:     opts,
		commit:   c,
		log:      log,
		enc:      NewEncoder(),
		kick:     make(chan struct{}, 1),
		flushing: make(chan struct{}, 1),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_ingest_pending_readings",
			Help: "Readings accepted but not yet committed (their MQTT acks are held back).",
		}),
		encErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_encode_errors_total",
			Help: "Readings that could not be encoded as line protocol.",
		}),
	}
	b.room = sync.NewCond(&b.mu)
	reg.MustRegister(b.pending, b.encErrs)
	return b
}

// Deliver queues r and calls a.Ack once it is committed. It blocks only
// while MaxPending points are held or a full batch waits behind one being
// committed: that is the back-pressure that makes the broker hold the
// backlog. An error means r cannot be encoded; the caller counts it and
// acks.
func (b *Batcher) Deliver(r *reading.Reading, a reading.Acker) error {
	_, err := b.deliver(r, a, true)
	return err
}

// Offer is Deliver without the wait: it reports false, and takes nothing,
// when there is no room now. The MQTT collector offers from paho's
// network goroutine, which must not block, and leaves what is refused to
// a goroutine of its own that waits in Deliver.
func (b *Batcher) Offer(r *reading.Reading, a reading.Acker) (bool, error) {
	return b.deliver(r, a, false)
}

func (b *Batcher) full() bool {
	return (b.points >= b.opts.MaxPoints || b.held >= b.opts.MaxPending) && !b.closed
}

func (b *Batcher) deliver(r *reading.Reading, a reading.Acker, wait bool) (bool, error) {
	b.mu.Lock()
	for b.full() {
		if !wait {
			b.mu.Unlock()
			return false, nil
		}
		b.room.Wait()
	}
	if err := b.enc.Append(r); err != nil {
		b.mu.Unlock()
		b.encErrs.Inc()
		return true, err
	}
	b.acks = append(b.acks, a)
	b.points++
	b.held++
	if b.points == 1 {
		b.first = time.Now()
	}
	signal := b.points == 1 || b.points >= b.opts.AckWindow
	// The gauge moves under the lock, with held, so it never shows more
	// than MaxPending, not even for an instant between two deliveries.
	b.pending.Inc()
	b.mu.Unlock()
	if signal {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return true, nil
}

// Release stops Deliver from waiting for room: once shutdown begins,
// whatever still arrives is taken at once (the collector has stopped
// intake by then), so no caller can hang on a spool that cannot drain.
func (b *Batcher) Release() {
	b.mu.Lock()
	b.closed = true
	b.room.Broadcast()
	b.mu.Unlock()
}

// Run commits batches until ctx ends, then commits what is left within
// DrainTimeout. Readings it could not commit stay unacknowledged, so the
// broker delivers them again to the persistent session.
func (b *Batcher) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return b.drain()
		case <-b.kick:
		case <-timer.C:
		}
		b.mu.Lock()
		n := b.points
		wait := time.Duration(0)
		if n > 0 && n < b.opts.AckWindow {
			wait = b.opts.Linger - time.Since(b.first)
		}
		b.mu.Unlock()
		if n == 0 {
			continue
		}
		if wait > 0 {
			timer.Reset(wait)
			continue
		}
		if err := b.flush(ctx); err != nil {
			return b.drain()
		}
	}
}

// Flush commits what has accumulated now and acks it. The collector calls
// it on shutdown while still connected, so the acks reach the broker.
func (b *Batcher) Flush(ctx context.Context) error { return b.flush(ctx) }

// flush takes the accumulating batch, commits it and acks its readings.
func (b *Batcher) flush(ctx context.Context) error {
	select {
	case b.flushing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-b.flushing }()
	b.mu.Lock()
	lines := b.enc.Bytes()
	acks := b.acks
	n := b.points
	b.enc.Reset(b.spare)
	b.spare = nil
	b.acks = make([]reading.Acker, 0, cap(acks))
	b.points = 0
	b.room.Broadcast()
	b.mu.Unlock()
	if n == 0 {
		return nil
	}
	if err := b.commit.Commit(ctx, lines, n); err != nil {
		// Put the batch back in front so a later drain can retry it.
		b.mu.Lock()
		b.enc.enc.SetBuffer(append(lines, b.enc.Bytes()...))
		b.acks = append(acks, b.acks...)
		b.points += n
		b.mu.Unlock()
		return err
	}
	for _, a := range acks {
		a.Ack()
	}
	b.mu.Lock()
	b.held -= n
	b.pending.Sub(float64(n))
	b.spare = lines[:0]
	b.room.Broadcast()
	b.mu.Unlock()
	return nil
}

func (b *Batcher) drain() error {
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.DrainTimeout)
	defer cancel()
	b.mu.Lock()
	b.closed = true
	b.room.Broadcast()
	b.mu.Unlock()
	for {
		b.mu.Lock()
		n := b.points
		b.mu.Unlock()
		if n == 0 {
			return nil
		}
		if err := b.flush(ctx); err != nil {
			b.log.Warn("shutdown: readings left uncommitted; the broker will deliver them again", "readings", n, "err", err)
			return err
		}
	}
}
