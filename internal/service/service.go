// Package service wires facmon's parts into the running service of
// `facmon run`: collectors feed readings to storage, the web server
// exposes health and metrics.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/web"
)

// Service is one running facmon.
type Service struct {
	cfg       config.Config
	log       *slog.Logger
	influx    *storage.Influx
	batcher   *storage.Batcher
	collector *mqtt.Collector
	web       *web.Server
	ln        net.Listener
}

// NewRegistry returns the registry passed around the program, with the Go
// runtime and process collectors every operator expects.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// New builds the service and binds its web port; nothing connects yet.
func New(cfg config.Config, log *slog.Logger, reg *prometheus.Registry) (*Service, error) {
	token := os.Getenv("FACMON_INFLUX_TOKEN")
	if cfg.Influx.TokenFile != "" {
		t, err := config.ReadSecret(cfg.Influx.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("influx.token_file: %w", err)
		}
		token = t
	}
	s := &Service{cfg: cfg, log: log}
	s.influx = storage.NewInflux(storage.InfluxOptions{
		URL:              cfg.Influx.URL,
		Bucket:           cfg.Influx.Bucket,
		Org:              cfg.Influx.Org,
		Token:            token,
		Timeout:          cfg.Influx.Timeout.D(),
		MaxRetryInterval: cfg.Influx.MaxRetryInterval.D(),
		CreateDatabase:   cfg.Influx.CreateDatabase,
	}, nil, log.With("component", "influx"), reg)
	s.batcher = storage.NewBatcher(storage.BatchOptions{
		MaxPoints: cfg.Influx.BatchSize,
		// Half the inflight window, so one half fills while the other commits.
		AckWindow:    max(1, cfg.MQTT.MaxInflight/2),
		Linger:       cfg.Influx.FlushInterval.D(),
		DrainTimeout: cfg.Influx.Timeout.D(),
	}, s.influx, log.With("component", "batcher"), reg)
	var err error
	s.collector, err = mqtt.New(cfg, s.batcher, log, reg)
	if err != nil {
		return nil, err
	}
	s.web = web.New(cfg.Web.Listen, reg, []web.Check{
		{Name: "mqtt", Probe: func(context.Context) error { return s.collector.Health() }},
		{Name: "influxdb", Probe: s.influx.Ping},
	}, log.With("component", "web"))
	s.ln, err = s.web.Listen()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// WebAddr is the bound address of the web server.
func (s *Service) WebAddr() string { return s.ln.Addr().String() }

// Web lets later features add routes.
func (s *Service) Web() *web.Server { return s.web }

// Run runs until ctx ends or a part fails. On the way out the collector
// stops first, then storage commits what it holds, so nothing read is left
// unacked for long.
func (s *Service) Run(ctx context.Context) error {
	defer s.influx.Close()
	g, gctx := errgroup.WithContext(ctx)
	storageCtx, stopStorage := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStorage()
	storageDone := make(chan error, 1)
	go func() { storageDone <- s.batcher.Run(storageCtx) }()
	g.Go(func() error { return s.web.Serve(gctx, s.ln) })
	g.Go(func() error { return s.collector.Run(gctx) })
	s.log.Info("facmon running", "web", "http://"+s.WebAddr(), "mqtt", s.cfg.MQTT.URL, "influx", s.cfg.Influx.URL, "bucket", s.cfg.Influx.Bucket)
	err := g.Wait()
	stopStorage()
	if serr := <-storageDone; serr != nil && !errors.Is(serr, context.Canceled) {
		s.log.Warn("storage stopped with readings uncommitted", "err", serr)
	}
	return err
}
