// Package engine evaluates alert rules against the Reading stream and
// runs each alert's lifecycle: pending → firing → resolved, with
// acknowledgement, escalation, flapping damping, maintenance, and the
// ward-outage correlation that turns a whole office going dark into one
// WardUnreachable alert instead of one per device. State and incident
// history survive restarts. The engine knows nothing of MQTT or InfluxDB:
// readings come in, notifications and alert_event readings go out.
package engine

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/outbox"
	"github.com/facmon/facmon/alerts/engine/policy"
	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/engine/suppress"
	"github.com/facmon/facmon/alerts/engine/trend"
	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/alerts/view"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
)

// Notifier receives notifications; dispatch.Dispatcher satisfies it. It
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
// alert, and ends it; silence.Silencer satisfies it. It must not block.
type Silencer interface {
	Silence(a notify.Alert, by, comment string)
	Expire(alertID string)
	// Adopt takes on a silence another instance of the group created;
	// false for one this instance is expiring or has just expired (a
	// listing made before that is stale). Forget drops one another
	// instance expired.
	Adopt(a notify.Alert, by, comment, silenceID string, endsAt time.Time) bool
	Forget(alertID string)
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
	Store    Store
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

// instance is an alert under evaluation: its record and the engine's
// scratch, which is neither saved nor shown.
type instance struct {
	store.Record
	active, clear bool
	known         bool
	clearSince    time.Time
	quietSince    time.Time // when it last went back from pending to inactive
	heldResolve   bool
	samples       trend.Samples
	// The ward's calendar, looked up once: step needs it on every reading
	// of an office-hours rule.
	cal    *calendar.Calendar
	calSet bool
	// dormant: forgotten by the engine's maps, kept by its device's slot.
	dormant bool
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
	instances map[instKey]*instance
	// slots keep, per device and measurement, the rules that apply to it
	// and their alerts, so a reading costs one lookup however many rules
	// its class has. link keeps them in step with instances.
	slots map[slotKey]*slot
	byID  map[string]*instance
	// byMeasurement lists the reading-driven rules per measurement, so a
	// reading only meets the rules that can use it.
	byMeasurement map[string][]*rule.Compiled
	byName        map[string]*rule.Compiled
	// nextDue is the earliest moment a pending alert's for, or a firing
	// alert's clear_for, runs out; Run wakes then instead of waiting for
	// the next tick, so an alert fires on time whatever eval_interval is.
	nextDue time.Time
	// muters hold notifications (maintenance, then the ward outage).
	muters     suppress.Chain
	policy     policy.MultiStage // when to tell the receivers
	wardOutage *suppress.WardOutage
	lastAny    time.Time
	dirty      bool
	firing     atomic.Int64 // alerts in lifecycle.StateFiring
	// saveGen numbers the state snapshots; saveMu serialises their
	// writes, savedGen is the last one on disk and saveFailing is set
	// while the state cannot be saved, so it is
	// logged once, not at every tick.
	saveGen     uint64
	saveMu      sync.Mutex
	savedGen    uint64
	saveFailing bool

	// What the engine records goes out through these, never from under
	// mu straight to a sink that can block.
	events  *outbox.Outbox[eventRecord]
	history *outbox.Outbox[store.HistoryEvent]

	m engineMetrics
}

type engineMetrics struct {
	evaluated   prometheus.Counter
	dropped     prometheus.Counter
	transitions *prometheus.CounterVec
	firing      prometheus.GaugeFunc
	saveErrors  prometheus.Counter
	outboxes    *outbox.Metrics
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
		instances:     map[instKey]*instance{},
		slots:         map[slotKey]*slot{},
		byID:          map[string]*instance{},
		byMeasurement: map[string][]*rule.Compiled{},
		byName:        map[string]*rule.Compiled{},
	}
	e.wardOutage = suppress.NewWardOutage(e.groupFiring)
	e.policy = policy.Notification()
	e.muters = suppress.Chain{suppress.Maintenance{Schedule: opts.Maintenance}, e.wardOutage}
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
	e.m.outboxes = outbox.NewMetrics()
	e.events = outbox.New("events", opts.OutboxSize, opts.RetryInterval, e.log, e.deliverEvents, e.m.outboxes)
	e.history = outbox.New("history", opts.OutboxSize, opts.RetryInterval, e.log, e.writeHistory, e.m.outboxes)
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(e.m.evaluated, e.m.dropped, e.m.transitions, e.m.firing, e.m.saveErrors, e.m.outboxes)
	}
	if opts.Store != nil {
		restored, err := opts.Store.Load()
		if err != nil {
			return nil, err
		}
		for _, rec := range restored {
			in := &instance{Record: *rec}
			e.instances[instKey{in.Rule, in.Ward, in.Class, in.Device}] = in
			e.byID[in.ID] = in
			if in.State == lifecycle.StateFiring {
				e.firing.Add(1)
			}
			if in.State == lifecycle.StateFiring && in.Notified && opts.Notifier != nil {
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

// Tick evaluates what time alone changes: for-durations elapsing,
// absence, ward outages, office hours, escalation, maintenance, flapping.
func (e *Engine) Tick(now time.Time) {
	if snap := e.tickLocked(now); snap != nil {
		_ = e.writeState(snap) // counted and logged; retried at the next tick
	}
}

// tickLocked is Tick's evaluation under e.mu; it returns the state to
// save when it changed.
func (e *Engine) tickLocked(now time.Time) *stateSnapshot {
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
		return e.snapshotLocked()
	}
	return nil
}

func (e *Engine) ruleOf(name string) *rule.Compiled { return e.byName[name] }

type instKey struct{ rule, ward, class, device string }

// firingCount is kept as alerts fire and resolve, so /metrics never
// walks the alerts nor waits for the engine.
func (e *Engine) firingCount() int { return int(e.firing.Load()) }

// instance returns (creating) the alert of rule c on the target.
func (e *Engine) instance(c *rule.Compiled, ward, class, device string) *instance {
	k := instKey{c.Name, ward, class, device}
	if in, ok := e.instances[k]; ok {
		return in
	}
	return e.register(c, k, nil)
}

// register makes a new alert of rule c for k's device, from a dormant
// one of its slot when there is one (same rule, same device, same id).
func (e *Engine) register(c *rule.Compiled, k instKey, dormant *instance) *instance {
	var in *instance
	if dormant != nil && dormant.dormant {
		*dormant = instance{Record: store.Record{Alert: view.Alert{ID: dormant.ID, Rule: c.Name, Severity: c.Severity, Ward: k.ward, Class: k.class, Device: k.device,
			Labels: c.Labels, State: lifecycle.StateInactive}}, cal: dormant.cal, calSet: dormant.calSet}
		in = dormant
	} else {
		id := alertID(c.Name, k.ward, k.class, k.device)
		in = &instance{Record: store.Record{Alert: view.Alert{ID: id, Rule: c.Name, Severity: c.Severity, Ward: k.ward, Class: k.class, Device: k.device, Labels: c.Labels, State: lifecycle.StateInactive}}}
	}
	e.instances[k] = in
	e.byID[in.ID] = in
	e.link(c, k.ward, k.class, k.device, in)
	return in
}

// slotAlert is rule i's alert in the slot of r's device: the live one,
// or, when create is set, a new one (a dormant one revived); nil when
// there is none and create is not set.
func (e *Engine) slotAlert(sl *slot, i int, r *reading.Reading, create bool) *instance {
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

func (e *Engine) calendarOf(in *instance) *calendar.Calendar {
	if !in.calSet {
		in.cal, in.calSet = e.opts.Calendars[in.Ward], true
	}
	return in.cal
}

// slotKey names one device's readings of one measurement.
type slotKey struct{ measurement, ward, class, device string }

type slot struct {
	rules  []*rule.Compiled // the measurement's rules that apply to the device
	alerts []*instance      // alerts[i] is rules[i]'s alert for the device, if any (maybe dormant)
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
		sl = &slot{rules: rules, alerts: make([]*instance, len(rules))}
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
func (e *Engine) link(c *rule.Compiled, ward, class, device string, in *instance) {
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
