package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/apps"
)

// startDemoApps serves the simulated one-stop apps of cfg's offices on a
// free loopback port and adds a scrape target for each to cfg, so that
// `run --demo` scrapes them. Call it before service.New, and stop after the
// service stopped: apps that vanish first would be scraped as down.
func startDemoApps(cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	ac := apps.Config{Seed: time.Now().UnixNano()}
	for _, o := range cfg.Offices {
		ac.Wards = append(ac.Wards, fleet.Ward{ID: o.ID, Name: o.Name})
	}
	base, oneStop, stop, err := apps.ListenAndServe(context.Background(), "127.0.0.1:0", ac, log.With("component", "demo-apps"))
	if err != nil {
		return nil, err
	}
	cfg.Scrape = append(cfg.Scrape, oneStop.Targets(base)...)
	log.Info("simulated one-stop apps serving", "url", base, "wards", len(ac.Wards))
	return stop, nil
}

// addAppsFlag registers simulate's --apps-listen.
func addAppsFlag(fs *flag.FlagSet) *string {
	return fs.String("apps-listen", "", "also serve the simulated wards' one-stop apps (Prometheus /wards/WARD/metrics) at this address, e.g. 127.0.0.1:9310; app-down and queue-stuck faults apply to them")
}

// runSimulatedApps serves, for `facmon simulate --apps-listen`, the apps of
// the simulated wards with the run's seed and faults.
func runSimulatedApps(ctx context.Context, addr string, sc simulator.Config, log *slog.Logger, stdout io.Writer) (stop func(), err error) {
	base, _, stop, err := apps.ListenAndServe(ctx, addr, apps.Config{
		Wards: sc.Wards, Location: sc.Location, Seed: sc.Seed, Now: sc.Now, Faults: sc.Faults,
	}, log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "serving the simulated one-stop apps of %d wards at %s/wards/WARD/metrics\n", len(sc.Wards), base)
	return stop, nil
}
