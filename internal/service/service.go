// Package service assembles `facmon run` from its components and runs them
// as a group: the MQTT and scrape collectors hand every reading to the
// fan-out, which feeds storage (batcher, disk spool, InfluxDB; the ack
// waits for the spool), the liveness tracker and the alert engine; the
// engine's notifications go to the dispatcher and Alertmanager silences;
// the web server serves health, metrics, the status page, the uptime
// report and the alert API. facmon's own points (heartbeats, liveness
// transitions, availability samples, alert events) go through storage
// like readings.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/facmon/facmon/alerts/notify/dispatch"
	"github.com/facmon/facmon/alerts/notify/silence"

	"github.com/facmon/facmon/alerts/engine/store"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	alertsapi "github.com/facmon/facmon/alerts/api"
	"github.com/facmon/facmon/alerts/engine"
	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/collectors/mqtt"
	appscrape "github.com/facmon/facmon/collectors/scrape"
	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/config/options"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/spool"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/web"
	"github.com/facmon/facmon/internal/web/status"
	"github.com/facmon/facmon/reports/uptime"
)

// Service is one running facmon.
type Service struct {
	cfg        config.Config
	log        *slog.Logger
	influx     *storage.Influx
	quarantine *storage.Quarantine
	spool      *spool.Spool
	batcher    *storage.Batcher
	collector  *mqtt.Collector
	scraper    *appscrape.Collector
	web        *web.Server
	ln         net.Listener
	internal   map[string]prometheus.Counter
	liveness   *liveness.Tracker
	alerts     *engine.Engine
	dispatcher *dispatch.Dispatcher
	silencer   *silence.Silencer // nil without Alertmanager
	sink       *fanout
	// points takes facmon's own points of a ward: the batcher, or in a
	// shared group the gate that lets the ward's owner alone write them.
	points     pointSink
	group      *group // nil for a lone instance
	seedQuery  liveness.Querier
	seedErrors prometheus.Counter
}

// pipelineState tells pipeline alert rules how facmon itself is doing.
type pipelineState struct{ s *Service }

func (p pipelineState) BrokerConnected() bool         { return p.s.collector.Connected() }
func (p pipelineState) SpoolOldestAge() time.Duration { return p.s.spool.Stats().OldestAge }
func (p pipelineState) DeviceLimit() (time.Time, int) { return p.s.collector.DeviceLimit() }

// NewRegistry returns the registry passed around the program, with the Go
// runtime and process collectors every operator expects.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// InfluxToken reads the InfluxDB token from its file, or from
// FACMON_INFLUX_TOKEN when no file is configured.
func InfluxToken(cfg config.Config) (string, error) {
	return influxToken("influx.token_file", cfg.Influx.TokenFile)
}

// InfluxReadToken is the token facmon queries with: influx.read_token_file,
// or the writing one.
func InfluxReadToken(cfg config.Config) (string, error) {
	if cfg.Influx.ReadTokenFile != "" {
		return influxToken("influx.read_token_file", cfg.Influx.ReadTokenFile)
	}
	return InfluxToken(cfg)
}

