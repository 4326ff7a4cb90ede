// Package engine evaluates alert rules against the Reading stream and
// runs each alert's lifecycle: pending → firing → resolved, with
// acknowledgement, escalation, flapping damping, maintenance, and the
// ward-outage correlation that turns a whole office going dark into one
// WardUnreachable alert instead of one per device. State and incident
// history survive restarts. The engine knows nothing of MQTT or InfluxDB:
// readings come in, notifications and alert_event readings go out.
package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
)

// Notifier receives notifications; notify.Dispatcher satisfies it. It
// must not block.
type Notifier interface {
	Firing(a notify.Alert)
	Resolved(a notify.Alert)
}

// Updater re-posts a firing alert at once with its new annotations (an
// acknowledgement given or withdrawn), instead of at the next re-post.
type Updater interface {
	Update(a notify.Alert)
}

// Silencer turns an acknowledgement into an Alertmanager silence of that
// alert, and ends it; notify.Silencer satisfies it. It must not block.
type Silencer interface {
	Silence(a notify.Alert, by, comment string)
	Expire(alertID string)
}

// Restorer re-registers alerts that were notified before a restart, so an
// Alertmanager keeps receiving re-posts without anyone being notified twice.
type Restorer interface {
	Restore(a notify.Alert)
}

// EventSink stores alert_event readings (the storage pipeline).
type EventSink interface {
	Deliver(r *reading.Reading, a reading.Acker) error
}

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

// Options configures the engine.
type Options struct {
	Rules       []*rule.Compiled
	Calendars   map[string]*calendar.Calendar // by ward
	WardNames   map[string]string
	Maintenance *maintenance.Schedule
	// Liveness gives absence and group rules their verdicts. The engine
	// only reads it: whoever feeds the engine feeds the tracker first,
	// with every reading (the service's fan-out does).
	Liveness *liveness.Tracker
	Notifier Notifier
	// Silencer silences acknowledged alerts in Alertmanager; nil for none.
	Silencer Silencer
	Events   EventSink
	Pipeline Pipeline
	Store    *Store
	// FlapCount transitions within FlapWindow mark an alert as flapping;
	// its notifications are held until it has been stable for FlapWindow.
	FlapCount  int
	FlapWindow time.Duration
	// GeneratorURL is the base of the alert pages (http://host:8080).
	GeneratorURL string
	Now          func() time.Time
	Log          *slog.Logger
	Registerer   prometheus.Registerer
	// QueueSize bounds readings waiting for evaluation.
	QueueSize int
	// OutboxSize bounds the alert events waiting for Events, and the
	// history lines waiting for Store, each: beyond it they are dropped
	// and counted. They wait while the sink is stuck (a full spool, a full
	// disk), so that the engine never does.
	OutboxSize int
	// RetryInterval is the wait before a history line the store refused
	// is written again.
	RetryInterval time.Duration
}

// State of an alert instance.
type State string

const (
	StateInactive State = "inactive"
	StatePending  State = "pending"
	StateFiring   State = "firing"
)

