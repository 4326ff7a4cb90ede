package apps

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
)

// Simulated service apps
//
// Every simulated ward also runs the office's one-stop app (queue ticket kiosk and dossier
// reception), whose Prometheus metrics Apps serves, for all wards, from one HTTP listener at
// /wards/<ward>/metrics. Each ward has its own client_golang registry; nothing is global.
//
//   - onestop_tickets_issued_total (counter): a ticket per citizen who comes in.
//   - onestop_queue_length (gauge): citizens waiting. Citizens arrive faster than the counters
//     serve them at 08:00–10:30 and 14:00–16:00, so the queue grows then and shrinks after;
//     when the office is closed (the same hours as the devices' model) it is empty: whoever
//     still waits at closing time comes back another day.
//   - onestop_wait_seconds (histogram): how long each citizen served had waited, about the
//     queue ahead of them divided by the service rate (Little's law).
//   - onestop_dossiers_received_total, onestop_dossiers_processed_total (counters): about two
//     in three citizens file a dossier at the counter; the back office works through them in
//     office hours.
//   - onestop_dossiers_overdue (gauge): dossiers past their due date, a few, changing daily.
//
// The model advances in fixed 10-second steps from the start, with a random stream per
// ward derived from the seed, so what a scrape shows depends only on the seed, the start
// time and the time of the scrape, not on how often it is scraped.
//
// Faults (KIND@WARD, timed from New like the fleet's from Run): app-down makes the
// ward's endpoint answer 503, as an app that crashed behind its reverse proxy; the kiosk
// keeps counting meanwhile. queue-stuck freezes the kiosk: the queue length stays where it
// was (at least 30), no ticket is issued and nobody is served, while the back office keeps
// processing dossiers; when the fault ends the queue moves again.

// Name is the app id of the simulated one-stop app: the device tag of its points.
const Name = "onestop"

// Metric names of the simulated app.
const (
	MetricTicketsIssued     = "onestop_tickets_issued_total"
	MetricQueueLength       = "onestop_queue_length"
	MetricWaitSeconds       = "onestop_wait_seconds"
	MetricDossiersReceived  = "onestop_dossiers_received_total"
	MetricDossiersProcessed = "onestop_dossiers_processed_total"
	MetricDossiersOverdue   = "onestop_dossiers_overdue"
)

// Config configures the simulated apps. Zero fields take the fleet's defaults.
type Config struct {
	Wards    []fleet.Ward   // nil: fleet.DefaultWards()
	App      string         // "": Name
	Location *time.Location // nil: Asia/Ho_Chi_Minh
	Seed     int64
	// Now is read once, by New: the simulated clock then advances with the monotonic
	// clock, as the fleet's does. nil: time.Now.
	Now func() time.Time
	// Clock, when set, is read on every scrape instead, so a test can drive time; it must
	// not go backwards. The start of the simulation (and of the faults) is its first value.
	Clock func() time.Time
	// Faults of kinds app-down and queue-stuck apply; others are ignored, so the list given
	// to New can be passed as it is.
	Faults []simulator.Fault
}

// Apps serves the simulated one-stop apps of every ward.
type Apps struct {
	cfg   Config
	start time.Time
	mono  time.Time
	wards map[string]*wardApp
	mux   *http.ServeMux
}

// appStep is the integration step of the app model.
const appStep = 10 * time.Second

// Rates of the queue model, per minute, for the busiest office (scaled by the ward's share).
const (
	peakArrivals    = 1.0  // 08:00–10:30 and 14:00–16:00
	offPeakArrivals = 0.3  // the rest of the opening hours
	serviceRate     = 0.9  // the counters together
	dossierShare    = 0.65 // of the citizens served, those who file a dossier
	backOfficeRate  = 0.45 // dossiers processed per minute of office hours
	stuckQueueMin   = 30   // the least a stuck kiosk shows
)

// waitBuckets are the histogram's bounds, in seconds: a minute to an hour and a half.
var waitBuckets = []float64{60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400}

