package apps

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve serves the apps on ln until ctx ends.
func (a *Apps) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("simulated apps: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("simulated apps: %w", err)
	}
	return nil
}

// ListenAndServe serves the simulated one-stop apps of cfg on addr
// (host:port; port 0 picks a free one) until ctx ends or stop is called;
// stop waits for the server to end. base is the apps' URL, such as
// http://127.0.0.1:9310.
func ListenAndServe(ctx context.Context, addr string, cfg Config, log *slog.Logger) (base string, a *Apps, stop func(), err error) {
	a, err = New(cfg)
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
		if err := a.Serve(ctx, ln); err != nil {
			log.Error("simulated apps stopped", "err", err)
		}
	}()
	return "http://" + ln.Addr().String(), a, func() { cancel(); <-done }, nil
}
