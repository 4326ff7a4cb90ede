// Package trend is the forecast rule's evaluation: it keeps a device's recent
// values within the rule's window and fits a straight line through them, to say
// whether the value reaches its limit within the horizon (a disk filling, a UPS
// battery draining) and in how many hours.
package trend

import (
	"math"
	"time"
)

type sample struct {
	t time.Time
	v float64
}

// Samples are one device's values within a window, oldest first. The zero
// value is empty and ready.
type Samples struct{ s []sample }

// Len is how many values are kept.
func (ss *Samples) Len() int { return len(ss.s) }

// Forecast adds v, taken at t, forgets values older than window, and says
// whether the value is at limit already or the fitted line reaches it within
// horizon. hours is the time left, rounded to a tenth (0 at the limit, +Inf
// when the line does not rise or there are too few values: fewer than three,
// or spanning less than a quarter of the window).
func (ss *Samples) Forecast(t time.Time, v, limit float64, window, horizon time.Duration) (reaches bool, hours float64) {
	ss.s = append(ss.s, sample{t, v})
	cut := t.Add(-window)
	i := 0
	for i < len(ss.s) && ss.s[i].t.Before(cut) {
		i++
	}
	ss.s = ss.s[i:]
	if v >= limit {
		return true, 0
	}
	n := float64(len(ss.s))
	if n < 3 || ss.s[len(ss.s)-1].t.Sub(ss.s[0].t) < window/4 {
		return false, math.Inf(1)
	}
	t0 := ss.s[0].t
	var sx, sy, sxx, sxy float64
	for _, s := range ss.s {
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
	return eta <= horizon, math.Round(eta.Hours()*10) / 10
}
