package dispatch

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/prometheus/client_golang/prometheus"
)

type variantKey struct{ id, labels string }

// alertState is what a worker knows of one firing alert: every label set
// sent under its ID (more than one after an escalation), newest version.
type alertState struct {
	variants map[string]notify.Alert
}

type entry struct {
	alert   notify.Alert // first notifications and resolutions
	key     variantKey   // re-posts: resolved from the state when taken
	repost  bool
	queued  time.Time
	removed bool // a re-post superseded or dropped
}

type worker struct {
	d    *Dispatcher
	n    notify.Notifier
	rep  notify.Reposter // nil when n is no notify.Reposter
	name string
	log  *slog.Logger

	mu      sync.Mutex
	urgent  []*entry // first notifications and resolutions, in order; never dropped
	reposts []*entry // re-posts in order; may hold removed ones
	liveRep int      // re-posts in reposts not removed
	pending map[variantKey]*entry
	state   map[string]*alertState
	wake    chan struct{}
	// repostFrom is where the next round of re-posts starts (an index in
	// the sorted label sets) after a round found the queue full.
	repostFrom int

	okCount, errCount, failures, dropped prometheus.Counter
	duration                             prometheus.Observer
	queued                               prometheus.Gauge
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) updateQueued() { w.queued.Set(float64(len(w.urgent) + w.liveRep)) }

func (w *worker) firing(a notify.Alert, restore bool) {
	k := variantKey{a.ID, notify.LabelsKey(a.Labels)}
	w.mu.Lock()
	st := w.state[a.ID]
	if st == nil {
		st = &alertState{variants: map[string]notify.Alert{}}
		w.state[a.ID] = st
	}
	_, known := st.variants[k.labels]
	st.variants[k.labels] = a
	send := false
	switch {
	case known:
	case restore:
		if w.rep != nil {
			w.pushRepost(k, time.Now())
			send = true
		}
	default:
		w.urgent = append(w.urgent, &entry{alert: a, queued: time.Now()})
		send = true
	}
	w.updateQueued()
	w.mu.Unlock()
	if send {
		w.signal()
	}
}

func (w *worker) update(a notify.Alert) {
	k := variantKey{a.ID, notify.LabelsKey(a.Labels)}
	w.mu.Lock()
	st := w.state[a.ID]
	if st == nil {
		w.mu.Unlock()
		w.firing(a, false)
		return
	}
	st.variants[k.labels] = a
	send := w.rep != nil && w.pushRepost(k, time.Now())
	w.updateQueued()
	w.mu.Unlock()
	if send {
		w.signal()
	}
}

func (w *worker) resolved(a notify.Alert) {
	now := time.Now()
	own := notify.LabelsKey(a.Labels)
	w.mu.Lock()
	st := w.state[a.ID]
	delete(w.state, a.ID)
	if st != nil {
		keys := make([]string, 0, len(st.variants))
		for k := range st.variants {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			w.cancelRepost(variantKey{a.ID, k})
			if k == own || w.rep == nil {
				continue
			}
			// Another label set of this alert (the one before an
			// escalation) that Alertmanager holds: resolve it too.
			v := st.variants[k]
			v.EndsAt = a.EndsAt
			w.urgent = append(w.urgent, &entry{alert: v, queued: now})
		}
	}
	w.urgent = append(w.urgent, &entry{alert: a, queued: now})
	w.updateQueued()
	w.mu.Unlock()
	w.signal()
}