func influxToken(key, file string) (string, error) {
	if file == "" {
		return os.Getenv("FACMON_INFLUX_TOKEN"), nil
	}
	t, err := clientauth.ReadSecret(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return t, nil
}

// NewInflux builds the InfluxDB writer of a configuration.
func NewInflux(cfg config.Config, poison storage.PoisonHandler, log *slog.Logger, reg prometheus.Registerer) (*storage.Influx, error) {
	token, err := InfluxToken(cfg)
	if err != nil {
		return nil, err
	}
	return storage.NewInflux(storage.InfluxOptions{
		URL:              cfg.Influx.URL,
		Bucket:           cfg.Influx.Bucket,
		Org:              cfg.Influx.Org,
		Token:            token,
		Timeout:          cfg.Influx.Timeout.D(),
		MaxRetryInterval: cfg.Influx.MaxRetryInterval.D(),
		CreateDatabase:   cfg.Influx.CreateDatabase,
	}, poison, log.With("component", "influx"), reg), nil
}

// QuarantinePath is where refused points are kept.
func QuarantinePath(cfg config.Config) string { return filepath.Join(cfg.Spool.Dir, "quarantine.lp") }

// New builds the service, opens the spool and binds the web port; nothing
// connects yet.
func New(cfg config.Config, log *slog.Logger, reg *prometheus.Registry) (_ *Service, err error) {
	s := &Service{cfg: cfg, log: log, quarantine: storage.NewQuarantine(QuarantinePath(cfg))}
	// One way out on error: whatever was opened is closed.
	defer func() {
		if err != nil {
			s.closeOpened()
		}
	}()
	s.influx, err = NewInflux(cfg, s.quarantine, log, reg)
	if err != nil {
		return nil, err
	}
	sopts := spool.DefaultOptions()
	sopts.MaxBytes = int64(cfg.Spool.MaxBytes)
	sopts.MaxDrainPoints = cfg.Influx.BatchSize
	sopts.Linger = cfg.Influx.FlushInterval.D()
	s.spool, err = spool.Open(filepath.Join(cfg.Spool.Dir), sopts, log.With("component", "spool"), reg)
	if err != nil {
		return nil, err
	}
	s.batcher = storage.NewBatcher(storage.BatchOptions{
		// The broker may send more than max_inflight (Mosquitto refills its
		// window as acks arrive), so the batcher is what bounds the
		// readings held unacknowledged.
		MaxPoints: min(cfg.Influx.BatchSize, cfg.MQTT.MaxInflight),
		// What the README promises: at most mqtt.max_inflight readings
		// pending, the committing batch and the accumulating one together.
		MaxPending: cfg.MQTT.MaxInflight,
		// Half the inflight window, so one half fills while the other is
		// fsynced and acked.
		AckWindow:    max(1, cfg.MQTT.MaxInflight/2),
		Linger:       cfg.Spool.CommitInterval.D(),
		DrainTimeout: cfg.Spool.ShutdownDrain.D(),
	}, s.spool, log.With("component", "batcher"), reg)
	// facmon's own points (heartbeats, availability samples, alert
	// events) go through the pipeline like readings and are counted as
	// received, so received = rejected + written + quarantined + pending
	// holds over every source. Each is counted once the batcher took it:
	// one still waiting for room is in neither count.
	s.internal = map[string]prometheus.Counter{}
	for _, src := range []string{"heartbeat", "availability", "liveness", "alert_event"} {
		s.internal[src] = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_readings_received_total", Help: "Readings received, by source (mqtt messages, facmon heartbeats).",
			ConstLabels: prometheus.Labels{"source": src},
		})
		reg.MustRegister(s.internal[src])
	}
	s.seedErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "facmon_liveness_seed_errors_total",
		Help: "Failed attempts at start-up to read the devices' last readings and liveness transitions from InfluxDB (retried until one succeeds).",
	})
	reg.MustRegister(s.seedErrors)
	if s.seedQuery, err = s.newSeedQuerier(); err != nil {
		return nil, err
	}
	s.points = storagePoints{s.batcher}
	if s.group, err = newGroup(cfg, s.batcher, log, reg); err != nil {
		return nil, err
	} else if s.group != nil {
		s.points = s.group.gate
	}
	if err = s.newAlerts(cfg, log, reg); err != nil {
		return nil, err
	}
	scraped, err := s.fanOut(cfg, log, reg)
	if err != nil {
		return nil, err
	}
	s.collector, err = mqtt.New(options.MQTT(cfg), s.sink, log, reg)
	if err != nil {
		return nil, err
	}
	s.scraper, err = appscrape.New(options.Scrape(cfg), scraped, log, reg)
	if err != nil {
		return nil, err
	}
	checks := []web.Check{
		{Name: "mqtt", Probe: func(context.Context) error { return s.collector.Health() }},
		{Name: "influxdb", Probe: s.influx.Ping},
		{Name: "spool", Probe: func(context.Context) error { return s.spool.Health() }},
	}
	if s.group != nil {
		checks = append(checks, web.Check{Name: "cluster", Probe: s.group.health})
	}
	s.web = web.New(cfg.Web.Listen, cfg.Web.Limits(), reg, checks, log.With("component", "web"))
	token := ""
	if cfg.Alerts.APITokenFile != "" {
		if token, err = clientauth.ReadSecret(cfg.Alerts.APITokenFile); err != nil {
			return nil, fmt.Errorf("alerts.api_token_file: %w", err)
		}
	}
	alertsapi.New(s.alerts, token).Register(s.web)
	page := status.New(statusSource{s}, status.Options{ReportPath: "/reports/uptime", AlertsPath: "/api/alerts"})
	s.web.Handle("GET /{$}", page)
	s.web.Handle("GET /api/status", page.API())
	uo, err := options.Uptime(cfg)
	if err != nil {
		return nil, err
	}
	gen, err := uptime.New(uo)
	if err != nil {
		return nil, err
	}
	s.web.HandleLong("GET /reports/uptime", gen.Handler(log.With("component", "reports")))
	s.ln, err = s.web.Listen()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// closeOpened closes what New opened, for a New that failed part of the
