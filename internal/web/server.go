// Package web is facmon's HTTP server: /healthz from the components'
// health checks, /metrics, and the routes other packages register (the
// status page, the uptime report, the alert API), with the limits that
// keep a slow or hostile client from holding it (timeouts, header and body
// caps on every route).
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Limits bound what one client can hold of the server: a connection that
// sends slowly, or sits idle, or a request that is too large.
type Limits struct {
	// ReadHeaderTimeout: time to send the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout: time to send the whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout: time from the end of the request headers to the end
	// of the response, on every route but those added with HandleLong.
	WriteTimeout time.Duration
	// LongWriteTimeout replaces WriteTimeout (and ReadTimeout, once the
	// body is read) on the HandleLong routes: an uptime report may take
	// minutes to make and a large XLSX long to send.
	LongWriteTimeout time.Duration
	// IdleTimeout: how long a keep-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers (431 beyond).
	MaxHeaderBytes int
	// MaxBodyBytes caps a request body on every route (413 beyond).
	MaxBodyBytes int64
}

// DefaultLimits suit the status page (refreshed every 15 s over one
// keep-alive connection), the API (small JSON bodies) and the report
// download.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		LongWriteTimeout:  10 * time.Minute,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxBodyBytes:      64 << 10,
	}
}

// withDefaults fills the zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	set(&l.ReadTimeout, d.ReadTimeout)
	set(&l.WriteTimeout, d.WriteTimeout)
	set(&l.LongWriteTimeout, d.LongWriteTimeout)
	set(&l.IdleTimeout, d.IdleTimeout)
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	return l
}

// Server is the HTTP server.
type Server struct {
	mux    *http.ServeMux
	srv    *http.Server
	log    *slog.Logger
	checks []Check
	limits Limits
}

// New builds the server; gatherer is the registry passed around the
// program. Zero fields of limits take DefaultLimits.
func New(listen string, limits Limits, gatherer prometheus.Gatherer, checks []Check, log *slog.Logger) *Server {
	limits = limits.withDefaults()
	s := &Server{mux: http.NewServeMux(), log: log, checks: checks, limits: limits}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.srv = &http.Server{
		Addr:              listen,
		Handler:           s.capBody(s.mux),
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// capBody refuses a body declared larger than MaxBodyBytes before any
// handler runs, and caps the reading of one of unknown length: a handler
// whose read fails with *http.MaxBytesError answers 413 (TooLarge).
func (s *Server) capBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.limits.MaxBodyBytes {
			// The rest of the body is not worth reading.
			w.Header().Set("Connection", "close")
			TooLarge(w, r, s.limits.MaxBodyBytes)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.limits.MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// TooLarge answers 413 naming the limit, as JSON under /api/ and as text
// elsewhere.
func TooLarge(w http.ResponseWriter, r *http.Request, limit int64) {
	msg := fmt.Sprintf("request body too large: at most %d bytes", limit)
	w.Header().Set("Cache-Control", "no-store")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	http.Error(w, msg, http.StatusRequestEntityTooLarge)
}

// HandleLong adds a route that may take LongWriteTimeout to answer, such
// as a report download. Its body is read first, under the ordinary read
// timeout, so the longer deadline never serves a slow sender.
func (s *Server) HandleLong(pattern string, h http.Handler) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				TooLarge(w, r, tooLarge.Limit)
				return
			}
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		deadline := time.Now().Add(s.limits.LongWriteTimeout)
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(deadline); err != nil {
			s.log.Warn("web: cannot extend the write deadline", "path", r.URL.Path, "err", err)
		}
		// The read deadline too: HTTP/1 keeps a read pending while the
		// handler runs, and its timing out would cancel the request.
		if err := rc.SetReadDeadline(deadline); err != nil {
			s.log.Warn("web: cannot extend the read deadline", "path", r.URL.Path, "err", err)
		}
		h.ServeHTTP(w, r)
	}))
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
