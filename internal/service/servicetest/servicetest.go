// Package servicetest runs facmon in-process for the integration tests of
// the packages that sit on top of it (dashboards, reports). The service
// package's own tests cannot import it, so they keep their own helper.
package servicetest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/logging"
	"github.com/facmon/facmon/internal/service"
	"github.com/facmon/facmon/internal/testenv"
)

// Logger logs warnings and errors into the test's output.
func Logger(t testing.TB) *slog.Logger {
	return logging.New(t.Output(), "warn", "text")
}

// Start runs facmon with cfg until the test ends and returns its web
// address once /healthz answers 200. The test fails if facmon's Run ends
// with an error or does not stop within 30 s of the test's end.
func Start(t testing.TB, cfg config.Config, log *slog.Logger) (web string) {
	t.Helper()
	svc, err := service.New(cfg, log, service.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("facmon: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("facmon did not stop within 30 s")
		}
	})
	web = "http://" + svc.WebAddr()
	testenv.Eventually(t, 20*time.Second, "facmon healthy", func() (bool, string) {
		resp, err := http.Get(web + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK, string(b)
	})
	return web
}
