package backfill

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/facmon/facmon/alerts/engine"
	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/collectors/scrape"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/config/options"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/apps"
)

// wardRun is the history of one ward: its devices' models, its app, and a
// liveness tracker and alert engine of its own on the simulated clock.
// Wards do not interact (every rule is per device or per ward), so they run
// in parallel.
type wardRun struct {
	o       Options
	cfg     config.Config
	ward    fleet.Ward
	plan    Plan
	model   *simulator.Model
	devices []fleet.Device
	offset  map[string]time.Duration // a device's reading time within the interval
	apps    http.Handler
	target  scrape.Target
	dec     *mqtt.Decoder
	live    *liveness.Tracker
	alerts  *engine.Engine
	out     *batch
	now     time.Time
	st      *stats
	ctx     context.Context
	err     error
}

func newWardRun(o Options, cfg config.Config, w fleet.Ward, faults []simulator.Fault, plan Plan, dec *mqtt.Decoder,
	rules []*rule.Compiled, cals map[string]*calendar.Calendar, sched *maintenance.Schedule, st *stats) (*wardRun, error) {
	sc := simulator.DefaultConfig()
	sc.Wards = []fleet.Ward{w}
	sc.Devices = o.Devices
	sc.Seed = o.Seed
	sc.Interval = o.Interval
	for _, f := range faults {
		if f.Ward == w.ID {
			sc.Faults = append(sc.Faults, f)
		}
	}
	model, err := simulator.NewModel(sc, o.From)
	if err != nil {
		return nil, fmt.Errorf("backfill: ward %s: %w", w.ID, err)
	}
	r := &wardRun{o: o, cfg: cfg, ward: w, plan: plan, model: model, dec: dec, now: o.From, st: st, offset: map[string]time.Duration{}}
	r.devices = model.Devices()
	for _, d := range r.devices {
		// Devices of one office do not report in the same millisecond.
		h := fnv.New32a()
		h.Write([]byte(d.Ward + "/" + d.ID))
		r.offset[d.ID] = time.Duration(h.Sum32()%uint32(o.Interval/time.Millisecond)) * time.Millisecond
	}
	sim, err := apps.New(apps.Config{Wards: []fleet.Ward{w}, Seed: o.Seed, Location: sc.Location,
		Clock: func() time.Time { return r.now }, Faults: sc.Faults})
	if err != nil {
		return nil, fmt.Errorf("backfill: ward %s apps: %w", w.ID, err)
	}
	r.apps = sim.Handler()
	r.target = options.ScrapeTarget(sim.Targets("http://backfill.invalid")[0])
	r.live = liveness.New(cfg.Liveness.HeartbeatOf, o.From)
	names := map[string]string{}
	for _, off := range cfg.Offices {
		names[off.ID] = off.Name
	}
	r.alerts, err = engine.New(engine.Options{
		Rules: rules, Calendars: cals, WardNames: names, Maintenance: sched, Liveness: r.live,
		Events: eventSink{r}, FlapCount: cfg.Alerts.FlapCount, FlapWindow: cfg.Alerts.FlapWindow.D(),
		Now: func() time.Time { return r.now }, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("backfill: ward %s alerts: %w", w.ID, err)
	}
	r.out = newBatch(o.Writer, o.BatchPoints, st)
	return r, nil
}

// eventSink takes the engine's alert_event points into the ward's batch.
type eventSink struct{ r *wardRun }

func (s eventSink) Deliver(p *reading.Reading, a reading.Acker) error {
	s.r.write(p)
	if st, ok := p.Field("state"); ok && st.Str == "firing" {
		s.r.st.mu.Lock()
		s.r.st.alerts[tagValue(p, "alertname")]++
		s.r.st.mu.Unlock()
	}
	a.Ack()
	return nil
}

func tagValue(r *reading.Reading, key string) string {
	for _, t := range r.Extra {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// write stores p; the first error stops the run.
func (r *wardRun) write(p *reading.Reading) {
	if r.err == nil {
		r.err = r.out.add(r.ctx, p)
	}
}

// offline reports whether device d is off the network at t.
func (r *wardRun) offline(d fleet.Device, t time.Time) bool {
	for _, in := range r.plan.Incidents {
		if in.Ward != r.ward.ID || !in.contains(t) {
			continue
		}
		if in.Kind == simulator.FaultWardOutage || (in.Kind == simulator.FaultDeviceOffline && in.Device == d.ID) {
			return true
		}
	}
	return false
}

func (r *wardRun) run(ctx context.Context, done *atomic.Int64) error {
	r.ctx = ctx
	down := map[string]bool{}
	sample := r.cfg.Liveness.SampleInterval.D()
	if sample <= 0 {
		sample = time.Minute
	}
	nextSample, nextScrape := r.o.From, r.o.From
	wasDown := false
	for t := r.o.From; t.Before(r.o.To); t = t.Add(r.o.Interval) {
		if err := ctx.Err(); err != nil {
			return err
		}
		done.Add(1)
		if r.plan.facmonDown(t) {
			// Nothing was received or evaluated; the devices' own state
			// goes on (the models integrate over the gap at the next
			// reading).
			wasDown = true
			continue
		}
		if wasDown {
			// The MQTT session was persistent: the broker kept the retained
			// statuses, so facmon resumes where it stopped.
			wasDown = false
		}
		for _, d := range r.devices {
			at := t.Add(r.offset[d.ID])
			off := r.offline(d, at)
			if off != down[d.ID] || t.Equal(r.o.From) {
				down[d.ID] = off
				status := "online"
				if off {
					status = "offline"
				}
				r.receive(d.StatusTopic("facmon"), []byte(status), at)
			}
			if off {
				// The model still advances, as the device does.
				continue
			}
			payload, err := r.model.Next(d.Ward, d.ID, at)
			if err != nil {
				return fmt.Errorf("backfill: %w", err)
			}
			r.receive(d.TelemetryTopic("facmon"), payload, at)
		}
		end := t.Add(r.o.Interval)
		if !nextScrape.After(t) {
			r.scrape(ctx, t)
			nextScrape = nextScrape.Add(r.o.ScrapeInterval)
		}
		r.now = end
		r.alerts.Tick(end)
		r.alerts.Flush()
		for _, p := range r.live.Changes(end) {
			r.write(p)
		}
		if !nextSample.After(t) {
			for _, p := range r.live.Samples(end) {
				r.write(p)
			}
			nextSample = nextSample.Add(sample)
		}
		if r.err != nil {
			return r.err
		}
	}
	r.alerts.Flush()
	if r.err != nil {
		return r.err
	}
	return r.out.flush(ctx)
}

// receive is one MQTT message arriving at at, as the collector takes it.
func (r *wardRun) receive(topic string, payload []byte, at time.Time) {
	p, rej := r.dec.Decode(topic, payload, at)
	if rej != nil {
		if r.err == nil {
			r.err = fmt.Errorf("backfill: %s: the collector rejects the simulated message: %w", topic, rej)
		}
		return
	}
	r.now = at
	r.write(p)
	r.live.Observe(p)
	r.alerts.Process(p)
}

// scrape reads the ward's app at t, as the scrape collector would.
func (r *wardRun) scrape(ctx context.Context, t time.Time) {
	r.now = t
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, r.target.URL, nil)
	rec := httptest.NewRecorder()
	r.apps.ServeHTTP(rec, req)
	var fetchErr error
	if rec.Code != http.StatusOK {
		fetchErr = errors.New(http.StatusText(rec.Code))
	}
	took := 20*time.Millisecond + time.Duration(len(rec.Body.Bytes())%17)*time.Millisecond
	ps, err := scrape.Readings(ctx, r.target, options.ScrapeBounds(r.cfg), rec.Body.Bytes(), rec.Header().Get("Content-Type"), fetchErr, t, took)
	if err != nil {
		if r.err == nil {
			r.err = fmt.Errorf("backfill: scrape of %s: %w", r.ward.ID, err)
		}
		return
	}
	for _, p := range ps {
		r.write(p)
		r.live.Observe(p)
		r.alerts.Process(p)
	}
}
