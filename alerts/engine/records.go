package engine

import (
	"time"

	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/internal/reading"
)

// eventRecord is an alert_event point waiting for Events: the alert's
// fields at the transition (strings shared with the alert), made into a
// reading only when it is handed over.
type eventRecord struct {
	id, rule, severity, ward, class, device string
	summaryVI, summaryEN, suppressed, state string
	value                                   float64
	at                                      time.Time
}

// event records an alert_event point. It only queues it: the storage
// pipeline blocks while the spool cannot take a batch, and e.mu is held.
func (e *Engine) event(in *instance, state string, now time.Time) {
	if e.opts.Events == nil {
		return
	}
	e.events.Push(eventRecord{
		id: in.ID, rule: in.Rule, severity: in.Severity, ward: in.Ward, class: in.Class, device: in.Device,
		summaryVI: in.SummaryVI, summaryEN: in.SummaryEN, suppressed: in.Suppressed, state: state,
		value: in.Value, at: now,
	})
}

// deliverEvents hands alert_event points to Events, waiting as long as
// it makes them wait; it runs on the outbox's goroutine.
func (e *Engine) deliverEvents(recs []eventRecord) (int, error) {
	for _, ev := range recs {
		r := &reading.Reading{
			Measurement: "alert_event", Ward: ev.ward, Class: ev.class, Device: ev.device,
			Extra: []reading.Tag{{Key: "alertname", Value: ev.rule}, {Key: "severity", Value: ev.severity}},
			Fields: []reading.Field{
				{Key: "state", Kind: reading.String, Str: ev.state},
				{Key: "id", Kind: reading.String, Str: ev.id},
				{Key: "value", Kind: reading.Float, Float: ev.value},
				{Key: "summary_vi", Kind: reading.String, Str: trim(ev.summaryVI)},
				{Key: "summary_en", Kind: reading.String, Str: trim(ev.summaryEN)},
				{Key: "suppressed", Kind: reading.String, Str: ev.suppressed},
			},
			Time: ev.at, Received: ev.at,
		}
		if err := e.opts.Events.Deliver(r, noAck{}); err != nil {
			// It cannot be encoded: trying again would not help.
			e.log.Warn("alert event not stored", "err", err)
		}
	}
	return len(recs), nil
}

// writeHistory appends history lines to the store, all or none.
func (e *Engine) writeHistory(evs []store.HistoryEvent) (int, error) {
	if err := e.opts.Store.AppendHistory(evs...); err != nil {
		return 0, err
	}
	return len(evs), nil
}

// Flush hands the queued alert events and history lines to their sinks
// now, on the caller's goroutine: for a caller that drives the engine with
// Process and Tick on a simulated clock instead of Run (the history
// backfill), which has no outbox goroutine running.
func (e *Engine) Flush() { e.flushOutboxes() }

// flushOutboxes hands over what is queued, once, on the caller's
// goroutine: at shutdown, and in tests that drive the engine without Run.
func (e *Engine) flushOutboxes() {
	e.events.Flush()
	e.history.Flush()
}

func trim(s string) string {
	if len(s) > 250 {
		return s[:250]
	}
	return s
}

type noAck struct{}

func (noAck) Ack() {}
