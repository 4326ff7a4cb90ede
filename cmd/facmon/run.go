package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/backfill"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/demo"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/logging"
	"github.com/facmon/facmon/internal/service"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run [--config FILE | --demo] [override flags]", stdout)
	path := fs.String("config", "", "YAML configuration file (default: built-in defaults)")
	demoMode := fs.Bool("demo", false, "zero-setup demo: embedded MQTT broker and simulator of the 13 wards, InfluxDB at 127.0.0.1:8086 database facmon; on first start it also writes the last 30 days of simulated history")
	noBackfill := fs.Bool("no-backfill", false, "with --demo: do not write the 30 days of simulated history the demo writes into an empty database")
	var o config.Overrides
	addOverrideFlags(fs, &o)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, o)
	if err != nil {
		return usageError{err}
	}
	log := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	if *noBackfill && !*demoMode {
		return usagef("--no-backfill: only with --demo")
	}
	if !*demoMode {
		if procs, ok := serviceProcs(os.Getenv("GOMAXPROCS"), runtime.NumCPU()); ok {
			runtime.GOMAXPROCS(procs)
		}
		reg := service.NewRegistry()
		svc, err := service.New(cfg, log, reg)
		if err != nil {
			return err
		}
		if err := svc.Run(ctx); err != nil {
			return err
		}
		log.Info("facmon stopped")
		return nil
	}
	return runDemo(ctx, cfg, log, stdout, !*noBackfill)
}

// serviceProcs is how many CPUs the service's goroutines run on, unless
// GOMAXPROCS says otherwise: half the machine, at least one. facmon shares
// its host with the broker and the database, and its work is a chain of
// hand-offs between goroutines (paho's reader, router and writer, the
// batcher, the alert engine); spread over every core, each hand-off wakes
// a thread on another core, which cost 8-10% more CPU per reading on two
// cores than one thread did, with no gain in throughput (make bench).
func serviceProcs(env string, cpus int) (int, bool) {
	if env != "" {
		return 0, false
	}
	return max(1, cpus/2), true
}

// runDemo adds the embedded broker and the simulator around the service and
// stops them in order: the simulator says its devices go offline, facmon
// stores that, and only then does the broker close.
func runDemo(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer, history bool) error {
	// The weekly maintenance the backfilled history contains is planned:
	// the demo's report must count it so.
	cfg.Maintenance = append(cfg.Maintenance, backfill.DemoMaintenance())
	// The broker's own chatter about connections closing at shutdown is
	// noise in a demo; its errors still show.
	brokerLog := slog.New(levelFloor{log.Handler(), slog.LevelError}).With("component", "demo-broker")
	broker, err := demo.StartBroker(cfg.MQTT.URL, brokerLog)
	if err != nil {
		return err
	}
	defer broker.Close()
	cfg.MQTT.URL = broker.URL()
	// The apps outlive the service, so its last scrapes do not record them down.
	stopApps, err := startDemoApps(&cfg, log)
	if err != nil {
		return err
	}
	defer stopApps()

	svc, err := service.New(cfg, log, service.NewRegistry())
	if err != nil {
		return err
	}
	sim, err := newDemoSimulator(cfg, log)
	if err != nil {
		return err
	}
	simCtx, stopSim := context.WithCancel(ctx)
	defer stopSim()
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(simCtx) }()

	svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSvc()
	svcDone := make(chan error, 1)
	go func() { svcDone <- svc.Run(svcCtx) }()
	printDemoBanner(stdout, cfg, svc.WebAddr())
	backfillDone := make(chan struct{})
	if history {
		// Beside the live demo, so the pages answer at once; the report
		// fills in as the history lands.
		bctx, stopBackfill := context.WithCancel(ctx)
		defer func() { stopBackfill(); <-backfillDone }()
		go func() {
			defer close(backfillDone)
			if err := runBackfill(bctx, demoBackfill(cfg, time.Now()), stdout, log); err != nil && bctx.Err() == nil {
				log.Warn("demo history not written", "err", err)
			}
		}()
	} else {
		close(backfillDone)
	}

	select {
	case err := <-svcDone:
		stopSim()
		<-simDone
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-simDone:
		if err != nil {
			log.Warn("simulator", "err", err)
		}
	case <-time.After(10 * time.Second):
		log.Warn("simulator did not stop within 10 s")
	}
	// Give the collector a moment to take the simulator's last statuses.
	time.Sleep(500 * time.Millisecond)
	stopSvc()
	err = <-svcDone
	log.Info("facmon demo stopped")
	return err
}

// demoBackfill is the history `run --demo` writes on first start: the last
// 30 days of the demo's fleet, up to now.
func demoBackfill(cfg config.Config, now time.Time) backfillRequest {
	req := backfillRequest{duration: 30 * 24 * time.Hour, until: now, interval: time.Minute, devices: fleet.DefaultDevices(),
		seed: defaultBackfillSeed, cfg: cfg, ifNoHistory: true}
	for _, o := range cfg.Offices {
		req.wards = append(req.wards, fleet.Ward{ID: o.ID, Name: o.Name})
	}
	return req
}

// levelFloor raises the minimum level of a handler.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}

func (h levelFloor) WithGroup(n string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(n), h.min}
}

// printDemoBanner tells a new user where to look. Every line starting with
// "$ " is a command that works as printed on the machine `make run` set up
// (it installs mosquitto-clients and curl); a test runs each of them.
func printDemoBanner(w io.Writer, cfg config.Config, web string) {
	host, port := "127.0.0.1", "1883"
	if u, err := url.Parse(cfg.MQTT.URL); err == nil {
		if h := u.Hostname(); h != "" {
			host = h
		}
		if p := u.Port(); p != "" {
			port = p
		}
	}
	query := "SELECT count(*) FROM door WHERE time > now() - 10m GROUP BY ward"
	fmt.Fprintf(w, `
facmon demo: 13 simulated ward offices of Hải Châu are publishing telemetry.

  Status page     http://%[1]s/   (?lang=en for English)
  Uptime report   http://%[1]s/reports/uptime   (?lang=en, ?format=csv or xlsx)
  Active alerts   http://%[1]s/api/alerts
  Health          http://%[1]s/healthz
  Metrics         http://%[1]s/metrics
  MQTT broker     %[2]s (embedded)
  InfluxDB        %[3]s, database %[4]q

Try:
  $ mosquitto_sub -h %[5]s -p %[6]s -t 'facmon/#' -v -C 10
  $ curl -sG %[3]s/query --data-urlencode db=%[4]s --data-urlencode "q=%[7]s"
  $ curl -s http://%[1]s/api/alerts
  $ curl -s http://%[1]s/healthz

Ctrl-C stops it.

`, web, cfg.MQTT.URL, strings.TrimRight(cfg.Influx.URL, "/"), cfg.Influx.Bucket, host, port, query)
}
