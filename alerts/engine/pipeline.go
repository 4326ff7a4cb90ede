package engine

import (
	"time"

	"github.com/facmon/facmon/alerts/rule"
)

// Pipeline is facmon's own state, for pipeline rules.
type Pipeline interface {
	BrokerConnected() bool
	SpoolOldestAge() time.Duration
	// DeviceLimit is when a new device id was last refused for the
	// device limits (zero: never) and how many devices are tracked.
	DeviceLimit() (lastRefused time.Time, tracked int)
}

// deviceLimitHold is how long DeviceLimitReached stays firing after the
// last refused id: a flood comes in bursts, and one alert per burst is
// what an operator wants, not one per message.
const deviceLimitHold = 10 * time.Minute

func (e *Engine) evalPipeline(c *rule.Compiled, now time.Time) {
	in := e.instance(c, "", "", "")
	p := e.opts.Pipeline
	if p == nil {
		return
	}
	in.known = true
	switch c.Check {
	case rule.CheckBrokerDisconnected:
		in.active = !p.BrokerConnected()
		in.Value = boolFloat(in.active)
	case rule.CheckSpoolBacklog:
		age := p.SpoolOldestAge().Seconds()
		in.active, in.Value = age > *c.Value, age
	case rule.CheckDeviceLimit:
		refused, tracked := p.DeviceLimit()
		in.active = !refused.IsZero() && now.Sub(refused) < deviceLimitHold
		in.Value = float64(tracked)
	case rule.CheckNoReadings:
		last := e.lastAny
		if last.IsZero() {
			last = e.started
		}
		in.Value = now.Sub(last).Seconds()
		in.active = in.Value > 0 && now.Sub(last) > max(c.For.D(), time.Minute)
		if in.active {
			// The silence itself is the "for": fire at once when it is long enough.
			in.PendingSince = last
		}
	}
	in.clear = !in.active
	e.step(c, in, now)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
