package engine

import (
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/alerts/rule"
)

// A muter holds a firing alert's notifications while it says so and names
// why; the reason is recorded as the alert's Suppressed. Planned
// maintenance and the ward-outage inhibition are the two; the first that
// mutes wins. A muter only reads: the engine calls it under its lock.
type muter interface {
	mutes(t target, now time.Time) (reason string, muted bool)
}

// target is what a muter sees of an alert.
type target struct {
	rule                *rule.Compiled
	ward, class, device string
}

func targetOf(c *rule.Compiled, in *instance) target {
	return target{rule: c, ward: in.Ward, class: in.Class, device: in.Device}
}

// maintenanceMuter mutes every alert of a device inside one of its
// planned maintenance windows.
type maintenanceMuter struct{ schedule *maintenance.Schedule }

func (m maintenanceMuter) mutes(t target, now time.Time) (string, bool) {
	if _, ok := m.schedule.Active(t.ward, t.class, t.device, now); ok {
		return "maintenance", true
	}
	return "", false
}

// wardRecoveryGrace is how long after a ward comes back its devices'
// offline alerts stay suppressed while they reconnect.
const wardRecoveryGrace = 2 * time.Minute

// wardOutageMuter inhibits the offline alerts of an office while one of
// its group alerts fires (its network or power is down: the cause is
// notified, not its hundred symptoms), and for wardRecoveryGrace after,
// while the devices reconnect one by one.
type wardOutageMuter struct {
	// groupFiring says whether a group rule's alert fires for the ward.
	groupFiring func(ward string) bool
	back        map[string]time.Time // ward -> when its group alert resolved
}

func (w *wardOutageMuter) mutes(t target, now time.Time) (string, bool) {
	if t.rule.Kind != rule.KindAbsence {
		return "", false
	}
	if w.groupFiring(t.ward) {
		return "ward_unreachable", true
	}
	if back, ok := w.back[t.ward]; ok && now.Sub(back) < wardRecoveryGrace {
		return "ward_unreachable", true
	}
	return "", false
}

// wardBack notes that the ward's group alert resolved at now.
func (w *wardOutageMuter) wardBack(ward string, now time.Time) { w.back[ward] = now }

// suppression says why a firing alert must not be notified now; "" when
// nothing mutes it.
func (e *Engine) suppression(c *rule.Compiled, in *instance, now time.Time) string {
	t := targetOf(c, in)
	for _, m := range e.muters {
		if reason, ok := m.mutes(t, now); ok {
			return reason
		}
	}
	return ""
}

// groupFiring reports whether an alert of a group rule fires for the ward.
func (e *Engine) groupFiring(ward string) bool {
	for _, c := range e.opts.Rules {
		if c.Kind != rule.KindGroup {
			continue
		}
		if in, ok := e.instances[instKey{c.Name, ward, "", ""}]; ok && in.State == lifecycle.StateFiring {
			return true
		}
	}
	return false
}
