// Package web serves facmon's HTTP endpoints: /healthz and /metrics now,
// the status page, reports and alert API as they arrive.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one dependency /healthz asks about; nil means healthy.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// Server is the HTTP server.
type Server struct {
	mux    *http.ServeMux
	srv    *http.Server
	log    *slog.Logger
	checks []Check
}

// New builds the server; gatherer is the registry passed around the program.
func New(listen string, gatherer prometheus.Gatherer, checks []Check, log *slog.Logger) *Server {
	s := &Server{mux: http.NewServeMux(), log: log, checks: checks}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.srv = &http.Server{
		Addr:              listen,
		Handler:           s.mux,
		ReadHeaderTimeout: 5 * time.Second,
	}
	return s
}

// Handle lets other packages add routes before Serve.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc adds a route function before Serve.
func (s *Server) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request)) {
	s.mux.HandleFunc(pattern, h)
}

// Handler exposes the routes for tests.
func (s *Server) Handler() http.Handler { return s.mux }

// healthz answers 200 only when every dependency answers, and says which
// one is down otherwise, so a load balancer and a person read the same page.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	type result struct {
		name string
		err  error
	}
	results := make(chan result, len(s.checks))
	for _, c := range s.checks {
		go func() { results <- result{c.Name, c.Probe(ctx)} }()
	}
	status := map[string]error{}
	for range s.checks {
		res := <-results
		status[res.name] = res.err
	}
	var b strings.Builder
	healthy := true
	for _, c := range s.checks {
		if err := status[c.Name]; err != nil {
			healthy = false
			fmt.Fprintf(&b, "%s: down: %v\n", c.Name, err)
		} else {
			fmt.Fprintf(&b, "%s: ok\n", c.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if !healthy {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	fmt.Fprint(w, b.String())
}

// Listen binds the address now, so a taken port fails start-up clearly.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("web: listen on %s: %w", s.srv.Addr, err)
	}
	return ln, nil
}

// Serve serves on ln until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("web: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return s.srv.Shutdown(sctx)
	}
}