// pushRepost queues a re-post of one label set and reports whether it is
// queued. A re-post of it still waiting makes this one a duplicate: it is
// dropped, and the waiting one keeps its place (it is sent with the
// alert's newest version anyway); moving it back would let the alerts
// first in line be re-posted over and over while the others never are. A
// full queue drops the new re-post; queueReposts starts the next round
// with it, so that every alert gets its turn. w.mu is held.
func (w *worker) pushRepost(k variantKey, now time.Time) bool {
	if w.pending[k] != nil {
		w.dropped.Inc()
		return true
	}
	if w.liveRep >= w.d.opts.QueueSize {
		w.dropped.Inc()
		return false
	}
	e := &entry{key: k, repost: true, queued: now}
	w.reposts = append(w.reposts, e)
	w.pending[k] = e
	w.liveRep++
	// Cancelled entries stay in the slice until taken: compact when they
	// dominate.
	if len(w.reposts) > 2*w.liveRep+64 {
		w.reposts = slices.DeleteFunc(w.reposts, func(e *entry) bool { return e.removed })
	}
	return true
}

// cancelRepost removes a queued re-post; w.mu is held.
func (w *worker) cancelRepost(k variantKey) bool {
	e := w.pending[k]
	if e == nil {
		return false
	}
	e.removed = true
	delete(w.pending, k)
	w.liveRep--
	return true
}

// queueReposts queues a re-post of every label set of every firing alert,
// starting where the previous round found the queue full.
func (w *worker) queueReposts() {
	now := time.Now()
	w.mu.Lock()
	var keys []variantKey
	for id, st := range w.state {
		for k := range st.variants {
			keys = append(keys, variantKey{id, k})
		}
	}
	slices.SortFunc(keys, func(a, b variantKey) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return strings.Compare(a.labels, b.labels)
	})
	if n := len(keys); n > 0 {
		start := w.repostFrom % n
		w.repostFrom = 0
		for i := range n {
			j := (start + i) % n
			if !w.pushRepost(keys[j], now) {
				w.repostFrom = j
				// Count the rest as dropped without trying: the queue is full.
				w.dropped.Add(float64(n - i - 1))
				break
			}
		}
	}
	w.updateQueued()
	w.mu.Unlock()
}

func (w *worker) queuedCount(urgentOnly bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if urgentOnly {
		return len(w.urgent)
	}
	return len(w.urgent) + w.liveRep
}

// take removes up to BatchSize entries: first notifications and
// resolutions first, then re-posts, each re-post with the alert's newest
// version (skipped when the alert resolved meanwhile).
func (w *worker) take(urgentOnly bool) []*entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	limit := w.d.opts.BatchSize
	n := min(limit, len(w.urgent))
	batch := append([]*entry(nil), w.urgent[:n]...)
	w.urgent = w.urgent[n:]
	if len(w.urgent) == 0 {
		w.urgent = nil // let the backing array go
	}
	for !urgentOnly && len(batch) < limit && len(w.reposts) > 0 {
		e := w.reposts[0]
		w.reposts = w.reposts[1:]
		if e.removed {
			continue
		}
		delete(w.pending, e.key)
		w.liveRep--
		st := w.state[e.key.id]
		if st == nil {
			continue
		}
		a, ok := st.variants[e.key.labels]
		if !ok {
			continue
		}
		e.alert = a
		batch = append(batch, e)
	}
	if len(w.reposts) == 0 {
		w.reposts = nil
	}
	w.updateQueued()
	return batch
}

// requeue puts undelivered first notifications and resolutions back at
// the front (at shutdown, for the drain).
func (w *worker) requeue(batch []*entry) {
	var keep []*entry
	for _, e := range batch {
		if !e.repost {
			keep = append(keep, e)
		}
	}
	w.mu.Lock()
	w.urgent = append(keep, w.urgent...)
	w.updateQueued()
	w.mu.Unlock()
}

