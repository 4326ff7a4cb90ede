package publisher

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
)

// unit owns one MQTT connection: one device in per-device mode, one ward in gateway mode.
// All its state is confined to its goroutine.
type unit struct {
	run      *run
	ward     string
	clientID string
	gateway  bool
	devs     []*unitDevice
	wardDown int // active ward-outage faults (gateway mode)
	ctrl     chan ctrl
	rng      *rand.Rand
	log      *slog.Logger

	cur        *link // nil while not connected
	connecting bool
	results    chan connectResult
	attempt    int // failed attempts since the last success
	retry      *time.Timer
	pendingUp  []chan<- struct{} // acks owed once the connection is back
}

type unitDevice struct {
	dev  fleet.Device
	next time.Duration // offset from the run start of the next reading
	down int           // active offline faults silencing this device
}

type ctrl struct {
	fault simulator.Fault
	down  bool
	ack   chan<- struct{}
}

type connectResult struct {
	link *link
	err  error
}

// silent reports whether d must neither publish nor be announced online.
func (u *unit) silent(d *unitDevice) bool { return d.down > 0 || u.wardDown > 0 }

// linkDown reports whether an outage keeps the unit's connection closed.
func (u *unit) linkDown() bool {
	if u.gateway {
		return u.wardDown > 0
	}
	return u.devs[0].down > 0
}

func (u *unit) loop(ctx context.Context) {
	u.results = make(chan connectResult, 1)
	u.retry = time.NewTimer(0)
	u.retry.Stop()
	tick := time.NewTimer(0)
	defer tick.Stop()
	defer u.retry.Stop()
	u.connect(ctx)
	for {
		due := u.devs[0].next
		for _, d := range u.devs[1:] {
			due = min(due, d.next)
		}
		tick.Reset(time.Until(u.run.mono.Add(due)))
		var lost <-chan struct{}
		if u.cur != nil {
			lost = u.cur.lost
		}
		select {
		case <-ctx.Done():
			u.shutdown()
			return
		case res := <-u.results:
			u.connected(ctx, res)
		case <-lost:
			u.log.Warn("connection lost", "err", u.cur.lostErr)
			u.cur = nil
			u.run.s.stats.connected.Add(-1)
			u.scheduleRetry()
		case <-u.retry.C:
			u.connect(ctx)
		case c := <-u.ctrl:
			u.apply(ctx, c)
		case <-tick.C:
			u.publishDue(due)
		}
	}
}

// connect starts a connection attempt in the background, so that faults, ticks and the
// end of the run are still served while a broker is slow to answer.
func (u *unit) connect(ctx context.Context) {
	if u.cur != nil || u.connecting || u.linkDown() || ctx.Err() != nil {
		return
	}
	u.connecting = true
	s := u.run.s
	var will string
	if !u.gateway {
		will = u.devs[0].dev.StatusTopic(s.cfg.TopicPrefix)
	}
	l := newLink(ctx, linkOptions{broker: s.broker, clientID: u.clientID, username: s.cfg.Username,
		password: s.cfg.Password, tls: s.cfg.TLS, will: will})
	go func() {
		err := l.connect()
		if err != nil {
			l = nil
		}
		u.results <- connectResult{link: l, err: err}
	}()
}

func (u *unit) connected(ctx context.Context, res connectResult) {
	u.connecting = false
	s := u.run.s
	if res.err != nil {
		s.stats.connErr.Add(1)
		s.mu.Lock()
		s.lastErr = res.err
		s.mu.Unlock()
		if ctx.Err() == nil {
			// The first failure of a streak is news; the next hundred are not.
			lvl := slog.LevelDebug
			if u.attempt == 0 {
				lvl = slog.LevelWarn
			}
			u.log.Log(ctx, lvl, "connect failed, retrying with backoff", "err", res.err)
		}
		u.scheduleRetry()
		return
	}
	if u.linkDown() {
		// An outage began while we were connecting: leave as the network would.
		res.link.abort()
		return
	}
	s.stats.connects.Add(1)
	s.stats.connected.Add(1)
	if u.attempt > 0 {
		u.log.Info("connected after retries", "attempts", u.attempt+1)
	} else {
		u.log.Debug("connected")
	}
	u.attempt = 0
	u.cur = res.link
	for _, d := range u.devs {
		if !u.silent(d) {
			u.publishStatus(d, fleet.StatusOnline)
		}
	}
	for _, ack := range u.pendingUp {
		ack <- struct{}{}
	}
	u.pendingUp = nil
}

// scheduleRetry waits with exponential backoff and jitter, so that a fleet whose broker
// restarts does not reconnect in one stampede.
func (u *unit) scheduleRetry() {
	d := min(maxBackoff, 250*time.Millisecond<<min(u.attempt, 10))
	d = d/2 + time.Duration(u.rng.Int64N(int64(d/2)+1))
	u.attempt++
	u.retry.Reset(d)
}

