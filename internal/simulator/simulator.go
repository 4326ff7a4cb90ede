package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facmon/facmon/internal/redact"
)

// Simulator publishes a simulated fleet to an MQTT broker. Create it with New; Run it once.
type Simulator struct {
	cfg     Config
	broker  *url.URL
	log     *slog.Logger
	devices []Device

	started atomic.Bool
	stats   counters

	mu      sync.Mutex
	events  []FaultEvent
	lastErr error // last connect error, for Run's verdict when nothing ever connected
}

// New validates cfg (after filling its zero-valued fields from DefaultConfig) and returns
// a simulator ready to Run. log may be nil.
func New(cfg Config, log *slog.Logger) (*Simulator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validateModel(); err != nil {
		return nil, err
	}
	broker, err := cfg.validateTransport()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Simulator{
		cfg:     cfg,
		broker:  broker,
		log:     log.With("component", "simulator"),
		devices: newModel(cfg, time.Time{}).Devices(),
	}, nil
}

// Devices lists the simulated devices in publishing order.
func (s *Simulator) Devices() []Device { return slices.Clone(s.devices) }

// Stats counts what the broker acknowledged and what failed so far.
type Stats struct {
	Telemetry     map[string]uint64 // acknowledged telemetry messages per class
	StatusOnline  uint64            // acknowledged "online" status messages
	StatusOffline uint64            // acknowledged "offline" status messages (last wills not included: the broker sends those)
	PublishErrors uint64            // publishes that failed or were not acknowledged in time
	ConnectErrors uint64            // failed connection attempts
	Connects      uint64            // successful connections, reconnections included
	Connected     int               // connections open now
}

type counters struct {
	telemetry                        [4]atomic.Uint64 // by class, in Classes() order
	online, offline, pubErr, connErr atomic.Uint64
	connects                         atomic.Uint64
	connected                        atomic.Int64
}

// Stats may be called at any time, also while Run is running.
func (s *Simulator) Stats() Stats {
	st := Stats{
		Telemetry:     map[string]uint64{},
		StatusOnline:  s.stats.online.Load(),
		StatusOffline: s.stats.offline.Load(),
		PublishErrors: s.stats.pubErr.Load(),
		ConnectErrors: s.stats.connErr.Load(),
		Connects:      s.stats.connects.Load(),
		Connected:     int(s.stats.connected.Load()),
	}
	for i, c := range Classes() {
		st.Telemetry[c] = s.stats.telemetry[i].Load()
	}
	return st
}

// FaultEvents returns the faults applied so far, in the order they started. Payload faults
// start and end exactly on their schedule; connection faults carry the moment the
// connections were cut and the moment every affected device was back online. A fault
// still active when Run returns ends at the end of the run.
func (s *Simulator) FaultEvents() []FaultEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// run is the state of one Run shared by its goroutines.
type run struct {
	s     *Simulator
	model *Model
	start time.Time // simulated time at the start
	mono  time.Time // wall clock at the start, with its monotonic reading
	units []*unit
}

// now is the simulated time: Config.Now at the start, advanced by the monotonic clock.
func (r *run) now() time.Time { return r.start.Add(time.Since(r.mono)) }

// Run connects the fleet and publishes until Duration has passed or ctx ends, then
// publishes "offline" (retained) for every device still online and disconnects. It returns
// nil after such an end, and an error if the run could not start or no connection to the
// broker ever succeeded.
func (s *Simulator) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("simulator: Run called twice")
	}
	r := &run{s: s, mono: time.Now(), start: s.cfg.Now()}
	r.model = newModel(s.cfg, r.start)
	if s.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Duration)
		defer cancel()
	}
	r.units = r.makeUnits()
	s.log.Info("simulation starting", "broker", redact.URL(s.broker.String()), "mode", s.cfg.ClientMode,
		"wards", len(s.cfg.Wards), "devices", len(r.model.devices), "interval", s.cfg.Interval,
		"duration", s.cfg.Duration, "faults", len(s.cfg.Faults), "start", r.start)

	var units, faults sync.WaitGroup
	for _, u := range r.units {
		units.Go(func() { u.loop(ctx) })
	}
	for _, f := range s.cfg.Faults {
		faults.Go(func() { r.schedule(ctx, f) })
	}
	units.Wait()
	faults.Wait()

	end := r.now()
	s.mu.Lock()
	for i := range s.events {
		if s.events[i].End.IsZero() {
			s.events[i].End = end
		}
	}
	lastErr := s.lastErr
	s.mu.Unlock()

	st := s.Stats()
	s.log.Info("simulation ended", "telemetry", st.Telemetry, "online", st.StatusOnline, "offline", st.StatusOffline,
		"publish_errors", st.PublishErrors, "connect_errors", st.ConnectErrors)
	if st.Connects == 0 && lastErr != nil {
		return fmt.Errorf("simulator: no connection to %s succeeded: %w", redact.URL(s.broker.String()), lastErr)
	}
	return nil
}