func (w *worker) run(ctx context.Context) {
	var tick <-chan time.Time
	if w.rep != nil {
		t := time.NewTicker(w.d.opts.RepostInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		if ctx.Err() != nil {
			w.drain()
			return
		}
		select {
		case <-tick:
			w.queueReposts()
		default:
		}
		if w.queuedCount(false) == 0 {
			select {
			case <-ctx.Done():
				w.drain()
				return
			case <-w.wake:
			case <-tick:
				w.queueReposts()
			}
			continue
		}
		w.gather(ctx)
		batch := w.take(false)
		if len(batch) == 0 {
			continue
		}
		if rest := w.deliver(ctx, batch); len(rest) > 0 {
			w.requeue(rest)
		}
	}
}

// gather waits up to BatchWait for a full batch.
func (w *worker) gather(ctx context.Context) {
	if w.queuedCount(false) >= w.d.opts.BatchSize {
		return
	}
	timer := time.NewTimer(w.d.opts.BatchWait)
	defer timer.Stop()
	for w.queuedCount(false) < w.d.opts.BatchSize {
		select {
		case <-w.wake:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// drain sends the first notifications and resolutions still queued, for
// up to ShutdownDrain. Re-posts are pointless now: Alertmanager holds the
// firing alerts until their endsAt.
func (w *worker) drain() {
	if w.queuedCount(true) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.d.opts.ShutdownDrain)
	defer cancel()
	for ctx.Err() == nil {
		batch := w.take(true)
		if len(batch) == 0 {
			return
		}
		if rest := w.deliver(ctx, batch); len(rest) > 0 {
			w.requeue(rest)
		}
	}
	if n := w.queuedCount(true); n > 0 {
		w.failures.Add(float64(n))
		w.log.Error("notifications not delivered before shutdown; dropped", "alerts", n)
	}
}

// deliver sends one batch, retrying until it is accepted, refused for good
// or too old. It returns the entries still undelivered when ctx ended.
func (w *worker) deliver(ctx context.Context, batch []*entry) []*entry {
	backoff := w.d.opts.MinRetryInterval
	for attempt := 1; ; attempt++ {
		err := w.send(ctx, batch)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return batch
		}
		if !notify.Retryable(err) {
			w.failures.Add(float64(len(batch)))
			w.log.Error("receiver refused the notification; not retried", "alerts", len(batch), "alertnames", alertNames(batch), "err", err)
			return nil
		}
		now := time.Now()
		keep := batch[:0:0]
		var expired []*entry
		for _, e := range batch {
			if now.Sub(e.queued) >= w.d.opts.GiveUpAfter {
				expired = append(expired, e)
			} else {
				keep = append(keep, e)
			}
		}
		if len(expired) > 0 {
			w.failures.Add(float64(len(expired)))
			w.log.Error("giving up on notifications after retrying", "alerts", len(expired), "alertnames", alertNames(expired),
				"give_up_after", w.d.opts.GiveUpAfter, "attempts", attempt, "err", err)
		}
		batch = keep
		if len(batch) == 0 {
			return nil
		}
		wait := backoff + time.Duration(rand.Int64N(int64(backoff)/5+1)) // +0-20 %: HA peers do not retry in step
		if ra := notify.RetryAfter(err); ra > wait {
			wait = ra
		}
		if attempt == 1 || attempt%10 == 0 {
			w.log.Warn("notification failed; retrying", "alerts", len(batch), "attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return batch
		case <-t.C:
		}
		backoff = min(backoff*2, w.d.opts.MaxRetryInterval)
	}
}

func (w *worker) send(ctx context.Context, batch []*entry) error {
	alerts := make([]notify.Alert, len(batch))
	for i, e := range batch {
		alerts[i] = e.alert
	}
	start := time.Now()
	var err error
	if w.rep != nil {
		err = w.rep.NotifyUntil(ctx, alerts, start.Add(4*w.d.opts.RepostInterval))
	} else {
		err = w.n.Notify(ctx, alerts)
	}
	w.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		w.errCount.Inc()
		return err
	}
	w.okCount.Inc()
	return nil
}

// alertNames lists up to 5 distinct alertnames of a batch, for logs.
func alertNames(batch []*entry) []string {
	var names []string
	for _, e := range batch {
		n := e.alert.Name()
		if n == "" || slices.Contains(names, n) {
			continue
		}
		if len(names) == 5 {
			names = append(names, "…")
			break
		}
		names = append(names, n)
	}
	return names
}
