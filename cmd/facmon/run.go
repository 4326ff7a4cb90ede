package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/demo"
	"github.com/facmon/facmon/internal/service"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", "run [--config FILE | --demo] [override flags]", stdout)
	path := fs.String("config", "", "YAML configuration file (default: built-in defaults)")
	demoMode := fs.Bool("demo", false, "zero-setup demo: embedded MQTT broker and simulator of the 13 wards, InfluxDB at 127.0.0.1:8086 database facmon")
	var o config.Overrides
	addOverrideFlags(fs, &o)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, o)
	if err != nil {
		return usageError{err}
	}
	log := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	simErr := make(chan error, 1)
	if *demoMode {
		broker, err := demo.StartBroker(cfg.MQTT.URL, log.With("component", "demo-broker"))
		if err != nil {
			return err
		}
		defer broker.Close()
		cfg.MQTT.URL = broker.URL()
		sim, err := newDemoSimulator(cfg, log.With("component", "simulator"))
		if err != nil {
			return err
		}
		go func() { simErr <- sim.Run(ctx) }()
	}

	reg := service.NewRegistry()
	svc, err := service.New(cfg, log, reg)
	if err != nil {
		return err
	}
	if *demoMode {
		printDemoBanner(stdout, cfg, svc.WebAddr())
	}
	go func() {
		if err := <-simErr; err != nil && ctx.Err() == nil {
			log.Error("simulator stopped", "err", err)
		}
	}()
	if err := svc.Run(ctx); err != nil {
		return err
	}
	log.Info("facmon stopped")
	return nil
}

func printDemoBanner(w io.Writer, cfg config.Config, web string) {
	fmt.Fprintf(w, `
facmon demo: 13 simulated ward offices of Hải Châu are publishing telemetry.

  MQTT broker (embedded)  %s     e.g. mosquitto_sub -h 127.0.0.1 -p PORT -t 'facmon/#' -v
  InfluxDB                %s  database %q
                          e.g. influx -database facmon -execute 'SELECT count(*) FROM door'
  Health                  http://%s/healthz
  Metrics                 http://%s/metrics

Ctrl-C stops it.

`, cfg.MQTT.URL, cfg.Influx.URL, cfg.Influx.Bucket, web, web)
}

var _ = slog.Default
