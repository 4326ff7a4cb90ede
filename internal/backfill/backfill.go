// Package backfill writes a simulated history of the fleet straight into
// InfluxDB: what facmon would have stored had it watched the simulated
// offices for the last days. Readings come from the simulator's models and
// pass through the MQTT collector's decoder; liveness and the alert rules
// run on a simulated clock; the one-stop apps are scraped through the scrape
// collector's mapping. So the report, the dashboards and the status page
// see the same measurements, tags and fields as after a live month.
//
// The same options give the same points: the fault plan is anchored to a
// fixed epoch, the models are seeded, and every timestamp is derived from
// the window, so a second run rewrites the first one's points unchanged.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/collectors/scrape"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/config/options"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/storage"
)

// Committer stores line protocol; *storage.Influx is one.
type Committer interface {
	Commit(ctx context.Context, lines []byte, points int) error
}

// Options say what to write.
type Options struct {
	// Config gives the offices, profiles, topics, rules, calendars,
	// maintenance windows and liveness heartbeats, as `facmon run` uses them.
	Config  config.Config
	Wards   []fleet.Ward
	Devices map[string]int
	Seed    int64
	// From and To bound the history; readings every Interval.
	From, To time.Time
	Interval time.Duration
	// ScrapeInterval is how often the apps are scraped; default 5m.
	ScrapeInterval time.Duration
	Writer         Committer
	// BatchPoints is the size of one write; default 5000.
	BatchPoints int
	// Progress, when set, is called now and then with the share done (0-1).
	Progress func(done float64)
	// Instance tags facmon_heartbeat, as the live service does with its
	// host name; default the host name.
	Instance string
	Log      *slog.Logger
}

// Stats count what was written.
type Stats struct {
	Points map[string]int64 // by measurement
	Alerts map[string]int   // firing transitions by rule
	Plan   Plan
}

// Total is the number of points written.
func (s Stats) Total() int64 {
	var n int64
	for _, v := range s.Points {
		n += v
	}
	return n
}

// Heartbeat is how often facmon_heartbeat is written, as the live service
// does (internal/service.HeartbeatInterval; not imported to keep this
// package below the service).
const Heartbeat = 30 * time.Second

// Run writes the history and returns what it wrote.
func Run(ctx context.Context, o Options) (Stats, error) {
	if err := o.check(); err != nil {
		return Stats{}, err
	}
	o.defaults()
	wardIDs := make([]string, len(o.Wards))
	for i, w := range o.Wards {
		wardIDs[i] = w.ID
	}
	plan := PlanHistory(o.Seed, wardIDs, o.Devices, o.From, o.To)
	cfg := o.historyConfig()
	rules, err := cfg.CompileRules()
	if err != nil {
		return Stats{}, fmt.Errorf("backfill: rules: %w", err)
	}
	cals, err := cfg.OfficeCalendars()
	if err != nil {
		return Stats{}, fmt.Errorf("backfill: calendars: %w", err)
	}
	sched, err := cfg.MaintenanceSchedule()
	if err != nil {
		return Stats{}, fmt.Errorf("backfill: maintenance: %w", err)
	}
	dec, err := mqtt.NewDecoder(options.Decoder(cfg))
	if err != nil {
		return Stats{}, fmt.Errorf("backfill: topics: %w", err)
	}
	st := &stats{points: map[string]int64{}, alerts: map[string]int{}}
	var done atomic.Int64
	steps := int64(o.To.Sub(o.From)/o.Interval) * int64(len(o.Wards))
	stopProgress := o.reportProgress(&done, steps)
	defer stopProgress()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, runtime.GOMAXPROCS(0)))
	g.Go(func() error { return o.writeHeartbeats(gctx, plan, st) })
	faults := plan.Faults(o.From)
	for _, w := range o.Wards {
		g.Go(func() error {
			run, err := newWardRun(o, cfg, w, faults, plan, dec, rules, cals, sched, st)
			if err != nil {
				return err
			}
			return run.run(gctx, &done)
		})
	}
	if err := g.Wait(); err != nil {
		return Stats{}, err
	}
	stopProgress()
	return Stats{Points: st.points, Alerts: st.alerts, Plan: plan}, nil
}