// way.
func (s *Service) closeOpened() {
	if s.ln != nil {
		s.ln.Close()
	}
	if s.spool != nil {
		s.spool.Close()
	}
	if s.influx != nil {
		s.influx.Close()
	}
}

// newAlerts builds the liveness tracker, the notifiers and the engine.
func (s *Service) newAlerts(cfg config.Config, log *slog.Logger, reg *prometheus.Registry) error {
	rules, err := cfg.CompileRules()
	if err != nil {
		return err
	}
	cals, err := cfg.OfficeCalendars()
	if err != nil {
		return err
	}
	sched, err := cfg.MaintenanceSchedule()
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, o := range cfg.Offices {
		names[o.ID] = o.Name
	}
	now := time.Now()
	s.liveness = liveness.New(cfg.Liveness.HeartbeatOf, now)
	notifiers, err := notify.NewNotifiers(cfg.Alerts.Notifiers, log.With("component", "notify"))
	if err != nil {
		return fmt.Errorf("alerts.notifiers: %w", err)
	}
	s.dispatcher = dispatch.New(notifiers, dispatch.FromConfig(cfg.Alerts.Notifiers), log.With("component", "notify"), reg)
	alertStore, err := store.Open(cfg.AlertStateDir())
	if err != nil {
		return err
	}
	// An acknowledgement silences its alert in Alertmanager; the silence's
	// id comes back to the engine, which shows it with the alert.
	var silencer engine.Silencer
	for _, n := range notifiers {
		if am, ok := n.(*notify.Alertmanager); ok {
			s.silencer, err = silence.New(am, silence.Options{
				StateFile: filepath.Join(cfg.AlertStateDir(), "silences.json"),
				RetryMax:  cfg.Alerts.Notifiers.MaxRetryInterval.D(),
				OnChange:  func(alertID, silenceID string) { s.alerts.SetSilence(alertID, silenceID) },
			}, log.With("component", "notify"), reg)
			if err != nil {
				return err
			}
			silencer = s.silencer
		}
	}
	external := cfg.Alerts.ExternalURL
	if external == "" {
		external = "http://" + cfg.Web.Listen
	}
	s.alerts, err = engine.New(engine.Options{
		Rules:        rules,
		Calendars:    cals,
		WardNames:    names,
		Maintenance:  sched,
		Liveness:     s.liveness,
		Notifier:     s.dispatcher,
		Silencer:     silencer,
		Events:       countingSink{s.points, s.internal["alert_event"]},
		Pipeline:     pipelineState{s},
		Store:        alertStore,
		FlapCount:    cfg.Alerts.FlapCount,
		FlapWindow:   cfg.Alerts.FlapWindow.D(),
		GeneratorURL: external,
		Log:          log,
		Registerer:   reg,
	})
	return err
}

// sampleAvailability writes one device_availability point per device
// every liveness.sample_interval, so dashboards compute availability as
// mean(up), and the liveness transitions (device_liveness) every few
// seconds, which the uptime reports read.
//
// Both tick on the wall clock's multiples of their period, so the
// instances of a shared group make the same points at the same instants.
func (s *Service) sampleAvailability(ctx context.Context) {
	samples := newAlignedTicker(s.cfg.Liveness.SampleInterval.D())
	defer samples.Stop()
	changes := newAlignedTicker(5 * time.Second)
	defer changes.Stop()
	deliver := func(source string, at time.Time, rs []*reading.Reading) {
		n, err := s.points.DeliverTick(at, rs)
		s.internal[source].Add(float64(n))
		if err != nil {
			s.log.Warn("liveness points not recorded", "source", source, "missing", len(rs)-n, "last_err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-samples.C:
			at := now.Truncate(s.cfg.Liveness.SampleInterval.D())
			deliver("availability", at, s.liveness.Samples(at))
		case now := <-changes.C:
			at := now.Truncate(5 * time.Second)
			deliver("liveness", at, s.liveness.Changes(now))
		}
	}
}

// HeartbeatInterval is how often facmon records that it is collecting.
const HeartbeatInterval = 30 * time.Second

type noAck struct{}

func (noAck) Ack() {}

// heartbeat writes facmon_heartbeat points while the service runs, so the
// reports can tell "the device was down" from "facmon was not listening":
// a gap in these points, or collecting=0, is time of unknown state.
func (s *Service) heartbeat(ctx context.Context) {
	host, _ := os.Hostname()
	if host == "" {
		host = "facmon"
	}
	beat := func() {
		collecting := int64(0)
		if s.collector.Connected() {
			collecting = 1
		}
		now := time.Now()
		r := &reading.Reading{
			Measurement: "facmon_heartbeat",
			Extra:       []reading.Tag{{Key: "instance", Value: host}},
			Fields:      []reading.Field{{Key: "collecting", Kind: reading.Int, Int: collecting}},
			Time:        now, Received: now,
		}
		if err := s.batcher.Deliver(r, noAck{}); err != nil {
			s.log.Warn("heartbeat not recorded", "err", err)
			return
		}
		s.internal["heartbeat"].Inc()
	}
	t := time.NewTicker(HeartbeatInterval)
	defer t.Stop()
	// A first beat once the broker answers, so the reports' "unknown"
	// time after a start is as short as the connection takes.
	for i := 0; i < 100 && !s.collector.Connected(); i++ {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	beat()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			beat()
		}
	}
}

