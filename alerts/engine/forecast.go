package engine

import (
	"math"
	"time"

	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/reading"
)

// evalForecast adds the reading to its alert's samples and steps it: a
// forecast alert exists from its device's first reading, since its
// condition needs the history.
func (e *Engine) evalForecast(c *rule.Compiled, sl *slot, i int, r *reading.Reading) {
	v, ok := r.FloatField(c.Field)
	if !ok {
		return
	}
	in := e.slotAlert(sl, i, r, true)
	in.active, in.Value = forecast(in, c, r.Time, v)
	in.clear, in.known = !in.active, true
	e.step(c, in, r.Received)
}

type sample struct {
	t time.Time
	v float64
}

// forecast keeps the samples within the window and fits a line: the alert
// is active when the value is at the limit already, or the fit reaches it
// within the horizon.
func forecast(in *instance, c *rule.Compiled, t time.Time, v float64) (bool, float64) {
	in.samples = append(in.samples, sample{t, v})
	cut := t.Add(-c.Window.D())
	i := 0
	for i < len(in.samples) && in.samples[i].t.Before(cut) {
		i++
	}
	in.samples = in.samples[i:]
	limit := *c.Limit
	if v >= limit {
		return true, 0
	}
	n := float64(len(in.samples))
	if n < 3 || in.samples[len(in.samples)-1].t.Sub(in.samples[0].t) < c.Window.D()/4 {
		return false, math.Inf(1)
	}
	t0 := in.samples[0].t
	var sx, sy, sxx, sxy float64
	for _, s := range in.samples {
		x := s.t.Sub(t0).Seconds()
		sx += x
		sy += s.v
		sxx += x * x
		sxy += x * s.v
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return false, math.Inf(1)
	}
	slope := (n*sxy - sx*sy) / den // per second
	if slope <= 0 {
		return false, math.Inf(1)
	}
	eta := time.Duration((limit - v) / slope * float64(time.Second))
	// The value is the time left in hours, for the summary.
	return eta <= c.Horizon.D(), math.Round(eta.Hours()*10) / 10
}
