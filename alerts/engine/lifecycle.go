package engine

import (
	"math"
	"time"

	"github.com/facmon/facmon/alerts/rule"
)

// step moves an instance through its lifecycle given its current
// condition at now.
func (e *Engine) step(c *rule.Compiled, in *Instance, now time.Time) {
	if !in.known {
		return
	}
	active, clear := in.active, in.clear
	if c.OfficeHours {
		if cal := e.calendarOf(in); cal != nil && !cal.Open(now) {
			active, clear = false, true
		}
	}
	switch in.State {
	case StateInactive:
		if active {
			in.State = StatePending
			if in.PendingSince.IsZero() || c.Kind != rule.KindPipeline {
				in.PendingSince = now
			}
			e.dirty = true
			e.m.transitions.WithLabelValues(c.Name, string(StatePending)).Inc()
			if now.Sub(in.PendingSince) >= c.For.D() {
				e.fire(c, in, now)
			} else {
				e.noteDue(in.PendingSince.Add(c.For.D()))
			}
		}
	case StatePending:
		switch {
		case !active:
			in.State = StateInactive
			in.PendingSince = time.Time{}
			in.quietSince = now
			e.dirty = true
		case now.Sub(in.PendingSince) >= c.For.D():
			e.fire(c, in, now)
		default:
			e.noteDue(in.PendingSince.Add(c.For.D()))
		}
	case StateFiring:
		if !clear {
			in.clearSince = time.Time{}
			e.refresh(c, in)
			return
		}
		if in.clearSince.IsZero() {
			in.clearSince = now
		}
		if now.Sub(in.clearSince) >= c.ClearFor.D() || (c.OfficeHours && !active && e.closed(in, now)) {
			e.resolve(c, in, now)
		} else {
			e.noteDue(in.clearSince.Add(c.ClearFor.D()))
		}
	}
}

func (e *Engine) closed(in *Instance, now time.Time) bool {
	cal := e.opts.Calendars[in.Ward]
	return cal != nil && !cal.Open(now)
}

// refresh keeps the summary of a firing alert current (its value moves).
func (e *Engine) refresh(c *rule.Compiled, in *Instance) {
	in.SummaryVI, in.SummaryEN = c.Summaries(e.data(c, in))
}

func (e *Engine) data(c *rule.Compiled, in *Instance) rule.Data {
	name := e.opts.WardNames[in.Ward]
	if name == "" {
		name = in.Ward
	}
	return rule.Data{
		Rule: c.Name, Ward: in.Ward, WardName: name, Class: in.Class, Device: in.Device, Field: c.Field,
		Value: math.Round(in.Value*100) / 100, Threshold: c.Threshold(), For: c.For.D().String(),
	}
}

func (e *Engine) fire(c *rule.Compiled, in *Instance, now time.Time) {
	if in.State != StateFiring {
		e.firing.Add(1)
	}
	in.State = StateFiring
	in.FiringSince = now
	in.clearSince = time.Time{}
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
	e.maybeNotify(in)
}

func (e *Engine) resolve(c *rule.Compiled, in *Instance, now time.Time) {
	if c.Kind == rule.KindGroup {
		e.wardBack[in.Ward] = now
	}
	e.m.transitions.WithLabelValues(c.Name, "resolved").Inc()
	e.noteTransition(in, now)
	e.event(in, "resolved", now)
	e.recordHistory(HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "resolved", Value: in.Value, Since: in.FiringSince, AckBy: in.AckBy, Suppressed: in.Suppressed})
	if in.Acked && e.opts.Silencer != nil {
		e.opts.Silencer.Expire(in.ID)
	}
	if in.Notified {
		if in.Flapping {
			in.heldResolve = true // sent once the alert has been quiet for the flap window
		} else {
			e.sendResolved(in, now)
		}
	}
	if in.State == StateFiring {
		e.firing.Add(-1)
	}
	in.State = StateInactive
	in.PendingSince = time.Time{}
	in.clearSince = time.Time{}
	in.Suppressed = ""
	e.dirty = true
}