type wardApp struct {
	ward   string
	busy   float64
	faults []simulator.Fault
	reg    *prometheus.Registry
	http   http.Handler

	tickets, received, processed prometheus.Counter
	queueG, overdueG             prometheus.Gauge
	wait                         prometheus.Histogram

	mu         sync.Mutex
	rng        *rand.Rand
	at         time.Time // the model has been advanced to here
	queue      int
	backlog    int
	stuck      bool
	stuckQueue int
	// Mirrors of the counters, for Snapshot.
	nTickets, nReceived, nProcessed, nWait float64
	waitSum                                float64
}

// New validates cfg and returns the apps, ready to Serve.
func New(cfg Config) (*Apps, error) {
	d := simulator.DefaultConfig()
	if cfg.Wards == nil {
		cfg.Wards = d.Wards
	}
	if cfg.App == "" {
		cfg.App = Name
	}
	if cfg.Location == nil {
		cfg.Location = d.Location
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Wards = slices.Clone(cfg.Wards)
	cfg.Faults = slices.Clone(cfg.Faults)
	var errs []error
	if !fleet.IsSlug(cfg.App) {
		errs = append(errs, fmt.Errorf("app %q: must be an ASCII slug (a-z, 0-9, '-')", cfg.App))
	}
	errs = append(errs, fleet.ValidateWards(cfg.Wards)...)
	wards := simulator.Config{Wards: cfg.Wards}
	for i, f := range cfg.Faults {
		if !f.Kind.App() {
			continue
		}
		if err := f.Check(wards); err != nil {
			errs = append(errs, fmt.Errorf("fault %d (%s): %w", i+1, f, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	a := &Apps{cfg: cfg, mono: time.Now(), wards: map[string]*wardApp{}, mux: http.NewServeMux()}
	if cfg.Clock != nil {
		a.start = cfg.Clock()
	} else {
		a.start = cfg.Now()
	}
	for _, w := range cfg.Wards {
		a.wards[w.ID] = a.newWardApp(w.ID)
	}
	a.mux.HandleFunc("GET /wards/{ward}/metrics", a.serveMetrics)
	a.mux.HandleFunc("GET /{$}", a.serveIndex)
	return a, nil
}

func (a *Apps) newWardApp(ward string) *wardApp {
	seed := a.cfg.Seed
	w := &wardApp{
		ward: ward,
		// The same share of the city's busiest office as the ward's devices get.
		busy: 0.7 + 0.3*fleet.HashUnit(seed, "busy:"+ward, 0),
		reg:  prometheus.NewRegistry(),
		rng:  rand.New(rand.NewPCG(uint64(seed), fleet.Hash64(seed, "app:"+ward, 0))),
		at:   a.start,
		tickets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricTicketsIssued, Help: "Queue tickets issued by the kiosk.",
		}),
		queueG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricQueueLength, Help: "Citizens waiting to be served.",
		}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricWaitSeconds, Help: "How long each citizen served had waited, in seconds.", Buckets: waitBuckets,
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricDossiersReceived, Help: "Dossiers received at the counters.",
		}),
		processed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricDossiersProcessed, Help: "Dossiers the back office has processed.",
		}),
		overdueG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: MetricDossiersOverdue, Help: "Dossiers past their due date.",
		}),
	}
	for _, f := range a.cfg.Faults {
		if f.Kind.App() && f.Ward == ward {
			w.faults = append(w.faults, f)
		}
	}
	w.reg.MustRegister(w.tickets, w.queueG, w.wait, w.received, w.processed, w.overdueG)
	w.http = promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})

	// The app has been running for months: counters start where such an app would be.
	w.nTickets = float64(20000 + w.rng.IntN(80000))
	w.nReceived = math.Floor(w.nTickets * dossierShare)
	w.backlog = 20 + w.rng.IntN(60)
	w.nProcessed = w.nReceived - float64(w.backlog)
	w.tickets.Add(w.nTickets)
	w.received.Add(w.nReceived)
	w.processed.Add(w.nProcessed)
	if fleet.OfficeOpen(a.start, a.cfg.Location) {
		w.queue = int(math.Round(8 * w.busy * arrivalShape(a.start, a.cfg.Location) / peakArrivals))
	}
	w.queueG.Set(float64(w.queue))
	w.overdueG.Set(overdue(seed, ward, a.start, a.cfg.Location))
	return w
}

