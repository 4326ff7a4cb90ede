package engine

import (
	"time"

	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/liveness"
)

func (e *Engine) evalAbsence(c *rule.Compiled, k liveness.Key, now time.Time) {
	e.applyAbsence(c, k, e.opts.Liveness.Judge(k, now), now)
}

func (e *Engine) applyAbsence(c *rule.Compiled, k liveness.Key, v liveness.Verdict, now time.Time) {
	if v.Unknown {
		return
	}
	in := e.instances[instKey{c.Name, k.Ward, k.Class, k.Device}]
	if in == nil {
		if v.Up {
			return
		}
		in = e.instance(c, k.Ward, k.Class, k.Device)
	}
	in.known = true
	in.active = !v.Up
	in.clear = v.Up
	in.Value = boolFloat(!v.Up)
	e.step(c, in, now)
}