// Instance is one alert: a rule applied to one device (or ward).
type Instance struct {
	ID       string            `json:"id"`
	Rule     string            `json:"rule"`
	Severity string            `json:"severity"`
	Ward     string            `json:"ward,omitempty"`
	Class    string            `json:"class,omitempty"`
	Device   string            `json:"device,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	State    State             `json:"state"`
	// PendingSince / FiringSince: when the condition started to hold and
	// when the alert fired.
	PendingSince time.Time `json:"pending_since,omitzero"`
	FiringSince  time.Time `json:"firing_since,omitzero"`
	Value        float64   `json:"value"`
	SummaryVI    string    `json:"summary_vi,omitempty"`
	SummaryEN    string    `json:"summary_en,omitempty"`
	// Acknowledgement.
	Acked      bool      `json:"acked"`
	AckBy      string    `json:"ack_by,omitempty"`
	AckComment string    `json:"ack_comment,omitempty"`
	AckAt      time.Time `json:"ack_at,omitzero"`
	// SilenceID is the Alertmanager silence of the acknowledgement, once
	// Alertmanager has it.
	SilenceID string `json:"silence_id,omitempty"`
	// Notified is true once the firing notification went out; a restart
	// keeps it so nobody is notified twice.
	Notified  bool `json:"notified"`
	Escalated bool `json:"escalated"`
	// Suppressed says why a firing alert is not notified: "maintenance"
	// or "ward_unreachable".
	Suppressed string `json:"suppressed,omitempty"`
	// Flapping alerts hold their notifications.
	Flapping    bool        `json:"flapping"`
	Transitions []time.Time `json:"transitions,omitempty"`

	// Evaluation memory, not persisted.
	active, clear bool
	known         bool
	clearSince    time.Time
	quietSince    time.Time // when it last went back from pending to inactive
	heldResolve   bool
	samples       []sample
	// The ward's calendar, looked up once: step needs it on every reading
	// of an office-hours rule.
	cal    *calendar.Calendar
	calSet bool
	// dormant: forgotten by the engine's maps, kept by its device's slot.
	dormant bool
}

type sample struct {
	t time.Time
	v float64
}

// Engine evaluates rules. Readings go in through Observe; Run drives time.
type Engine struct {
	opts    Options
	log     *slog.Logger
	started time.Time
	// Readings the engine could not take at once wait in inbox until Run
	// takes them all: a slice swap per batch costs ingest far less than a
	// channel send per reading.
	inMu  sync.Mutex
	inbox []*reading.Reading
	spare []*reading.Reading
	kick  chan struct{}
	// draining is true while Run evaluates a batch it took from inbox:
	// a reading arriving then must queue, not overtake the batch.
	draining bool

	mu        sync.Mutex
	instances map[instKey]*Instance
	// slots keep, per device and measurement, the rules that apply to it
	// and their alerts, so a reading costs one lookup however many rules
	// its class has. link keeps them in step with instances.
	slots map[slotKey]*slot
	byID  map[string]*Instance
	// byMeasurement lists the reading-driven rules per measurement, so a
	// reading only meets the rules that can use it.
	byMeasurement map[string][]*rule.Compiled
	byName        map[string]*rule.Compiled
	// nextDue is the earliest moment a pending alert's for, or a firing
	// alert's clear_for, runs out; Run wakes then instead of waiting for
	// the next tick, so an alert fires on time whatever eval_interval is.
	nextDue time.Time
	// wardBack records when a ward-level alert resolved: its devices
	// reconnect one by one over the next moments, and their alerts are not
	// news, so suppression lasts a grace period past the resolution.
	wardBack map[string]time.Time
	lastAny  time.Time
	dirty    bool
	firing   atomic.Int64 // alerts in StateFiring
	// saveFailing is set while the state cannot be saved, so it is
	// logged once, not at every tick.
	saveFailing bool

	// What the engine records goes out through these, never from under
	// mu straight to a sink that can block.
	events  *outbox[eventRecord]
	history *outbox[HistoryEvent]

	m engineMetrics
}

type engineMetrics struct {
	evaluated   prometheus.Counter
	dropped     prometheus.Counter
	transitions *prometheus.CounterVec
	firing      prometheus.GaugeFunc
	saveErrors  prometheus.Counter
	outboxes    *outboxMetrics
}

// New builds an engine and restores the state of the last run.
func New(opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 65536
	}
	if opts.FlapCount <= 0 {
		opts.FlapCount = 4
	}
	if opts.FlapWindow <= 0 {
		opts.FlapWindow = 10 * time.Minute
	}
	if opts.OutboxSize <= 0 {
		// Enough for every device of a large district changing state at
		// once while the sink is stuck, in a few MiB (a record is some
		// 200 bytes, its strings shared with the alert).
		opts.OutboxSize = 16384
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Second
	}
	e := &Engine{
		opts:          opts,
		log:           opts.Log.With("component", "alerts"),
		started:       opts.Now(),
		kick:          make(chan struct{}, 1),
		instances:     map[instKey]*Instance{},
		slots:         map[slotKey]*slot{},
		byID:          map[string]*Instance{},
		wardBack:      map[string]time.Time{},
		byMeasurement: map[string][]*rule.Compiled{},
		byName:        map[string]*rule.Compiled{},
	}
	for _, c := range opts.Rules {
		e.byName[c.Name] = c
		switch c.Kind {
		case rule.KindThreshold, rule.KindState, rule.KindForecast:
			m := c.MeasurementName()
			e.byMeasurement[m] = append(e.byMeasurement[m], c)
		case rule.KindAbsence:
			e.byMeasurement[reading.MeasurementDeviceStatus] = append(e.byMeasurement[reading.MeasurementDeviceStatus], c)
		}
	}
	e.m.evaluated = prometheus.NewCounter(prometheus.CounterOpts{Name: "facmon_alert_readings_evaluated_total", Help: "Readings evaluated by the alert rules."})
	e.m.dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "facmon_alert_readings_dropped_total", Help: "Readings the alert engine could not keep up with (its queue was full). Storage is not affected."})
	e.m.transitions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "facmon_alert_transitions_total", Help: "Alert state changes by rule and new state."}, []string{"rule", "state"})
	e.m.firing = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "facmon_alerts_firing", Help: "Alerts firing now."}, func() float64 { return float64(e.firingCount()) })
	e.m.saveErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "facmon_alert_state_save_errors_total", Help: "Failed saves of the alert state (alerts.state_dir); each is retried at the next tick."})
	e.m.outboxes = newOutboxMetrics()
	e.events = newOutbox("events", opts.OutboxSize, opts.RetryInterval, e.log, e.deliverEvents, e.m.outboxes)
	e.history = newOutbox("history", opts.OutboxSize, opts.RetryInterval, e.log, e.writeHistory, e.m.outboxes)
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(e.m.evaluated, e.m.dropped, e.m.transitions, e.m.firing, e.m.saveErrors, e.m.outboxes)
	}
	if opts.Store != nil {
		restored, err := opts.Store.Load()
		if err != nil {
			return nil, err
		}
		for _, in := range restored {
			e.instances[instKey{in.Rule, in.Ward, in.Class, in.Device}] = in
			e.byID[in.ID] = in
			if in.State == StateFiring {
				e.firing.Add(1)
			}
			if in.State == StateFiring && in.Notified && opts.Notifier != nil {
				if r, ok := opts.Notifier.(Restorer); ok {
					r.Restore(e.toNotify(in, false))
				}
			}
		}
		if len(restored) > 0 {
			e.log.Info("alerts restored from the last run", "active", len(restored))
		}
	}
	return e, nil
}

// Observe evaluates a reading without ever blocking ingest: at once, on
// the caller's goroutine, when the engine is free and nothing is queued
// ahead of it (the reading is still in the CPU's cache and no hand-off
// is paid); otherwise it queues the reading for Run, behind the others,
// so a device's readings are always evaluated in order.
func (e *Engine) Observe(r *reading.Reading) {
	e.inMu.Lock()
	if len(e.inbox) == 0 && !e.draining && e.mu.TryLock() {
		e.inMu.Unlock()
		e.processLocked(r)
		e.mu.Unlock()
		e.m.evaluated.Inc()
		return
	}
	if len(e.inbox) >= e.opts.QueueSize {
		e.inMu.Unlock()
		e.m.dropped.Inc()
		return
	}
	// The reading is only lent (the MQTT collector reuses it once
	// Observe returns), so one kept for later is copied.
	e.inbox = append(e.inbox, r.Clone())
	first := len(e.inbox) == 1
	e.inMu.Unlock()
	if first {
		select {
		case e.kick <- struct{}{}:
		default:
		}
	}
}

// Run evaluates queued readings and, every interval, the time-based
// conditions, until ctx ends; then it saves the state.
func (e *Engine) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	due := time.NewTimer(time.Hour)
	defer due.Stop()
	var sinks sync.WaitGroup
	sinks.Go(func() { e.events.run(ctx) })
	sinks.Go(func() { e.history.run(ctx) })
	for {
		select {
		case <-ctx.Done():
			e.mu.Lock()
			err := e.saveLocked()
			e.mu.Unlock()
			// One last pass: the storage pipeline stops waiting for room
			// once shutdown begins, and what is still refused is counted
			// and said.
			sinks.Wait()
			e.flushOutboxes()
			for _, q := range e.m.outboxes.queues {
				if what, n := q(); n > 0 {
					e.log.Warn("shutdown: alert records not written", "what", what, "records", n)
				}
			}
			return err
		case <-e.kick:
			e.processInbox()
		case <-t.C:
			e.Tick(e.opts.Now())
		case <-due.C:
			e.StepDue(e.opts.Now())
		}
		e.mu.Lock()
		next := e.nextDue
		e.mu.Unlock()
		if !next.IsZero() {
			due.Reset(max(time.Until(next), time.Millisecond))
		}
	}
}

// processBatch bounds how long one batch holds the engine's lock, so the
// API and the tick never wait long behind a backlog.
const processBatch = 1024

// processInbox evaluates everything queued so far.
func (e *Engine) processInbox() {
	e.inMu.Lock()
	all := e.inbox
	e.inbox = e.spare[:0]
	e.draining = len(all) > 0
	e.inMu.Unlock()
	for batch := all; len(batch) > 0; {
		n := min(len(batch), processBatch)
		e.mu.Lock()
		for _, r := range batch[:n] {
			e.processLocked(r)
		}
		e.mu.Unlock()
		e.m.evaluated.Add(float64(n))
		batch = batch[n:]
	}
	clear(all) // the readings are garbage once evaluated
	e.inMu.Lock()
	e.spare = all[:0]
	e.draining = false
	e.inMu.Unlock()
}

// StepDue advances the alerts whose for or clear_for has run out by now,
// without the full tick's walk over every device.
func (e *Engine) StepDue(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.nextDue.IsZero() || now.Before(e.nextDue) {
		return
	}
	e.nextDue = time.Time{}
	for _, in := range e.instances {
		c := e.ruleOf(in.Rule)
		if c != nil && (c.Kind == rule.KindThreshold || c.Kind == rule.KindState || c.Kind == rule.KindForecast) {
			e.step(c, in, now)
		}
	}
}

func (e *Engine) noteDue(t time.Time) {
	if e.nextDue.IsZero() || t.Before(e.nextDue) {
		e.nextDue = t
	}
}

// Process evaluates one reading now (tests call it directly).
func (e *Engine) Process(r *reading.Reading) {
	e.m.evaluated.Inc()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.processLocked(r)
}

func (e *Engine) processLocked(r *reading.Reading) {
	if r.Received.After(e.lastAny) {
		e.lastAny = r.Received
	}
	now := r.Received
	// The liveness tracker has already counted this reading (the service
	// feeds it before the engine, with every reading, dropped here or
	// not): absence rules below judge the device with it counted.
	sl := e.slotOf(r)
	if sl == nil {
		return
	}
	for i, c := range sl.rules {
		if c.Kind == rule.KindAbsence {
			e.evalAbsence(c, liveness.Key{Ward: r.Ward, Class: r.Class, Device: r.Device}, now)
			continue
		}
		var active, clear bool
		var value float64
		switch c.Kind {
		case rule.KindThreshold:
			v, ok := r.FloatField(c.Field)
			if !ok {
				continue
			}
			if c.MinusField != "" {
				m, ok := r.FloatField(c.MinusField)
				if !ok {
					continue
				}
				v -= m
			}
			value, active, clear = v, rule.Compare(v, c.Op, *c.Value), c.Cleared(v)
		case rule.KindState:
			f, ok := r.Field(c.Field)
			if !ok {
				continue
			}
			active = c.StateActive(fieldText(f))
			clear, value = !active, boolFloat(active)
		case rule.KindForecast:
			v, ok := r.FloatField(c.Field)
			if !ok {
				continue
			}
			in := e.slotAlert(sl, i, r, true)
			in.active, in.Value = forecast(in, c, r.Time, v)
			in.clear, in.known = !in.active, true
			e.step(c, in, now)
			continue
		}
		// Most readings are fine: an alert is only materialised when its
		// condition holds or it already exists, which keeps the hot path
		// free of allocations and memory flat for a large fleet.
		in := e.slotAlert(sl, i, r, active)
		if in == nil {
			continue
		}
		in.Value, in.active, in.clear, in.known = value, active, clear, true
		e.step(c, in, now)
	}
}

// Tick evaluates what time alone changes: for-durations elapsing,
// absence, ward outages, office hours, escalation, maintenance, flapping.
func (e *Engine) Tick(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Ward-level rules first, so device alerts firing in the same tick
	// already see the ward outage that explains them.
	for _, c := range e.opts.Rules {
		if c.Kind == rule.KindGroup {
			e.evalGroups(c, now)
		}
	}
	for _, c := range e.opts.Rules {
		switch c.Kind {
		case rule.KindAbsence:
			e.opts.Liveness.Each(now, func(k liveness.Key, v liveness.Verdict) {
				if c.Applies(k.Ward, k.Class, k.Device) {
					e.applyAbsence(c, k, v, now)
				}
			})
		case rule.KindPipeline:
			e.evalPipeline(c, now)
		}
	}
	for _, in := range e.instances {
		c := e.ruleOf(in.Rule)
		if c == nil {
			continue
		}
		if c.Kind == rule.KindThreshold || c.Kind == rule.KindState || c.Kind == rule.KindForecast {
			e.step(c, in, now)
		}
		e.housekeep(c, in, now)
	}
	if e.dirty {
		e.save()
	}
}

func (e *Engine) ruleOf(name string) *rule.Compiled { return e.byName[name] }

type instKey struct{ rule, ward, class, device string }

// firingCount is kept as alerts fire and resolve, so /metrics never
// walks the alerts nor waits for the engine.
func (e *Engine) firingCount() int { return int(e.firing.Load()) }

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

// instance returns (creating) the alert of rule c on the target.
func (e *Engine) instance(c *rule.Compiled, ward, class, device string) *Instance {
	k := instKey{c.Name, ward, class, device}
	if in, ok := e.instances[k]; ok {
		return in
	}
	return e.register(c, k, nil)
}

// register makes a new alert of rule c for k's device, from a dormant
// one of its slot when there is one (same rule, same device, same id).
func (e *Engine) register(c *rule.Compiled, k instKey, dormant *Instance) *Instance {
	var in *Instance
	if dormant != nil && dormant.dormant {
		*dormant = Instance{ID: dormant.ID, Rule: c.Name, Severity: c.Severity, Ward: k.ward, Class: k.class, Device: k.device,
			Labels: c.Labels, State: StateInactive, cal: dormant.cal, calSet: dormant.calSet}
		in = dormant
	} else {
		id := alertID(c.Name, k.ward, k.class, k.device)
		in = &Instance{ID: id, Rule: c.Name, Severity: c.Severity, Ward: k.ward, Class: k.class, Device: k.device, Labels: c.Labels, State: StateInactive}
	}
	e.instances[k] = in
	e.byID[in.ID] = in
	e.link(c, k.ward, k.class, k.device, in)
	return in
}

// slotAlert is rule i's alert in the slot of r's device: the live one,
// or, when create is set, a new one (a dormant one revived); nil when
// there is none and create is not set.
func (e *Engine) slotAlert(sl *slot, i int, r *reading.Reading, create bool) *Instance {
	in := sl.alerts[i]
	if in != nil && !in.dormant {
		return in
	}
	if !create {
		return nil
	}
	// The slot is never behind the maps: it is filled from them when it is
	// made, and register links every alert made after that.
	c := sl.rules[i]
	return e.register(c, instKey{c.Name, r.Ward, r.Class, r.Device}, in)
}

func (e *Engine) calendarOf(in *Instance) *calendar.Calendar {
	if !in.calSet {
		in.cal, in.calSet = e.opts.Calendars[in.Ward], true
	}
	return in.cal
}

// slotKey names one device's readings of one measurement.
type slotKey struct{ measurement, ward, class, device string }

type slot struct {
	rules  []*rule.Compiled // the measurement's rules that apply to the device
	alerts []*Instance      // alerts[i] is rules[i]'s alert for the device, if any (maybe dormant)
}

// slotOf returns the rules and alerts of r's device, building them on the
// device's first reading; nil when no rule reads r's measurement.
func (e *Engine) slotOf(r *reading.Reading) *slot {
	k := slotKey{r.Measurement, r.Ward, r.Class, r.Device}
	if sl, ok := e.slots[k]; ok {
		return sl
	}
	// Most devices meet every rule of their class: they share the list,
	// which then stays in the CPU's cache; others get their own.
	all := e.byMeasurement[r.Measurement]
	rules := all
	for i, c := range all {
		if !c.Applies(r.Ward, r.Class, r.Device) {
			rules = append([]*rule.Compiled(nil), all[:i]...)
			for _, c := range all[i+1:] {
				if c.Applies(r.Ward, r.Class, r.Device) {
					rules = append(rules, c)
				}
			}
			break
		}
	}
	var sl *slot
	if len(rules) > 0 {
		sl = &slot{rules: rules, alerts: make([]*Instance, len(rules))}
		for i, c := range rules {
			sl.alerts[i] = e.instances[instKey{c.Name, r.Ward, r.Class, r.Device}]
		}
	}
	e.slots[k] = sl // nil too: a device no rule watches costs one lookup
	return sl
}

// slotMeasurement is the measurement whose readings evaluate c.
func slotMeasurement(c *rule.Compiled) string {
	if c.Kind == rule.KindAbsence {
		return reading.MeasurementDeviceStatus
	}
	return c.MeasurementName()
}

// link records in as c's alert in the device's slot.
func (e *Engine) link(c *rule.Compiled, ward, class, device string, in *Instance) {
	sl := e.slots[slotKey{slotMeasurement(c), ward, class, device}]
	if sl == nil {
		return
	}
	for i, rc := range sl.rules {
		if rc == c {
			sl.alerts[i] = in
		}
	}
}

func alertID(parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// step moves an instance through its lifecycle given its current
// condition at now.
func (e *Engine) step(c *rule.Compiled, in *Instance, now time.Time) {
	if !in.known {
		return
	}
	active, clear := in.active, in.clear
	if c.OfficeHours {
		if cal := e.calendarOf(in); cal != nil && !cal.Open(now) {
			active, clear = false, true
		}
	}
	switch in.State {
	case StateInactive:
		if active {
			in.State = StatePending
			if in.PendingSince.IsZero() || c.Kind != rule.KindPipeline {
				in.PendingSince = now
			}
			e.dirty = true
			e.m.transitions.WithLabelValues(c.Name, string(StatePending)).Inc()
			if now.Sub(in.PendingSince) >= c.For.D() {
				e.fire(c, in, now)
			} else {
				e.noteDue(in.PendingSince.Add(c.For.D()))
			}
		}
	case StatePending:
		switch {
		case !active:
			in.State = StateInactive
			in.PendingSince = time.Time{}
			in.quietSince = now
			e.dirty = true
		case now.Sub(in.PendingSince) >= c.For.D():
			e.fire(c, in, now)
		default:
			e.noteDue(in.PendingSince.Add(c.For.D()))
		}
	case StateFiring:
		if !clear {
			in.clearSince = time.Time{}
			e.refresh(c, in)
			return
		}
		if in.clearSince.IsZero() {
			in.clearSince = now
		}
		if now.Sub(in.clearSince) >= c.ClearFor.D() || (c.OfficeHours && !active && e.closed(in, now)) {
			e.resolve(c, in, now)
		} else {
			e.noteDue(in.clearSince.Add(c.ClearFor.D()))
		}
	}
}

func (e *Engine) closed(in *Instance, now time.Time) bool {
	cal := e.opts.Calendars[in.Ward]
	return cal != nil && !cal.Open(now)
}

// refresh keeps the summary of a firing alert current (its value moves).
func (e *Engine) refresh(c *rule.Compiled, in *Instance) {
	in.SummaryVI, in.SummaryEN = c.Summaries(e.data(c, in))
}

func (e *Engine) data(c *rule.Compiled, in *Instance) rule.Data {
	name := e.opts.WardNames[in.Ward]
	if name == "" {
		name = in.Ward
	}
	return rule.Data{
		Rule: c.Name, Ward: in.Ward, WardName: name, Class: in.Class, Device: in.Device, Field: c.Field,
		Value: math.Round(in.Value*100) / 100, Threshold: c.Threshold(), For: c.For.D().String(),
	}
}

func (e *Engine) fire(c *rule.Compiled, in *Instance, now time.Time) {
	if in.State != StateFiring {
		e.firing.Add(1)
	}
	in.State = StateFiring
	in.FiringSince = now
	in.clearSince = time.Time{}
	in.Acked, in.AckBy, in.AckComment, in.AckAt, in.SilenceID = false, "", "", time.Time{}, ""
	in.Escalated = false
	e.refresh(c, in)
	e.dirty = true
	e.m.transitions.WithLabelValues(c.Name, string(StateFiring)).Inc()
	e.noteTransition(in, now)
	in.Suppressed = e.suppression(c, in, now)
	e.event(in, "firing", now)
	e.recordHistory(HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "firing", Value: in.Value, SummaryVI: in.SummaryVI, SummaryEN: in.SummaryEN, Suppressed: in.Suppressed})
	if in.heldResolve {
		// A flapping alert fired again before its held resolution went
		// out: the receivers still think it fires; nothing to send.
		in.heldResolve = false
		return
	}
	e.maybeNotify(in)
}

func (e *Engine) maybeNotify(in *Instance) {
	if in.Notified || in.Suppressed != "" || in.Flapping {
		return
	}
	if e.opts.Notifier != nil {
		e.opts.Notifier.Firing(e.toNotify(in, false))
	}
	in.Notified = true
	e.dirty = true
}

func (e *Engine) resolve(c *rule.Compiled, in *Instance, now time.Time) {
	if c.Kind == rule.KindGroup {
		e.wardBack[in.Ward] = now
	}
	e.m.transitions.WithLabelValues(c.Name, "resolved").Inc()
	e.noteTransition(in, now)
	e.event(in, "resolved", now)
	e.recordHistory(HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "resolved", Value: in.Value, Since: in.FiringSince, AckBy: in.AckBy, Suppressed: in.Suppressed})
	if in.Acked && e.opts.Silencer != nil {
		e.opts.Silencer.Expire(in.ID)
	}
	if in.Notified {
		if in.Flapping {
			in.heldResolve = true // sent once the alert has been quiet for the flap window
		} else {
			e.sendResolved(in, now)
		}
	}
	if in.State == StateFiring {
		e.firing.Add(-1)
	}
	in.State = StateInactive
	in.PendingSince = time.Time{}
	in.clearSince = time.Time{}
	in.Suppressed = ""
	e.dirty = true
}

func (e *Engine) sendResolved(in *Instance, now time.Time) {
	if e.opts.Notifier != nil {
		a := e.toNotify(in, false)
		a.EndsAt = now
		e.opts.Notifier.Resolved(a)
	}
	in.Notified = false
	in.heldResolve = false
}

// noteTransition keeps the transition times within the flap window and
// marks the alert flapping when there are too many.
func (e *Engine) noteTransition(in *Instance, now time.Time) {
	cut := now.Add(-e.opts.FlapWindow)
	kept := in.Transitions[:0]
	for _, t := range in.Transitions {
		if t.After(cut) {
			kept = append(kept, t)
		}
	}
	in.Transitions = append(kept, now)
	if !in.Flapping && len(in.Transitions) >= e.opts.FlapCount {
		in.Flapping = true
		e.log.Warn("alert is flapping; notifications held until it settles", "rule", in.Rule, "ward", in.Ward, "device", in.Device)
	}
}

// suppression says why a firing alert must not be notified now.
func (e *Engine) suppression(c *rule.Compiled, in *Instance, now time.Time) string {
	if _, ok := e.opts.Maintenance.Active(in.Ward, in.Class, in.Device, now); ok {
		return "maintenance"
	}
	if c.Kind == rule.KindAbsence && e.wardUnreachable(in.Ward, now) {
		return "ward_unreachable"
	}
	return ""
}

// wardRecoveryGrace is how long after a ward comes back its devices'
// offline alerts stay suppressed while they reconnect.
const wardRecoveryGrace = 2 * time.Minute

func (e *Engine) wardUnreachable(ward string, now time.Time) bool {
	for _, c := range e.opts.Rules {
		if c.Kind != rule.KindGroup {
			continue
		}
		if in, ok := e.instances[instKey{c.Name, ward, "", ""}]; ok && in.State == StateFiring {
			return true
		}
	}
	back, ok := e.wardBack[ward]
	return ok && now.Sub(back) < wardRecoveryGrace
}

// housekeep handles what changes with time for an existing alert:
// suppression ending, escalation, flapping settling.
func (e *Engine) housekeep(c *rule.Compiled, in *Instance, now time.Time) {
	if in.State == StateFiring {
		if s := e.suppression(c, in, now); s != in.Suppressed {
			if in.Suppressed == "" && s != "" {
				e.log.Debug("alert suppressed", "rule", in.Rule, "ward", in.Ward, "device", in.Device, "why", s)
			}
			in.Suppressed = s
			e.dirty = true
			e.maybeNotify(in) // maintenance over, or the ward is back: tell now
		}
		if c.EscalateAfter > 0 && in.Notified && !in.Acked && !in.Escalated && now.Sub(in.FiringSince) >= c.EscalateAfter.D() {
			in.Escalated = true
			e.dirty = true
			e.event(in, "escalated", now)
			if e.opts.Notifier != nil {
				e.opts.Notifier.Firing(e.toNotify(in, true))
			}
		}
	}
	if in.Flapping && len(in.Transitions) > 0 && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Flapping = false
		in.Transitions = nil
		e.dirty = true
		if in.heldResolve {
			e.sendResolved(in, now)
		}
		if in.State == StateFiring {
			e.maybeNotify(in)
		}
	}
	if len(in.Transitions) > 0 && !in.Flapping && now.Sub(in.Transitions[len(in.Transitions)-1]) >= e.opts.FlapWindow {
		in.Transitions = nil
	}
	if in.State == StateInactive && !in.Flapping && !in.heldResolve && !in.Notified && len(in.samples) == 0 && len(in.Transitions) == 0 &&
		now.Sub(in.quietSince) >= e.opts.FlapWindow {
		// Nothing to remember: keep the map small for large fleets. Not
		// before it has been quiet for a flap window, though: a door that
		// reports open one reading in three would otherwise be forgotten
		// at every tick and registered again at its next reading (2% of
		// ingest's CPU in the benchmark).
		delete(e.instances, instKey{in.Rule, in.Ward, in.Class, in.Device})
		delete(e.byID, in.ID)
		// The device's slot keeps it, dormant: a door that opens again
		// reuses it instead of allocating and naming a new one.
		in.dormant = true
	}
}

// Ack acknowledges a firing alert: Alertmanager gets the annotated alert
// at once and a silence of it, so it stops notifying the on-call person.
func (e *Engine) Ack(id, by, comment string) (Instance, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	in, ok := e.byID[id]
	if !ok || in.State != StateFiring {
		return Instance{}, ErrNotFiring
	}
	now := e.opts.Now()
	in.Acked, in.AckBy, in.AckComment, in.AckAt = true, by, comment, now
	e.dirty = true
	e.event(in, "acknowledged", now)
	e.recordHistory(HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "acknowledged", AckBy: by, AckComment: comment})
	if e.opts.Silencer != nil {
		e.opts.Silencer.Silence(e.toNotify(in, false), by, comment)
	}
	e.repostNow(in)
	e.save()
	return in.public(), nil
}

// Unack withdraws an acknowledgement: the silence is expired and the alert
// posted again without its acknowledgement.
func (e *Engine) Unack(id, by string) (Instance, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	in, ok := e.byID[id]
	if !ok || in.State != StateFiring {
		return Instance{}, ErrNotFiring
	}
	if !in.Acked {
		return Instance{}, ErrNotAcked
	}
	now := e.opts.Now()
	in.Acked, in.AckBy, in.AckComment, in.AckAt, in.SilenceID = false, "", "", time.Time{}, ""
	e.dirty = true
	e.recordHistory(HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device, State: "unacknowledged", AckBy: by})
	if e.opts.Silencer != nil {
		e.opts.Silencer.Expire(in.ID)
	}
	e.repostNow(in)
	e.save()
	return in.public(), nil
}

// ErrNotAcked is returned when withdrawing an acknowledgement nobody gave.
var ErrNotAcked = errors.New("the alert is not acknowledged")

// SetSilence records the silence id of an alert (the Silencer's OnChange).
func (e *Engine) SetSilence(alertID, silenceID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if in, ok := e.byID[alertID]; ok && in.SilenceID != silenceID {
		in.SilenceID = silenceID
		e.dirty = true
	}
}

// repostNow sends a notified alert's new version to the receivers.
func (e *Engine) repostNow(in *Instance) {
	if !in.Notified || e.opts.Notifier == nil {
		return
	}
	a := e.toNotify(in, in.Escalated)
	if u, ok := e.opts.Notifier.(Updater); ok {
		u.Update(a)
		return
	}
	e.opts.Notifier.Firing(a)
}

// ErrNotFiring is returned when acknowledging an alert that is not firing.
var ErrNotFiring = fmt.Errorf("no firing alert with that id")

// Active returns the firing and pending alerts, most severe and oldest first.
func (e *Engine) Active() []Instance {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Instance
	for _, in := range e.instances {
		if in.State == StateFiring || in.State == StatePending {
			out = append(out, in.public())
		}
	}
	rank := map[string]int{"critical": 0, "warning": 1, "info": 2}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.State == StateFiring) != (b.State == StateFiring) {
			return a.State == StateFiring
		}
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		if !a.FiringSince.Equal(b.FiringSince) {
			return a.FiringSince.Before(b.FiringSince)
		}
		return a.ID < b.ID
	})
	return out
}

func (in *Instance) public() Instance {
	cp := *in
	cp.samples = nil
	cp.Transitions = append([]time.Time(nil), in.Transitions...)
	return cp
}

func (e *Engine) toNotify(in *Instance, escalation bool) notify.Alert {
	labels := map[string]string{"alertname": in.Rule, "severity": in.Severity}
	for k, v := range in.Labels {
		labels[k] = v
	}
	if in.Ward != "" {
		labels["ward"] = in.Ward
	}
	if in.Class != "" {
		labels["class"] = in.Class
	}
	if in.Device != "" {
		labels["device"] = in.Device
	}
	if escalation {
		labels["escalation"] = "1"
	}
	url := ""
	if e.opts.GeneratorURL != "" {
		url = strings.TrimRight(e.opts.GeneratorURL, "/") + "/?alert=" + in.ID
	}
	return notify.Alert{
		ID:     in.ID,
		Labels: labels,
		Annotations: map[string]string{
			"summary_vi": in.SummaryVI, "summary_en": in.SummaryEN,
			"summary": in.SummaryEN,
		},
		StartsAt:     in.FiringSince,
		GeneratorURL: url,
		Acknowledged: in.Acked, AckBy: in.AckBy, AckComment: in.AckComment,
	}
}

// eventRecord is an alert_event point waiting for Events: the alert's
// fields at the transition (strings shared with the alert), made into a
// reading only when it is handed over.
type eventRecord struct {
	id, rule, severity, ward, class, device string
	summaryVI, summaryEN, suppressed, state string
	value                                   float64
	at                                      time.Time
}

// event records an alert_event point. It only queues it: the storage
// pipeline blocks while the spool cannot take a batch, and e.mu is held.
func (e *Engine) event(in *Instance, state string, now time.Time) {
	if e.opts.Events == nil {
		return
	}
	e.events.push(eventRecord{
		id: in.ID, rule: in.Rule, severity: in.Severity, ward: in.Ward, class: in.Class, device: in.Device,
		summaryVI: in.SummaryVI, summaryEN: in.SummaryEN, suppressed: in.Suppressed, state: state,
		value: in.Value, at: now,
	})
}

// deliverEvents hands alert_event points to Events, waiting as long as
// it makes them wait; it runs on the outbox's goroutine.
func (e *Engine) deliverEvents(recs []eventRecord) (int, error) {
	for _, ev := range recs {
		r := &reading.Reading{
			Measurement: "alert_event", Ward: ev.ward, Class: ev.class, Device: ev.device,
			Extra: []reading.Tag{{Key: "alertname", Value: ev.rule}, {Key: "severity", Value: ev.severity}},
			Fields: []reading.Field{
				{Key: "state", Kind: reading.String, Str: ev.state},
				{Key: "id", Kind: reading.String, Str: ev.id},
				{Key: "value", Kind: reading.Float, Float: ev.value},
				{Key: "summary_vi", Kind: reading.String, Str: trim(ev.summaryVI)},
				{Key: "summary_en", Kind: reading.String, Str: trim(ev.summaryEN)},
				{Key: "suppressed", Kind: reading.String, Str: ev.suppressed},
			},
			Time: ev.at, Received: ev.at,
		}
		if err := e.opts.Events.Deliver(r, noAck{}); err != nil {
			// It cannot be encoded: trying again would not help.
			e.log.Warn("alert event not stored", "err", err)
		}
	}
	return len(recs), nil
}

// writeHistory appends history lines to the store, all or none.
func (e *Engine) writeHistory(evs []HistoryEvent) (int, error) {
	if err := e.opts.Store.AppendHistory(evs...); err != nil {
		return 0, err
	}
	return len(evs), nil
}

// Flush hands the queued alert events and history lines to their sinks
// now, on the caller's goroutine: for a caller that drives the engine with
// Process and Tick on a simulated clock instead of Run (the history
// backfill), which has no outbox goroutine running.
func (e *Engine) Flush() { e.flushOutboxes() }

// flushOutboxes hands over what is queued, once, on the caller's
// goroutine: at shutdown, and in tests that drive the engine without Run.
func (e *Engine) flushOutboxes() {
	e.events.flush()
	e.history.flush()
}

func trim(s string) string {
	if len(s) > 250 {
		return s[:250]
	}
	return s
}

type noAck struct{}

func (noAck) Ack() {}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func fieldText(f reading.Field) string {
	switch f.Kind {
	case reading.String:
		return f.Str
	case reading.Bool:
		if f.Bool {
			return "true"
		}
		return "false"
	case reading.Int:
		return fmt.Sprint(f.Int)
	case reading.Float:
		return fmt.Sprint(f.Float)
	}
	return ""
}

// forecast keeps the samples within the window and fits a line: the alert
// is active when the value is at the limit already, or the fit reaches it
// within the horizon.
func forecast(in *Instance, c *rule.Compiled, t time.Time, v float64) (bool, float64) {
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
