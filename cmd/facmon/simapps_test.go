package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/apps"
)

func simAppsGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDemoAppsAreScrapeTargets(t *testing.T) {
	cfg := config.Default()
	stop, err := startDemoApps(&cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer stop()
	require.Len(t, cfg.Scrape, len(cfg.Offices))
	require.NoError(t, cfg.Validate())
	for i, o := range cfg.Offices {
		assert.Equal(t, o.ID, cfg.Scrape[i].Ward)
		assert.Equal(t, apps.Name, cfg.Scrape[i].App)
	}
	code, body := simAppsGet(t, cfg.Scrape[len(cfg.Scrape)-1].URL)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, apps.MetricQueueLength)
}

func TestSimulateAppsFlag(t *testing.T) {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	listen := addAppsFlag(fs)
	require.NoError(t, fs.Parse([]string{"--apps-listen", "127.0.0.1:0"}))
	sc := simulator.DefaultConfig()
	sc.Wards = sc.Wards[:2]
	f, err := simulator.ParseFault("app-down@thuan-phuoc")
	require.NoError(t, err)
	sc.Faults = []simulator.Fault{f}
	var out bytes.Buffer
	stop, err := runSimulatedApps(context.Background(), *listen, sc, slog.New(slog.DiscardHandler), &out)
	require.NoError(t, err)
	defer stop()
	line := strings.TrimSpace(out.String())
	require.True(t, strings.HasPrefix(line, "serving the simulated one-stop apps of 2 wards at http://127.0.0.1:"), line)
	base := strings.TrimSuffix(strings.Fields(line)[len(strings.Fields(line))-1], "/wards/WARD/metrics")
	code, _ := simAppsGet(t, base+"/wards/thanh-binh/metrics")
	assert.Equal(t, http.StatusOK, code)
	code, _ = simAppsGet(t, base+"/wards/thuan-phuoc/metrics")
	assert.Equal(t, http.StatusServiceUnavailable, code)

	_, err = runSimulatedApps(context.Background(), "not-an-address", sc, slog.New(slog.DiscardHandler), &out)
	assert.Error(t, err)
}
