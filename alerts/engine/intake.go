package engine

import (
	"context"
	"sync"
	"time"

	"github.com/facmon/facmon/alerts/engine/condition"
	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
)

// Observe evaluates a reading without ever blocking ingest: at once, on
// the caller's goroutine, when the engine is free and nothing is queued
// ahead of it (the reading is still in the CPU's cache and no hand-off
// is paid); otherwise it queues the reading for Run, behind the others,
// so a device's readings are always evaluated in order.
func (e *Engine) Observe(r *reading.Reading) {
	e.inMu.Lock()
	if len(e.inbox) == 0 && !e.draining && e.mu.TryLock() {
		e.inMu.Unlock()
		e.processLocked(r)
		e.mu.Unlock()
		e.m.evaluated.Inc()
		return
	}
	if len(e.inbox) >= e.opts.QueueSize {
		e.inMu.Unlock()
		e.m.dropped.Inc()
		return
	}
	// The reading is only lent (the MQTT collector reuses it once
	// Observe returns), so one kept for later is copied.
	e.inbox = append(e.inbox, r.Clone())
	first := len(e.inbox) == 1
	e.inMu.Unlock()
	if first {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

// Run evaluates queued readings and, every interval, the time-based
// conditions, until ctx ends; then it saves the state.
func (e *Engine) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	due := time.NewTimer(time.Hour)
	defer due.Stop()
	var sinks sync.WaitGroup
	sinks.Go(func() { e.events.Run(ctx) })
	sinks.Go(func() { e.history.Run(ctx) })
	for {
		select {
		case <-ctx.Done():
			e.mu.Lock()
			snap := e.snapshotLocked()
			e.mu.Unlock()
			err := e.writeState(snap)
			// One last pass: the storage pipeline stops waiting for room
			// once shutdown begins, and what is still refused is counted
			// and said.
			sinks.Wait()
			e.flushOutboxes()
			for what, n := range e.m.outboxes.Waiting() {
				if n > 0 {
					e.log.Warn("shutdown: alert records not written", "what", what, "records", n)
				}
			}
			return err
		case <-e.kick:
			e.processInbox()
		case <-t.C:
			e.Tick(e.opts.Now())
		case <-due.C:
			e.StepDue(e.opts.Now())
		}
		e.mu.Lock()
		next := e.nextDue
		e.mu.Unlock()
		if !next.IsZero() {
			due.Reset(max(time.Until(next), time.Millisecond))
		}
	}
}

// processBatch bounds how long one batch holds the engine's lock, so the
// API and the tick never wait long behind a backlog.
const processBatch = 1024

// processInbox evaluates everything queued so far.
func (e *Engine) processInbox() {
	e.inMu.Lock()
	all := e.inbox
	e.inbox = e.spare[:0]
	e.draining = len(all) > 0
	e.inMu.Unlock()
	for batch := all; len(batch) > 0; {
		n := min(len(batch), processBatch)
		e.mu.Lock()
		for _, r := range batch[:n] {
			e.processLocked(r)
		}
		e.mu.Unlock()
		e.m.evaluated.Add(float64(n))
		batch = batch[n:]
	}
	clear(all) // the readings are garbage once evaluated
	e.inMu.Lock()
	e.spare = all[:0]
	e.draining = false
	e.inMu.Unlock()
}

// StepDue advances the alerts whose for or clear_for has run out by now,
// without the full tick's walk over every device.
func (e *Engine) StepDue(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nextDue.IsZero() || now.Before(e.nextDue) {
		return
	}
	e.nextDue = time.Time{}
	for _, in := range e.instances {
		c := e.ruleOf(in.Rule)
		if c != nil && (c.Kind == rule.KindThreshold || c.Kind == rule.KindState || c.Kind == rule.KindForecast) {
			e.step(c, in, now)
		}
	}
}

func (e *Engine) noteDue(t time.Time) {
	if e.nextDue.IsZero() || t.Before(e.nextDue) {
		e.nextDue = t
	}
}

// Process evaluates one reading now (tests call it directly).
func (e *Engine) Process(r *reading.Reading) {
	e.m.evaluated.Inc()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.processLocked(r)
}

func (e *Engine) processLocked(r *reading.Reading) {
	if r.Received.After(e.lastAny) {
		e.lastAny = r.Received
	}
	now := r.Received
	// The liveness tracker has already counted this reading (the service
	// feeds it before the engine, with every reading, dropped here or
	// not): absence rules below judge the device with it counted.
	sl := e.slotOf(r)
	if sl == nil {
		return
	}
	for i, c := range sl.rules {
		if c.Kind == rule.KindAbsence {
			e.evalAbsence(c, liveness.Key{Ward: r.Ward, Class: r.Class, Device: r.Device}, now)
			continue
		}
		var cond lifecycle.Condition
		var ok bool
		switch c.Kind {
		case rule.KindThreshold:
			cond, ok = condition.Threshold(c, r)
		case rule.KindState:
			cond, ok = condition.State(c, r)
		case rule.KindForecast:
			e.evalForecast(c, sl, i, r)
			continue
		}
		if !ok {
			continue
		}
		// Most readings are fine: an alert is only materialised when its
		// condition holds or it already exists, which keeps the hot path
		// free of allocations and memory flat for a large fleet.
		in := e.slotAlert(sl, i, r, cond.Active)
		if in == nil {
			continue
		}
		in.Value, in.active, in.clear, in.known = cond.Value, cond.Active, cond.Clear, true
		e.step(c, in, now)
	}
}
