package engine

import (
	"strings"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
)

func (e *Engine) maybeNotify(in *Instance) {
	if in.Notified || in.Suppressed != "" || in.Flapping {
		return
	}
	if e.opts.Notifier != nil {
		e.opts.Notifier.Firing(e.toNotify(in, false))
	}
	in.Notified = true
	e.dirty = true
}

func (e *Engine) sendResolved(in *Instance, now time.Time) {
	if e.opts.Notifier != nil {
		a := e.toNotify(in, false)
		a.EndsAt = now
		e.opts.Notifier.Resolved(a)
	}
	in.Notified = false
	in.heldResolve = false
}

// noteTransition keeps the transition times within the flap window and
// marks the alert flapping when there are too many.
func (e *Engine) noteTransition(in *Instance, now time.Time) {
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
func (e *Engine) housekeep(c *rule.Compiled, in *Instance, now time.Time) {
	if in.State == StateFiring {
		if s := e.suppression(c, in, now); s != in.Suppressed {
			if in.Suppressed == "" && s != "" {
				e.log.Debug("alert suppressed", "rule", in.Rule, "ward", in.Ward, "device", in.Device, "why", s)
			}
			in.Suppressed = s
			e.dirty = true
			e.maybeNotify(in) // maintenance over, or the ward is back: tell now
		}
		if c.EscalateAfter > 0 && in.Notified && !in.Acked && !in.Escalated && now.Sub(in.FiringSince) >= c.EscalateAfter.D() {
			in.Escalated = true
			e.dirty = true
			e.event(in, "escalated", now)
			if e.opts.Notifier != nil {
				e.opts.Notifier.Firing(e.toNotify(in, true))
			}
		}
	}
	if in.Flapping && len(in.Transitions) > 0 && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Flapping = false
		in.Transitions = nil
		e.dirty = true
		if in.heldResolve {
			e.sendResolved(in, now)
		}
		if in.State == StateFiring {
			e.maybeNotify(in)
		}
	}
	if len(in.Transitions) > 0 && !in.Flapping && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Transitions = nil
	}
	if in.State == StateInactive && !in.Flapping && !in.heldResolve && !in.Notified && len(in.samples) == 0 && len(in.Transitions) == 0 &&
		now.Sub(in.quietSince) >= e.opts.FlapWindow {
		// Nothing to remember: keep the map small for large fleets. Not
		// before it has been quiet for a flap window, though: a door that
		// reports open one reading in three would otherwise be forgotten
		// at every tick and registered again at its next reading (2% of
		// ingest's CPU in the benchmark).
		delete(e.instances, instKey{in.Rule, in.Ward, in.Class, in.Device})
		delete(e.byID, in.ID)
		// The device's slot keeps it, dormant: a door that opens again
		// reuses it instead of allocating and naming a new one.
		in.dormant = true
	}
}

// repostNow sends a notified alert's new version to the receivers.
func (e *Engine) repostNow(in *Instance) {
	if !in.Notified || e.opts.Notifier == nil {
		return
	}
	a := e.toNotify(in, in.Escalated)
	if u, ok := e.opts.Notifier.(Updater); ok {
		u.Update(a)
		return
	}
	e.opts.Notifier.Firing(a)
}

func (e *Engine) toNotify(in *Instance, escalation bool) notify.Alert {
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