// WebAddr is the bound address of the web server.
func (s *Service) WebAddr() string { return s.ln.Addr().String() }

// component is one part of the running service: it runs until its
// context ends, and an error from one stops them all.
type component struct {
	name string
	run  func(context.Context) error
}

// components are the parts Run starts beside the storage pipeline. The
// liveness seed comes first, so the seeds are in before the tracker's
// first heartbeat ends whenever InfluxDB answers; it never holds up the
// rest.
func (s *Service) components() []component {
	cs := []component{
		{"liveness seed", func(ctx context.Context) error { s.seedLiveness(ctx, s.seedQuery, s.seedErrors); return nil }},
		{"web", func(ctx context.Context) error { return s.web.Serve(ctx, s.ln) }},
		{"mqtt collector", s.collector.Run},
		{"scrape collector", s.scraper.Run},
		{"heartbeat", func(ctx context.Context) error { s.heartbeat(ctx); return nil }},
		{"availability", func(ctx context.Context) error { s.sampleAvailability(ctx); return nil }},
		{"notifications", s.dispatcher.Run},
		{"alerts", func(ctx context.Context) error { return s.alerts.Run(ctx, s.cfg.Alerts.EvalInterval.D()) }},
	}
	if s.group != nil {
		cs = append(cs, s.group.components()...)
	}
	if s.silencer != nil {
		cs = append(cs, component{"silences", s.silencer.Run})
	}
	return cs
}

// Run runs until ctx ends or a part fails. On the way out: the collector
// stops taking messages and acks what it took once it is in the spool;
// then the spool is sent to InfluxDB for at most spool.shutdown_drain; what
// is left waits on disk for the next start.
func (s *Service) Run(ctx context.Context) error {
	defer s.influx.Close()
	defer s.spool.Close()

	bgCtx, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBg()
	batcherDone := make(chan error, 1)
	go func() { batcherDone <- s.batcher.Run(bgCtx) }()
	drainCtx, stopDrain := context.WithCancel(bgCtx)
	defer stopDrain()
	drainDone := make(chan error, 1)
	go func() { drainDone <- s.spool.Drain(drainCtx, s.influx) }()

	g, gctx := errgroup.WithContext(ctx)
	stopRelease := context.AfterFunc(gctx, s.batcher.Release)
	defer stopRelease()
	for _, c := range s.components() {
		g.Go(func() error {
			if err := c.run(gctx); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			return nil
		})
	}
	s.log.Info("facmon running", "web", "http://"+s.WebAddr(), "mqtt", s.cfg.MQTT.URL, "influx", s.cfg.Influx.URL, "bucket", s.cfg.Influx.Bucket, "spool", s.cfg.Spool.Dir)
	err := g.Wait()

	stopBg()
	if berr := <-batcherDone; berr != nil && !errors.Is(berr, context.Canceled) {
		s.log.Warn("shutdown: readings left unacknowledged; the broker will deliver them again", "err", berr)
	}
	<-drainDone
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.Spool.ShutdownDrain.D())
	defer cancel()
	if derr := s.spool.DrainUntilEmpty(dctx, s.influx); derr != nil {
		st := s.spool.Stats()
		s.log.Warn("shutdown: spool not fully sent to InfluxDB; the rest is sent on the next start", "readings", st.Readings, "err", derr)
	}
	return err
}
