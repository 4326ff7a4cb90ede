package engine

import (
	"math"
	"time"

	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/liveness"
)

// evalGroups fires the ward-level rule for every ward where enough
// devices are down at once.
func (e *Engine) evalGroups(c *rule.Compiled, now time.Time) {
	type tally struct{ down, total int }
	wards := map[string]*tally{}
	e.opts.Liveness.Each(now, func(k liveness.Key, v liveness.Verdict) {
		if !c.Applies(k.Ward, k.Class, k.Device) && !(c.Class == "" && c.AppliesToWard(k.Ward)) {
			return
		}
		t := wards[k.Ward]
		if t == nil {
			t = &tally{}
			wards[k.Ward] = t
		}
		if v.Unknown {
			return
		}
		t.total++
		if !v.Up {
			t.down++
		}
	})
	for ward, t := range wards {
		in := e.instance(c, ward, "", "")
		frac := 0.0
		if t.total > 0 {
			frac = float64(t.down) / float64(t.total)
		}
		in.known = t.total > 0
		in.active = t.down >= c.MinDevices && frac >= c.Fraction
		in.clear = !in.active
		in.Value = math.Round(frac*1000) / 10 // percent
		e.step(c, in, now)
	}
}