func (r *run) makeUnits() []*unit {
	cfg := r.s.cfg
	byWard := map[string]*unit{}
	var units []*unit
	for _, dm := range r.model.devices {
		key := dm.dev.Ward + "/" + dm.dev.ID
		ud := &unitDevice{dm: dm, next: time.Duration(hashUnit(cfg.Seed, "phase:"+key, 0) * float64(cfg.Interval))}
		if cfg.ClientMode == ModeGateway {
			u := byWard[dm.dev.Ward]
			if u == nil {
				u = r.newUnit(dm.dev.Ward, "facmon-sim-"+dm.dev.Ward, true)
				byWard[dm.dev.Ward] = u
				units = append(units, u)
			}
			u.devs = append(u.devs, ud)
			continue
		}
		u := r.newUnit(dm.dev.Ward, "facmon-sim-"+dm.dev.Ward+"-"+dm.dev.ID, false)
		u.devs = []*unitDevice{ud}
		units = append(units, u)
	}
	return units
}

func (r *run) newUnit(ward, clientID string, gateway bool) *unit {
	return &unit{
		run:      r,
		ward:     ward,
		clientID: clientID,
		gateway:  gateway,
		ctrl:     make(chan ctrl, 8),
		rng:      rand.New(rand.NewPCG(uint64(r.s.cfg.Seed), hash64(r.s.cfg.Seed, "backoff:"+clientID, 0))),
		log:      r.s.log.With("client_id", clientID),
	}
}

// schedule applies one fault at its time and lifts it at its end.
func (r *run) schedule(ctx context.Context, f Fault) {
	if !sleepUntil(ctx, r.mono.Add(f.After)) {
		return
	}
	ev := FaultEvent{Kind: f.Kind, Ward: f.Ward, Device: f.Device}
	from, to := f.window(r.start)
	var units []*unit
	if f.Kind.transport() {
		units = r.unitsFor(f)
		r.dispatch(ctx, units, f, true)
		ev.Start = r.now()
	} else {
		ev.Start = from
	}
	r.s.mu.Lock()
	idx := len(r.s.events)
	r.s.events = append(r.s.events, ev)
	r.s.mu.Unlock()
	r.s.log.Info("fault started", "fault", f.String(), "kind", f.Kind, "ward", f.Ward, "device", f.Device, "at", ev.Start)

	if f.For == 0 || !sleepUntil(ctx, r.mono.Add(f.After+f.For)) {
		return // lasts until the end of the run
	}
	end := to
	if f.Kind.transport() {
		if !r.dispatch(ctx, units, f, false) {
			return
		}
		end = r.now()
	}
	r.s.mu.Lock()
	r.s.events[idx].End = end
	r.s.mu.Unlock()
	r.s.log.Info("fault ended", "fault", f.String(), "kind", f.Kind, "ward", f.Ward, "device", f.Device, "at", end)
}

func (r *run) unitsFor(f Fault) []*unit {
	var out []*unit
	for _, u := range r.units {
		if u.ward != f.Ward {
			continue
		}
		if f.Device == "" || slices.ContainsFunc(u.devs, func(d *unitDevice) bool { return d.dm.dev.ID == f.Device }) {
			out = append(out, u)
		}
	}
	return out
}

// dispatch tells the units to go down or come back, and waits until all of them did or
// ctx ends; it reports whether all did.
func (r *run) dispatch(ctx context.Context, units []*unit, f Fault, down bool) bool {
	ack := make(chan struct{}, len(units)) // buffered: a unit never blocks on a scheduler that gave up
	for _, u := range units {
		select {
		case u.ctrl <- ctrl{fault: f, down: down, ack: ack}:
		case <-ctx.Done():
			return false
		}
	}
	for range units {
		select {
		case <-ack:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

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
	dm   *deviceModel
	next time.Duration // offset from the run start of the next reading
	down int           // active offline faults silencing this device
}

type ctrl struct {
	fault Fault
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
		will = u.devs[0].dm.dev.StatusTopic(s.cfg.TopicPrefix)
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
			u.publishStatus(d, StatusOnline)
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
		case c.fault.Kind == FaultWardOutage && u.gateway:
		case c.fault.Device == "" || c.fault.Device == d.dm.dev.ID:
			d.down += delta
		}
	}
	if c.fault.Kind == FaultWardOutage && u.gateway {
		u.wardDown += delta
	}
	if u.cur != nil {
		for i, d := range u.devs {
			switch now := u.silent(d); {
			case now && !before[i]:
				// Only a gateway can speak for its devices; a device's own connection
				// is about to be cut and its last will says it.
				if u.gateway {
					u.publishStatus(d, StatusOffline)
				}
			case !now && before[i]:
				u.publishStatus(d, StatusOnline)
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
	payload, err := json.Marshal(d.dm.next(t))
	if err != nil { // cannot happen with the fixed payload types; count it rather than crash
		s.stats.pubErr.Add(1)
		return
	}
	class := slices.Index(Classes(), d.dm.dev.Class)
	l := u.cur
	l.publish(d.dm.dev.TelemetryTopic(s.cfg.TopicPrefix), s.cfg.QoS, false, payload, func(err error) {
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
	l.publish(d.dm.dev.StatusTopic(s.cfg.TopicPrefix), 1, true, []byte(status), func(err error) {
		switch {
		case err != nil:
			u.publishFailed(l, err)
		case status == StatusOnline:
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
			u.publishStatus(d, StatusOffline)
		}
	}
	u.cur.disconnect()
	u.cur = nil
	u.run.s.stats.connected.Add(-1)
}
