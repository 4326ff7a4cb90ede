package engine

import (
	"math"
	"time"

	"github.com/facmon/facmon/alerts/rule"
)

// phase is where an alert is in its lifecycle: all that advance reads
// and writes.
type phase struct {
	state        State
	pendingSince time.Time
	firingSince  time.Time
	clearSince   time.Time // when a firing alert's condition last began to clear
	quietSince   time.Time // when it last went back from pending to inactive
}

// timing is what a rule says of its lifecycle.
type timing struct {
	forDur, clearFor time.Duration
	// givenStart: the evaluation sets when the condition began (a
	// pipeline rule's silence), and pending keeps that time.
	givenStart bool
}

func timingOf(c *rule.Compiled) timing {
	return timing{forDur: c.For.D(), clearFor: c.ClearFor.D(), givenStart: c.Kind == rule.KindPipeline}
}

// transitions is the set of changes one advance made.
type transitions uint8

const (
	toPending   transitions = 1 << iota
	toFiring                // from pending, possibly in the same advance
	toInactive              // a pending alert whose condition did not last
	toResolved              // a firing alert cleared for clear_for, or its office closed
	stillFiring             // firing and not clearing: its value (and summary) moved
)

// advance is the alert lifecycle, inactive → pending → firing → resolved,
// as a pure function of the phase, the rule's timing, the condition and
// the time. closed says an office-hours rule's office is closed now: its
// condition counts as clear and a firing alert resolves at once. due is
// when a pending for or a firing clear_for runs out, if one is running;
// zero otherwise.
func advance(p phase, t timing, cond condition, closed bool, now time.Time) (next phase, tr transitions, due time.Time) {
	active, clear := cond.active, cond.clear
	if closed {
		active, clear = false, true
	}
	switch p.state {
	case StateInactive:
		if !active {
			return p, 0, time.Time{}
		}
		p.state, tr = StatePending, toPending
		if p.pendingSince.IsZero() || !t.givenStart {
			p.pendingSince = now
		}
		fallthrough
	case StatePending:
		switch {
		case !active:
			p.state, p.pendingSince, p.quietSince = StateInactive, time.Time{}, now
			return p, tr | toInactive, time.Time{}
		case now.Sub(p.pendingSince) >= t.forDur:
			p.state, p.firingSince, p.clearSince = StateFiring, now, time.Time{}
			return p, tr | toFiring, time.Time{}
		}
		return p, tr, p.pendingSince.Add(t.forDur)
	case StateFiring:
		if !clear {
			p.clearSince = time.Time{}
			return p, stillFiring, time.Time{}
		}
		if p.clearSince.IsZero() {
			p.clearSince = now
		}
		if now.Sub(p.clearSince) >= t.clearFor || closed {
			p.state, p.pendingSince, p.clearSince = StateInactive, time.Time{}, time.Time{}
			return p, toResolved, time.Time{}
		}
		return p, 0, p.clearSince.Add(t.clearFor)
	}
	return p, 0, time.Time{}
}

func (in *instance) phase() phase {
	return phase{state: in.State, pendingSince: in.PendingSince, firingSince: in.FiringSince, clearSince: in.clearSince, quietSince: in.quietSince}
}

func (in *instance) setPhase(p phase) {
	in.State, in.PendingSince, in.FiringSince, in.clearSince, in.quietSince = p.state, p.pendingSince, p.firingSince, p.clearSince, p.quietSince
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
	next, tr, due := advance(in.phase(), timingOf(c), condition{active: in.active, clear: in.clear}, closed, now)
	in.setPhase(next)
	if !due.IsZero() {
		e.noteDue(due)
	}
	if tr&(toPending|toInactive) != 0 {
		e.dirty = true
	}
	if tr&toPending != 0 {
		e.m.transitions.WithLabelValues(c.Name, string(StatePending)).Inc()
	}
	switch {
	case tr&toFiring != 0:
		e.fired(c, in, now)
	case tr&stillFiring != 0:
		e.refresh(c, in)
	case tr&toResolved != 0:
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
	e.m.transitions.WithLabelValues(c.Name, string(StateFiring)).Inc()
	e.noteTransition(in, now)
	in.Suppressed = e.suppression(c, in, now)
	e.event(in, "firing", now)
	e.recordHistory(HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "firing", Value: in.Value, SummaryVI: in.SummaryVI, SummaryEN: in.SummaryEN, Suppressed: in.Suppressed})
	if in.heldResolve {
		// A flapping alert fired again before its held resolution went
		// out: the receivers still think it fires; nothing to send.
		in.heldResolve = false
		return
	}
	e.tell(in, noticeFiring, now)
}

// resolved does what an alert's resolution entails: recorded, its
// acknowledgement's silence expired, the receivers told (or, while it
// flaps, told once it settles).
func (e *Engine) resolved(c *rule.Compiled, in *instance, now time.Time) {
	if c.Kind == rule.KindGroup {
		e.wardOutage.wardBack(in.Ward, now)
	}
	e.m.transitions.WithLabelValues(c.Name, "resolved").Inc()
	e.noteTransition(in, now)
	e.event(in, "resolved", now)
	e.recordHistory(HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "resolved", Value: in.Value, Since: in.FiringSince, AckBy: in.AckBy, Suppressed: in.Suppressed})
	if in.Acked && e.opts.Silencer != nil {
		e.opts.Silencer.Expire(in.ID)
	}
	e.tell(in, noticeResolved, now)
	e.firing.Add(-1)
	in.Suppressed = ""
	e.dirty = true
}