func (o Options) check() error {
	switch {
	case o.Writer == nil:
		return errors.New("backfill: no writer")
	case !o.To.After(o.From):
		return fmt.Errorf("backfill: the window ends (%s) before it starts (%s)", o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
	case o.Interval < time.Second:
		return fmt.Errorf("backfill: interval %s: want at least 1s", o.Interval)
	case len(o.Wards) == 0:
		return errors.New("backfill: no wards")
	}
	return nil
}

func (o *Options) defaults() {
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = 5 * time.Minute
	}
	if o.BatchPoints <= 0 {
		o.BatchPoints = 5000
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Instance == "" {
		o.Instance, _ = os.Hostname()
		if o.Instance == "" {
			o.Instance = "facmon"
		}
	}
}

// historyConfig is Config adjusted to the history: device timestamps of
// any age are taken, and a device counts as silent only after three
// missed readings, so a history at one reading a minute does not flap
// where the live fleet at one every ten seconds would not.
func (o Options) historyConfig() config.Config {
	cfg := o.Config
	cfg.Ingest.MaxPast = config.Duration(time.Since(o.From) + 24*time.Hour)
	hb := map[string]config.Duration{}
	for k, v := range cfg.Liveness.Heartbeat {
		hb[k] = max(v, config.Duration(3*o.Interval))
	}
	// The apps are scraped less often than devices report.
	hb[scrape.ClassApp] = max(hb[scrape.ClassApp], config.Duration(3*o.ScrapeInterval))
	cfg.Liveness.Heartbeat = hb
	// A device_availability point every five minutes is enough for the
	// dashboards' mean(up) over a month, at a fifth of the points.
	cfg.Liveness.SampleInterval = max(cfg.Liveness.SampleInterval, config.Duration(5*time.Minute))
	return cfg
}

// reportProgress calls Progress every second until the returned stop.
func (o Options) reportProgress(done *atomic.Int64, total int64) func() {
	if o.Progress == nil || total == 0 {
		return func() {}
	}
	stop := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				o.Progress(float64(done.Load()) / float64(total))
				return
			case <-t.C:
				o.Progress(float64(done.Load()) / float64(total))
			}
		}
	})
	return func() {
		once.Do(func() { close(stop); wg.Wait() })
	}
}

// writeHeartbeats writes facmon_heartbeat every Heartbeat of the window,
// except while facmon was down.
func (o Options) writeHeartbeats(ctx context.Context, plan Plan, st *stats) error {
	w := newBatch(o.Writer, o.BatchPoints, st)
	for t := o.From; t.Before(o.To); t = t.Add(Heartbeat) {
		if plan.facmonDown(t) {
			continue
		}
		r := &reading.Reading{
			Measurement: "facmon_heartbeat",
			Extra:       []reading.Tag{{Key: "instance", Value: o.Instance}},
			Fields:      []reading.Field{{Key: "collecting", Kind: reading.Int, Int: 1}},
			Time:        t, Received: t,
		}
		if err := w.add(ctx, r); err != nil {
			return err
		}
	}
	return w.flush(ctx)
}

func (p Plan) facmonDown(t time.Time) bool {
	for _, s := range p.FacmonDown {
		if s.contains(t) {
			return true
		}
	}
	return false
}

// stats gathers the counts of every ward's run.
type stats struct {
	mu     sync.Mutex
	points map[string]int64
	alerts map[string]int
}

func (s *stats) add(byMeasurement map[string]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range byMeasurement {
		s.points[k] += v
	}
}

// batch encodes readings and writes them BatchPoints at a time.
type batch struct {
	w      Committer
	limit  int
	enc    *storage.Encoder
	n      int
	counts map[string]int64
	st     *stats
}

func newBatch(w Committer, limit int, st *stats) *batch {
	return &batch{w: w, limit: limit, enc: storage.NewEncoder(), counts: map[string]int64{}, st: st}
}

func (b *batch) add(ctx context.Context, r *reading.Reading) error {
	if err := b.enc.Append(r); err != nil {
		return fmt.Errorf("backfill: %s point of %s/%s: %w", r.Measurement, r.Ward, r.Device, err)
	}
	b.n++
	b.counts[r.Measurement]++
	if b.n >= b.limit {
		return b.flush(ctx)
	}
	return nil
}

func (b *batch) flush(ctx context.Context) error {
	if b.n == 0 {
		return nil
	}
	if err := b.w.Commit(ctx, b.enc.Bytes(), b.n); err != nil {
		return fmt.Errorf("backfill: write: %w", err)
	}
	b.enc.Reset(b.enc.Bytes())
	b.n = 0
	b.st.add(b.counts)
	clear(b.counts)
	return nil
}
