package engine

import (
	"strings"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
)

// notice is a message the engine may send the receivers about an alert.
type notice uint8

const (
	noticeFiring     notice = iota // the alert fires (or may be told now: its mute ended, it settled)
	noticeEscalation               // it fired unacknowledged past escalate_after
	noticeResolved                 // it resolved (or its held resolution may go now)
	noticeRepost                   // its acknowledgement changed: the receivers get the new version
)

// A stage lets a notice go on to the receivers or stops it, as
// Alertmanager's notify.Stage does; the engine's policy is stages in a
// row, each one rule of when to tell. A stage may note why it stopped a
// notice (flapStage holds a resolution to send later).
type stage interface {
	pass(in *instance, n notice) bool
}

// multiStage passes a notice only if every stage does, in order.
type multiStage []stage

func (ms multiStage) pass(in *instance, n notice) bool {
	for _, s := range ms {
		if !s.pass(in, n) {
			return false
		}
	}
	return true
}

// notificationPolicy is when facmon tells the receivers.
func notificationPolicy() multiStage {
	return multiStage{dedupStage{}, ackStage{}, muteStage{}, flapStage{}}
}

// dedupStage: an alert is told firing once, and everything after (an
// escalation, a re-post, the resolution) only once it was.
type dedupStage struct{}

func (dedupStage) pass(in *instance, n notice) bool {
	if n == noticeFiring {
		return !in.Notified
	}
	return in.Notified
}

// ackStage: an acknowledged alert does not escalate; somebody is on it.
type ackStage struct{}

func (ackStage) pass(in *instance, n notice) bool { return n != noticeEscalation || !in.Acked }

// muteStage: a suppressed alert (maintenance, its office unreachable) is
// not told firing; it is once the mute ends, if it still fires.
type muteStage struct{}

func (muteStage) pass(in *instance, n notice) bool { return n != noticeFiring || in.Suppressed == "" }

// flapStage: a flapping alert is not told firing, and its resolution is
// held, to be sent once it has been quiet for the flap window.
type flapStage struct{}

func (flapStage) pass(in *instance, n notice) bool {
	if !in.Flapping {
		return true
	}
	switch n {
	case noticeFiring:
		return false
	case noticeResolved:
		in.heldResolve = true
		return false
	}
	return true
}

// tell sends the notice if the policy passes it, and records what the
// receivers now know.
func (e *Engine) tell(in *instance, n notice, now time.Time) {
	if !e.policy.pass(in, n) {
		return
	}
	switch n {
	case noticeFiring:
		if e.opts.Notifier != nil {
			e.opts.Notifier.Firing(e.toNotify(in, false))
		}
		in.Notified = true
		e.dirty = true
	case noticeEscalation:
		if e.opts.Notifier != nil {
			e.opts.Notifier.Firing(e.toNotify(in, true))
		}
	case noticeResolved:
		if e.opts.Notifier != nil {
			a := e.toNotify(in, false)
			a.EndsAt = now
			e.opts.Notifier.Resolved(a)
		}
		in.Notified = false
		in.heldResolve = false
	case noticeRepost:
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
			e.tell(in, noticeFiring, now) // maintenance over, or the ward is back: tell now
		}
		if c.EscalateAfter > 0 && !in.Escalated && now.Sub(in.FiringSince) >= c.EscalateAfter.D() && e.policy.pass(in, noticeEscalation) {
			in.Escalated = true
			e.dirty = true
			e.event(in, "escalated", now)
			e.tell(in, noticeEscalation, now)
		}
	}
	if in.Flapping && len(in.Transitions) > 0 && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Flapping = false
		in.Transitions = nil
		e.dirty = true
		if in.heldResolve {
			e.tell(in, noticeResolved, now)
		}
		if in.State == lifecycle.StateFiring {
			e.tell(in, noticeFiring, now)
		}
	}
	if len(in.Transitions) > 0 && !in.Flapping && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Transitions = nil
	}
	if in.State == lifecycle.StateInactive && !in.Flapping && !in.heldResolve && !in.Notified && len(in.samples) == 0 && len(in.Transitions) == 0 &&
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