func (u *unit) apply(ctx context.Context, c ctrl) {
	before := make([]bool, len(u.devs))
	for i, d := range u.devs {
		before[i] = u.silent(d)
	}
	delta := 1
	if !c.down {
		delta = -1
	}
	for _, d := range u.devs {
		switch {
		case c.fault.Kind == simulator.FaultWardOutage && u.gateway:
		case c.fault.Device == "" || c.fault.Device == d.dev.ID:
			d.down += delta
		}
	}
	if c.fault.Kind == simulator.FaultWardOutage && u.gateway {
		u.wardDown += delta
	}
	if u.cur != nil {
		for i, d := range u.devs {
			switch now := u.silent(d); {
			case now && !before[i]:
				// Only a gateway can speak for its devices; a device's own connection
				// is about to be cut and its last will says it.
				if u.gateway {
					u.publishStatus(d, fleet.StatusOffline)
				}
			case !now && before[i]:
				u.publishStatus(d, fleet.StatusOnline)
			}
		}
		if u.linkDown() {
			if u.gateway {
				u.cur.flush(flushTimeout)
			}
			u.cur.abort()
			u.cur = nil
			u.run.s.stats.connected.Add(-1)
		}
		c.ack <- struct{}{}
		return
	}
	if c.down || u.linkDown() {
		c.ack <- struct{}{}
		return
	}
	// Back from an outage: reconnect now rather than at the next backoff step.
	u.pendingUp = append(u.pendingUp, c.ack)
	u.retry.Stop()
	u.attempt = 0
	u.connect(ctx)
}

// publishDue publishes the readings scheduled at due. A reading is taken only when it can
// be sent, so seq counts messages actually handed to the broker.
func (u *unit) publishDue(due time.Duration) {
	s := u.run.s
	interval := s.cfg.Interval
	for _, d := range u.devs {
		if d.next != due {
			continue
		}
		if u.cur != nil && !u.silent(d) {
			u.publishTelemetry(d, u.run.start.Add(due))
		}
		// A stalled process skips the readings it missed instead of bursting them out.
		elapsed := time.Since(u.run.mono)
		d.next += interval
		if d.next <= elapsed {
			d.next += (elapsed - d.next + interval) / interval * interval
		}
	}
}

func (u *unit) publishTelemetry(d *unitDevice, t time.Time) {
	s := u.run.s
	payload, err := u.run.model.Next(d.dev.Ward, d.dev.ID, t)
	if err != nil { // a device the model does not know or time running back: count it rather than crash
		s.stats.pubErr.Add(1)
		return
	}
	class := slices.Index(fleet.Classes(), d.dev.Class)
	l := u.cur
	l.publish(d.dev.TelemetryTopic(s.cfg.TopicPrefix), s.cfg.QoS, false, payload, func(err error) {
		if err != nil {
			u.publishFailed(l, err)
			return
		}
		s.stats.telemetry[class].Add(1)
	})
}

func (u *unit) publishStatus(d *unitDevice, status string) {
	s := u.run.s
	l := u.cur
	l.publish(d.dev.StatusTopic(s.cfg.TopicPrefix), 1, true, []byte(status), func(err error) {
		switch {
		case err != nil:
			u.publishFailed(l, err)
		case status == fleet.StatusOnline:
			s.stats.online.Add(1)
		default:
			s.stats.offline.Add(1)
		}
	})
}

// publishFailed runs on token goroutines: it touches only atomics and the logger.
func (u *unit) publishFailed(l *link, err error) {
	u.run.s.stats.pubErr.Add(1)
	if !l.errLogged.Swap(true) {
		u.log.Warn("publish failed (further failures on this connection logged at debug)", "err", err)
	} else {
		u.log.Debug("publish failed", "err", err)
	}
}

// shutdown ends the run for this unit: every device still online says "offline"
// (retained) and the connection closes with a DISCONNECT, so no last will fires.
func (u *unit) shutdown() {
	if u.connecting {
		// The attempt ends promptly: ctx is done, and link.connect gives up on it.
		if res := <-u.results; res.err == nil {
			if u.linkDown() {
				res.link.abort()
			} else {
				u.cur = res.link
				u.run.s.stats.connected.Add(1)
			}
		}
		u.connecting = false
	}
	if u.cur == nil {
		return
	}
	for _, d := range u.devs {
		if !u.silent(d) {
			u.publishStatus(d, fleet.StatusOffline)
		}
	}
	u.cur.disconnect()
	u.cur = nil
	u.run.s.stats.connected.Add(-1)
}