// now is the simulated time.
func (a *Apps) now() time.Time {
	if a.cfg.Clock != nil {
		return a.cfg.Clock()
	}
	return a.start.Add(time.Since(a.mono))
}

// arrivalShape is citizens arriving per minute at the busiest office on a weekday, before
// the day's and the ward's factors.
func arrivalShape(t time.Time, loc *time.Location) float64 {
	if !fleet.OfficeOpen(t, loc) {
		return 0
	}
	m := fleet.MinuteOfDay(t.In(loc))
	if (m >= 8*60 && m < 10*60+30) || (m >= 14*60 && m < 16*60) {
		return peakArrivals
	}
	return offPeakArrivals
}

// dayFactor: Monday gathers what piled up over the weekend, Friday afternoon and
// Saturday morning are quieter.
func dayFactor(t time.Time, loc *time.Location) float64 {
	t = t.In(loc)
	switch t.Weekday() {
	case time.Monday:
		return 1.1
	case time.Friday:
		if t.Hour() >= 12 {
			return 0.8
		}
	case time.Saturday:
		return 0.7
	}
	return 1
}

// overdue is the day's number of overdue dossiers: a few, different every day.
func overdue(seed int64, ward string, t time.Time, loc *time.Location) float64 {
	y, m, d := t.In(loc).Date()
	return math.Floor(6 * fleet.HashUnit(seed, "overdue:"+ward, y*10000+int(m)*100+d))
}

func (w *wardApp) faultAt(kind simulator.FaultKind, start, t time.Time) bool {
	for _, f := range w.faults {
		if f.Kind == kind && f.ActiveAt(start, t) {
			return true
		}
	}
	return false
}

// advance integrates the model up to t, one step at a time. Faults begin and end on the
// steps' grid, so the state at t does not depend on when the app was scraped before.
// Callers hold w.mu.
func (w *wardApp) advance(a *Apps, t time.Time) {
	for !w.at.Add(appStep).After(t) {
		w.syncFaults(a, w.at)
		w.step(a, w.at)
		w.at = w.at.Add(appStep)
	}
	w.syncFaults(a, w.at)
}

// syncFaults enters or leaves queue-stuck at the grid point g.
func (w *wardApp) syncFaults(a *Apps, g time.Time) {
	switch stuck := w.faultAt(simulator.FaultQueueStuck, a.start, g); {
	case stuck && !w.stuck:
		w.stuck, w.stuckQueue = true, max(w.queue, stuckQueueMin)
		w.queueG.Set(float64(w.stuckQueue))
	case !stuck && w.stuck:
		w.stuck = false
		w.queueG.Set(float64(w.queue))
	}
}

// step integrates [from, from+appStep).
func (w *wardApp) step(a *Apps, from time.Time) {
	loc := a.cfg.Location
	mid := from.Add(appStep / 2)
	minutes := appStep.Minutes()
	open := fleet.OfficeOpen(mid, loc)
	w.overdueG.Set(overdue(a.cfg.Seed, w.ward, mid, loc))
	if open && w.backlog > 0 {
		k := min(w.backlog, int(fleet.Poisson(w.rng, backOfficeRate*w.busy*minutes)))
		w.backlog -= k
		w.nProcessed += float64(k)
		w.processed.Add(float64(k))
	}
	if w.stuck {
		return // the kiosk is frozen: no tickets, nobody called
	}
	if !open {
		w.queue = 0
		w.queueG.Set(0)
		return
	}
	lambda := arrivalShape(mid, loc) * dayFactor(mid, loc) * w.busy
	mu := serviceRate * w.busy
	arrivals := int(fleet.Poisson(w.rng, lambda*minutes))
	w.queue += arrivals
	w.nTickets += float64(arrivals)
	w.tickets.Add(float64(arrivals))
	served := min(w.queue, int(fleet.Poisson(w.rng, mu*minutes)))
	for i := range served {
		// Little's law: the citizen called now waited about as long as the queue ahead
		// of them took to serve, give or take.
		ahead := float64(w.queue - served + i)
		wait := (ahead/mu*(0.75+0.5*w.rng.Float64()) + 0.5 + w.rng.Float64()) * 60
		w.wait.Observe(wait)
		w.nWait++
		w.waitSum += wait
		if w.rng.Float64() < dossierShare {
			w.backlog++
			w.nReceived++
			w.received.Inc()
		}
	}
	w.queue -= served
	w.queueG.Set(float64(w.queue))
}

