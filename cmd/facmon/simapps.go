package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/simulator"
)

// serveSimulatedApps serves simulated one-stop apps on addr until ctx ends
// or stop is called; stop waits for the server to end.
func serveSimulatedApps(ctx context.Context, addr string, ac simulator.AppsConfig, log *slog.Logger) (base string, apps *simulator.Apps, stop func(), err error) {
	apps, err = simulator.NewApps(ac)
	if err != nil {
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, nil, fmt.Errorf("simulated apps: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := apps.Serve(ctx, ln); err != nil {
			log.Error("simulated apps stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), apps, func() { cancel(); <-done }, nil
}

// startDemoApps serves the simulated one-stop apps of cfg's offices on a
// free loopback port and adds a scrape target for each to cfg, so that
// `run --demo` scrapes them. Call it before service.New, and stop after the
// service stopped: apps that vanish first would be scraped as down.
func startDemoApps(cfg *config.Config, log *slog.Logger) (stop func(), err error) {
	ac := simulator.AppsConfig{Seed: time.Now().UnixNano()}
	for _, o := range cfg.Offices {
		ac.Wards = append(ac.Wards, simulator.Ward{ID: o.ID, Name: o.Name})
	}
	base, apps, stop, err := serveSimulatedApps(context.Background(), "127.0.0.1:0", ac, log.With("component", "demo-apps"))
	if err != nil {
		return nil, err
	}
	cfg.Scrape = append(cfg.Scrape, apps.Targets(base)...)
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
	base, _, stop, err := serveSimulatedApps(ctx, addr, simulator.AppsConfig{
		Wards: sc.Wards, Location: sc.Location, Seed: sc.Seed, Now: sc.Now, Faults: sc.Faults,
	}, log)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "serving the simulated one-stop apps of %d wards at %s/wards/WARD/metrics\n", len(sc.Wards), base)
	return stop, nil
}
