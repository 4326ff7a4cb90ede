package engine

import (
	"strings"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/policy"
	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
)

// passes says whether the notification policy lets the notice go, and
// keeps what it held back.
func (e *Engine) passes(in *instance, n policy.Notice) bool {
	s := policy.Subject{Notified: in.Notified, Acked: in.Acked, Flapping: in.Flapping, Suppressed: in.Suppressed, HeldResolve: in.heldResolve}
	ok := e.policy.Pass(&s, n)
	in.heldResolve = s.HeldResolve
	return ok
}

// tell sends the notice if the policy passes it, and records what the
// receivers now know.
func (e *Engine) tell(in *instance, n policy.Notice, now time.Time) {
	if !e.passes(in, n) {
		return
	}
	switch n {
	case policy.Firing:
		if e.opts.Notifier != nil {
			e.opts.Notifier.Firing(e.toNotify(in, false))
		}
		in.Notified = true
		e.dirty = true
	case policy.Escalation:
		if e.opts.Notifier != nil {
			e.opts.Notifier.Firing(e.toNotify(in, true))
		}
	case policy.Resolved:
		if e.opts.Notifier != nil {
			a := e.toNotify(in, false)
			a.EndsAt = now
			e.opts.Notifier.Resolved(a)
		}
		in.Notified = false
		in.heldResolve = false
	case policy.Repost:
		if e.opts.Notifier == nil {
			return
		}
		a := e.toNotify(in, in.Escalated)
		if u, ok := e.opts.Notifier.(Updater); ok {
			u.Update(a)
			return
		}
		e.opts.Notifier.Firing(a)
	}
}

// noteTransition keeps the transition times within the flap window and
// marks the alert flapping when there are too many.
func (e *Engine) noteTransition(in *instance, now time.Time) {
	cut := now.Add(-e.opts.FlapWindow)
	kept := in.Transitions[:0]
	for _, t := range in.Transitions {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	in.Transitions = append(kept, now)
	if !in.Flapping && len(in.Transitions) >= e.opts.FlapCount {
		in.Flapping = true
		e.log.Warn("alert is flapping; notifications held until it settles", "rule", in.Rule, "ward", in.Ward, "device", in.Device)
	}
}

// housekeep handles what changes with time for an existing alert:
// suppression ending, escalation, flapping settling.
func (e *Engine) housekeep(c *rule.Compiled, in *instance, now time.Time) {
	if in.State == lifecycle.StateFiring {
		if s := e.suppression(c, in, now); s != in.Suppressed {
			if in.Suppressed == "" && s != "" {
				e.log.Debug("alert suppressed", "rule", in.Rule, "ward", in.Ward, "device", in.Device, "why", s)
			}
			in.Suppressed = s
			e.dirty = true
			e.tell(in, policy.Firing, now) // maintenance over, or the ward is back: tell now
		}
		if c.EscalateAfter > 0 && !in.Escalated && now.Sub(in.FiringSince) >= c.EscalateAfter.D() && e.passes(in, policy.Escalation) {
			in.Escalated = true
			e.dirty = true
			e.event(in, "escalated", now)
			e.tell(in, policy.Escalation, now)
		}
	}
	if in.Flapping && len(in.Transitions) > 0 && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Flapping = false
		in.Transitions = nil
		e.dirty = true
		if in.heldResolve {
			e.tell(in, policy.Resolved, now)
		}
		if in.State == lifecycle.StateFiring {
			e.tell(in, policy.Firing, now)
		}
	}
	if len(in.Transitions) > 0 && !in.Flapping && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Transitions = nil
	}
	if in.State == lifecycle.StateInactive && !in.Flapping && !in.heldResolve && !in.Notified && in.samples.Len() == 0 && len(in.Transitions) == 0 &&
		now.Sub(in.quietSince) >= e.opts.FlapWindow {
		// Nothing to remember: keep the map small for large fleets. Not
		// before it has been quiet for a flap window, though: a door that
		// reports open one reading in three would otherwise be forgotten
		// at every tick and registered again at its next reading.
		delete(e.instances, instKey{in.Rule, in.Ward, in.Class, in.Device})
		delete(e.byID, in.ID)
		// The device's slot keeps it, dormant: a door that opens again
		// reuses it instead of allocating and naming a new one.
		in.dormant = true
	}
}

func (e *Engine) toNotify(in *instance, escalation bool) notify.Alert {
	labels := map[string]string{"alertname": in.Rule, "severity": in.Severity}
	for k, v := range in.Labels {
		labels[k] = v
	}
	if in.Ward != "" {
		labels["ward"] = in.Ward
	}
	if in.Class != "" {
		labels["class"] = in.Class
	}
	if in.Device != "" {
		labels["device"] = in.Device
	}
	if escalation {
		labels["escalation"] = "1"
	}
	url := ""
	if e.opts.GeneratorURL != "" {
		url = strings.TrimRight(e.opts.GeneratorURL, "/") + "/?alert=" + in.ID
	}
	return notify.Alert{
		ID:     in.ID,
		Labels: labels,
		Annotations: map[string]string{
			"summary_vi": in.SummaryVI, "summary_en": in.SummaryEN,
			"summary": in.SummaryEN,
		},
		StartsAt:     in.FiringSince,
		GeneratorURL: url,
		Acknowledged: in.Acked, AckBy: in.AckBy, AckComment: in.AckComment,
	}
}
