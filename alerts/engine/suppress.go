package engine

import (
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/suppress"
	"github.com/facmon/facmon/alerts/rule"
)

// suppression says why a firing alert must not be notified now; "" when
// nothing mutes it.
func (e *Engine) suppression(c *rule.Compiled, in *instance, now time.Time) string {
	reason, _ := e.muters.Mutes(suppress.Target{Rule: c, Ward: in.Ward, Class: in.Class, Device: in.Device}, now)
	return reason
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