// Handler serves /wards/<ward>/metrics for every ward, and an index at /.
func (a *Apps) Handler() http.Handler { return a.mux }

func (a *Apps) serveMetrics(rw http.ResponseWriter, r *http.Request) {
	w, ok := a.wards[r.PathValue("ward")]
	if !ok {
		http.NotFound(rw, r)
		return
	}
	now := a.now()
	if w.faultAt(simulator.FaultAppDown, a.start, now) {
		http.Error(rw, "one-stop app unavailable (simulated app-down fault)", http.StatusServiceUnavailable)
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(a, now)
	w.http.ServeHTTP(rw, r)
}

func (a *Apps) serveIndex(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var b strings.Builder
	fmt.Fprintf(&b, "Simulated %s apps of %d wards:\n", a.cfg.App, len(a.cfg.Wards))
	for _, w := range a.cfg.Wards {
		fmt.Fprintf(&b, "  /wards/%s/metrics  %s\n", w.ID, w.Name)
	}
	_, _ = rw.Write([]byte(b.String()))
}

// Targets returns one scrape target per ward for the apps served at baseURL (such as
// "http://127.0.0.1:9310"), with the default interval and timeout.
func (a *Apps) Targets(baseURL string) []config.ScrapeTarget {
	base := strings.TrimRight(baseURL, "/")
	out := make([]config.ScrapeTarget, len(a.cfg.Wards))
	for i, w := range a.cfg.Wards {
		out[i] = config.ScrapeTarget{URL: base + "/wards/" + w.ID + "/metrics", Ward: w.ID, App: a.cfg.App}
	}
	return out
}

// Start is the simulated time the apps started at; faults count from it.
func (a *Apps) Start() time.Time { return a.start }

// AppSnapshot is one ward's app at a moment, as its metrics would show it.
type AppSnapshot struct {
	Ward               string
	Down               bool // app-down: the endpoint answers 503
	Stuck              bool // queue-stuck
	TicketsIssued      float64
	QueueLength        float64
	WaitCount, WaitSum float64
	DossiersReceived   float64
	DossiersProcessed  float64
	DossiersOverdue    float64
	SimulatedTime      time.Time
}

// Snapshot advances a ward's app to now and returns what its metrics show.
func (a *Apps) Snapshot(ward string) (AppSnapshot, error) {
	w, ok := a.wards[ward]
	if !ok {
		return AppSnapshot{}, fmt.Errorf("unknown ward %q", ward)
	}
	now := a.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.advance(a, now)
	q := float64(w.queue)
	if w.stuck {
		q = float64(w.stuckQueue)
	}
	return AppSnapshot{
		Ward: ward, Down: w.faultAt(simulator.FaultAppDown, a.start, now), Stuck: w.stuck,
		TicketsIssued: w.nTickets, QueueLength: q, WaitCount: w.nWait, WaitSum: w.waitSum,
		DossiersReceived: w.nReceived, DossiersProcessed: w.nProcessed,
		DossiersOverdue: overdue(a.cfg.Seed, ward, now, a.cfg.Location), SimulatedTime: now,
	}, nil
}

// FaultEvents returns the app faults that have begun by now, in simulated time, in the
// order they started; End is zero while a fault lasts.
func (a *Apps) FaultEvents() []simulator.FaultEvent {
	now := a.now()
	var out []simulator.FaultEvent
	for _, f := range a.cfg.Faults {
		if !f.Kind.App() {
			continue
		}
		from, to := f.Window(a.start)
		if now.Before(from) {
			continue
		}
		ev := simulator.FaultEvent{Kind: f.Kind, Ward: f.Ward, Start: from}
		if !to.IsZero() && !now.Before(to) {
			ev.End = to
		}
		out = append(out, ev)
	}
	slices.SortStableFunc(out, func(x, y simulator.FaultEvent) int { return x.Start.Compare(y.Start) })
	return out
}
