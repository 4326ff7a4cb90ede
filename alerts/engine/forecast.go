package engine

import (
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/reading"
)

// evalForecast adds the reading to its alert's samples and steps it (the
// value is the hours left, for the summary): a
// forecast alert exists from its device's first reading, since its
// condition needs the history.
func (e *Engine) evalForecast(c *rule.Compiled, sl *slot, i int, r *reading.Reading) {
	v, ok := r.FloatField(c.Field)
	if !ok {
		return
	}
	in := e.slotAlert(sl, i, r, true)
	in.active, in.Value = in.samples.Forecast(r.Time, v, *c.Limit, c.Window.D(), c.Horizon.D())
	in.clear, in.known = !in.active, true
	e.step(c, in, r.Received)
}
