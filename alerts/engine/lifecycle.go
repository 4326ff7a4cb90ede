package engine

import (
	"math"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/policy"
	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/rule"
)

// phase and setPhase carry an instance's lifecycle fields to and from
// lifecycle.Advance, which keeps none of its own.
func (in *instance) phase() lifecycle.Phase {
	return lifecycle.Phase{State: in.State, PendingSince: in.PendingSince, FiringSince: in.FiringSince, ClearSince: in.clearSince, QuietSince: in.quietSince}
}

func (in *instance) setPhase(p lifecycle.Phase) {
	in.State, in.PendingSince, in.FiringSince, in.clearSince, in.quietSince = p.State, p.PendingSince, p.FiringSince, p.ClearSince, p.QuietSince
}

// step advances an instance with its current condition at now and
// carries out what each transition entails.
func (e *Engine) step(c *rule.Compiled, in *instance, now time.Time) {
	if !in.known {
		return
	}
	closed := false
	if c.OfficeHours {
		cal := e.calendarOf(in)
		closed = cal != nil && !cal.Open(now)
	}
	next, tr, due := lifecycle.Advance(in.phase(), lifecycle.TimingOf(c), lifecycle.Condition{Active: in.active, Clear: in.clear}, closed, now)
	in.setPhase(next)
	if !due.IsZero() {
		e.noteDue(due)
	}
	if tr&(lifecycle.ToPending|lifecycle.ToInactive) != 0 {
		e.dirty = true
	}
	if tr&lifecycle.ToPending != 0 {
		e.m.transitions.WithLabelValues(c.Name, string(lifecycle.StatePending)).Inc()
	}
	switch {
	case tr&lifecycle.ToFiring != 0:
		e.fired(c, in, now)
	case tr&lifecycle.StillFiring != 0:
		e.refresh(c, in)
	case tr&lifecycle.ToResolved != 0:
		e.resolved(c, in, now)
	}
}

// refresh keeps the summary of a firing alert current (its value moves).
func (e *Engine) refresh(c *rule.Compiled, in *instance) {
	in.SummaryVI, in.SummaryEN = c.Summaries(e.data(c, in))
}

func (e *Engine) data(c *rule.Compiled, in *instance) rule.Data {
	name := e.opts.WardNames[in.Ward]
	if name == "" {
		name = in.Ward
	}
	return rule.Data{
		Rule: c.Name, Ward: in.Ward, WardName: name, Class: in.Class, Device: in.Device, Field: c.Field,
		Value: math.Round(in.Value*100) / 100, Threshold: c.Threshold(), For: c.For.D().String(),
	}
}

// fired does what an alert's firing entails: it starts unacknowledged,
// is recorded, and is notified unless suppressed or flapping.
func (e *Engine) fired(c *rule.Compiled, in *instance, now time.Time) {
	e.firing.Add(1)
	in.Acked, in.AckBy, in.AckComment, in.AckAt, in.SilenceID = false, "", "", time.Time{}, ""
	in.Escalated = false
	e.refresh(c, in)
	e.dirty = true
	e.m.transitions.WithLabelValues(c.Name, string(lifecycle.StateFiring)).Inc()
	e.noteTransition(in, now)
	in.Suppressed = e.suppression(c, in, now)
	e.event(in, "firing", now)
	e.recordHistory(store.HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "firing", Value: in.Value, SummaryVI: in.SummaryVI, SummaryEN: in.SummaryEN, Suppressed: in.Suppressed})
	if in.heldResolve {
		// A flapping alert fired again before its held resolution went
		// out: the receivers still think it fires; nothing to send.
		in.heldResolve = false
		return
	}
	e.tell(in, policy.Firing, now)
}

// resolved does what an alert's resolution entails: recorded, its
// acknowledgement's silence expired, the receivers told (or, while it
// flaps, told once it settles).
func (e *Engine) resolved(c *rule.Compiled, in *instance, now time.Time) {
	if c.Kind == rule.KindGroup {
		e.wardOutage.WardBack(in.Ward, now)
	}
	e.m.transitions.WithLabelValues(c.Name, "resolved").Inc()
	e.noteTransition(in, now)
	e.event(in, "resolved", now)
	e.recordHistory(store.HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "resolved", Value: in.Value, Since: in.FiringSince, AckBy: in.AckBy, Suppressed: in.Suppressed})
	if in.Acked && e.opts.Silencer != nil {
		e.opts.Silencer.Expire(in.ID)
	}
	e.tell(in, policy.Resolved, now)
	e.firing.Add(-1)
	in.Suppressed = ""
	e.dirty = true
}
