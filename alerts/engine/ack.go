package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/policy"
	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/view"
)

// Ack acknowledges a firing alert: Alertmanager gets the annotated alert
// at once and a silence of it, so it stops notifying the on-call person.
func (e *Engine) Ack(id, by, comment string) (view.Alert, error) {
	return e.saved(func() (view.Alert, *stateSnapshot, error) { return e.ackLocked(id, by, comment) })
}

func (e *Engine) ackLocked(id, by, comment string) (view.Alert, *stateSnapshot, error) {
	in, ok := e.byID[id]
	if !ok || in.State != lifecycle.StateFiring {
		return view.Alert{}, nil, ErrNotFiring
	}
	e.markAcked(in, by, comment, e.opts.Now())
	if e.opts.Silencer != nil {
		e.opts.Silencer.Silence(e.toNotify(in, false), by, comment)
	}
	return in.public(), e.snapshotLocked(), nil
}

// markAcked records an acknowledgement and re-posts the alert with it.
func (e *Engine) markAcked(in *instance, by, comment string, now time.Time) {
	in.Acked, in.AckBy, in.AckComment, in.AckAt = true, by, comment, now
	e.dirty = true
	e.event(in, "acknowledged", now)
	e.recordHistory(store.HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "acknowledged", AckBy: by, AckComment: comment})
	e.tell(in, policy.Repost, now)
}

// Unack withdraws an acknowledgement: the silence is expired and the alert
// posted again without its acknowledgement.
func (e *Engine) Unack(id, by string) (view.Alert, error) {
	return e.saved(func() (view.Alert, *stateSnapshot, error) { return e.unackLocked(id, by) })
}

func (e *Engine) unackLocked(id, by string) (view.Alert, *stateSnapshot, error) {
	in, ok := e.byID[id]
	if !ok || in.State != lifecycle.StateFiring {
		return view.Alert{}, nil, ErrNotFiring
	}
	if !in.Acked {
		return view.Alert{}, nil, ErrNotAcked
	}
	e.markUnacked(in, by, e.opts.Now())
	if e.opts.Silencer != nil {
		e.opts.Silencer.Expire(in.ID)
	}
	return in.public(), e.snapshotLocked(), nil
}

// markUnacked records a withdrawn acknowledgement and re-posts the alert
// without it.
func (e *Engine) markUnacked(in *instance, by string, now time.Time) {
	in.Acked, in.AckBy, in.AckComment, in.AckAt, in.SilenceID = false, "", "", time.Time{}, ""
	e.dirty = true
	e.recordHistory(store.HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "unacknowledged", AckBy: by})
	e.tell(in, policy.Repost, now)
}

// saved runs an acknowledgement change under e.mu, then writes the state
// it left outside the lock, so the acknowledgement survives a restart.
func (e *Engine) saved(change func() (view.Alert, *stateSnapshot, error)) (view.Alert, error) {
	e.mu.Lock()
	a, snap, err := change()
	e.mu.Unlock()
	if err != nil {
		return view.Alert{}, err
	}
	_ = e.writeState(snap) // counted and logged; retried at the next tick
	return a, nil
}

// ErrNotAcked is returned when withdrawing an acknowledgement nobody gave.
var ErrNotAcked = errors.New("the alert is not acknowledged")

// SetSilence records the silence id of an alert (the Silencer's OnChange).
func (e *Engine) SetSilence(alertID, silenceID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if in, ok := e.byID[alertID]; ok && in.SilenceID != silenceID {
		in.SilenceID = silenceID
		e.dirty = true
	}
}

// ErrNotFiring is returned when acknowledging an alert that is not firing.
var ErrNotFiring = fmt.Errorf("no firing alert with that id")
