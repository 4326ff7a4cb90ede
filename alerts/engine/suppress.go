package engine

import (
	"time"

	"github.com/facmon/facmon/alerts/rule"
)

// suppression says why a firing alert must not be notified now.
func (e *Engine) suppression(c *rule.Compiled, in *Instance, now time.Time) string {
	if _, ok := e.opts.Maintenance.Active(in.Ward, in.Class, in.Device, now); ok {
		return "maintenance"
	}
	if c.Kind == rule.KindAbsence && e.wardUnreachable(in.Ward, now) {
		return "ward_unreachable"
	}
	return ""
}

// wardRecoveryGrace is how long after a ward comes back its devices'
// offline alerts stay suppressed while they reconnect.
const wardRecoveryGrace = 2 * time.Minute

func (e *Engine) wardUnreachable(ward string, now time.Time) bool {
	for _, c := range e.opts.Rules {
		if c.Kind != rule.KindGroup {
			continue
		}
		if in, ok := e.instances[instKey{c.Name, ward, "", ""}]; ok && in.State == StateFiring {
			return true
		}
	}
	back, ok := e.wardBack[ward]
	return ok && now.Sub(back) < wardRecoveryGrace
}
