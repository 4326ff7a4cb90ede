// Package publisher runs a simulated fleet against an MQTT broker: it takes each
// device's readings from the simulator's Model on the simulated clock, owns the
// connections (one per device, or one per ward in gateway mode, with their last
// wills), retries them with backoff, and injects the connection faults
// (device-offline, ward-outage) by cutting TCP without a DISCONNECT.
package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/redact"
	"github.com/facmon/facmon/internal/simulator"
)

// Simulator publishes a simulated fleet to an MQTT broker. Create it with New; Run it once.
type Simulator struct {
	cfg     simulator.Config
	broker  *url.URL
	log     *slog.Logger
	devices []fleet.Device

	started atomic.Bool
	stats   counters

	mu      sync.Mutex
	events  []simulator.FaultEvent
	lastErr error // last connect error, for Run's verdict when nothing ever connected
}

// New validates cfg (after filling its zero-valued fields from DefaultConfig) and returns
// a simulator ready to Run. log may be nil.
func New(cfg simulator.Config, log *slog.Logger) (*Simulator, error) {
	cfg = cfg.WithDefaults()
	model, err := simulator.NewModel(cfg, time.Time{})
	if err != nil {
		return nil, err
	}
	broker, err := cfg.ValidateTransport()
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
		devices: model.Devices(),
	}, nil
}

// Devices lists the simulated devices in publishing order.
func (s *Simulator) Devices() []fleet.Device { return slices.Clone(s.devices) }

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
	telemetry                        [4]atomic.Uint64 // by class, in fleet.Classes() order
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
	for i, c := range fleet.Classes() {
		st.Telemetry[c] = s.stats.telemetry[i].Load()
	}
	return st
}

// FaultEvents returns the faults applied so far, in the order they started. Payload faults
// start and end exactly on their schedule; connection faults carry the moment the
// connections were cut and the moment every affected device was back online. A fault
// still active when Run returns ends at the end of the run.
func (s *Simulator) FaultEvents() []simulator.FaultEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// run is the state of one Run shared by its goroutines.
type run struct {
	s     *Simulator
	model *simulator.Model
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
	model, err := simulator.NewModel(s.cfg, r.start)
	if err != nil {
		return err
	}
	r.model = model
	if s.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.Duration)
		defer cancel()
	}
	r.units = r.makeUnits()
	s.log.Info("simulation starting", "broker", redact.URL(s.broker.String()), "mode", s.cfg.ClientMode,
		"wards", len(s.cfg.Wards), "devices", len(r.model.Devices()), "interval", s.cfg.Interval,
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
	for _, dev := range r.model.Devices() {
		key := dev.Ward + "/" + dev.ID
		ud := &unitDevice{dev: dev, next: time.Duration(fleet.HashUnit(cfg.Seed, "phase:"+key, 0) * float64(cfg.Interval))}
		if cfg.ClientMode == simulator.ModeGateway {
			u := byWard[dev.Ward]
			if u == nil {
				u = r.newUnit(dev.Ward, "facmon-sim-"+dev.Ward, true)
				byWard[dev.Ward] = u
				units = append(units, u)
			}
			u.devs = append(u.devs, ud)
			continue
		}
		u := r.newUnit(dev.Ward, "facmon-sim-"+dev.Ward+"-"+dev.ID, false)
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
		rng:      rand.New(rand.NewPCG(uint64(r.s.cfg.Seed), fleet.Hash64(r.s.cfg.Seed, "backoff:"+clientID, 0))),
		log:      r.s.log.With("client_id", clientID),
	}
}

// schedule applies one fault at its time and lifts it at its end.
func (r *run) schedule(ctx context.Context, f simulator.Fault) {
	if !sleepUntil(ctx, r.mono.Add(f.After)) {
		return
	}
	ev := simulator.FaultEvent{Kind: f.Kind, Ward: f.Ward, Device: f.Device}
	from, to := f.Window(r.start)
	var units []*unit
	if f.Kind.Transport() {
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
	if f.Kind.Transport() {
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

func (r *run) unitsFor(f simulator.Fault) []*unit {
	var out []*unit
	for _, u := range r.units {
		if u.ward != f.Ward {
			continue
		}
		if f.Device == "" || slices.ContainsFunc(u.devs, func(d *unitDevice) bool { return d.dev.ID == f.Device }) {
			out = append(out, u)
		}
	}
	return out
}

// dispatch tells the units to go down or come back, and waits until all of them did or
// ctx ends; it reports whether all did.
func (r *run) dispatch(ctx context.Context, units []*unit, f simulator.Fault, down bool) bool {
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
