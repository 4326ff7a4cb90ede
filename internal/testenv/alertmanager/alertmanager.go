// Package alertmanager runs Debian's Prometheus Alertmanager for tests (Start, on a
// free loopback port, clustering off, with a generated configuration) and the webhook
// Receiver that stands in for the on-call technicians' notification endpoint, so
// tests assert what Alertmanager really delivered, not what facmon posted.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/testenv"
)

// Server is a Prometheus Alertmanager (Debian's prometheus-alertmanager)
// started by Start on 127.0.0.1, alone (no HA cluster), with its own
// data directory.
type Server struct {
	URL         string // http://127.0.0.1:PORT, the API root (POST URL+"/api/v2/alerts")
	Port        int
	ReceiverURL string // where the generated configuration sends notifications

	Dir        string // config, log and data directory
	ConfigFile string
	LogFile    string
	DataDir    string // --storage.path: notification log and silences

	t      testing.TB
	p      *testenv.Process
	client *http.Client
}

// Option configures Start.
type Option func(*amConfig)

type amConfig struct {
	groupBy        []string
	groupWait      time.Duration
	groupInterval  time.Duration
	repeatInterval time.Duration
	resolveTimeout time.Duration
	raw            string
}

// WithGroupBy sets the route's group_by. The default, "...", groups by all
// labels: every alert is a group of its own and gets a notification of its own,
// which keeps assertions simple.
func WithGroupBy(labels ...string) Option {
	return func(c *amConfig) { c.groupBy = labels }
}

// WithTimings sets the route's group_wait, group_interval and repeat_interval
// (defaults 0s, 1s and 1h: a new alert is sent at once, a change within about a
// second, and a still-firing alert is not sent again during a test).
func WithTimings(groupWait, groupInterval, repeatInterval time.Duration) Option {
	return func(c *amConfig) {
		c.groupWait, c.groupInterval, c.repeatInterval = groupWait, groupInterval, repeatInterval
	}
}

// WithResolveTimeout sets global.resolve_timeout (default 5m): how long an
// alert posted without endsAt stays firing without being posted again.
func WithResolveTimeout(d time.Duration) Option {
	return func(c *amConfig) { c.resolveTimeout = d }
}

// WithConfig replaces the generated alertmanager.yml by yml; the receiverURL
// given to Start is then only kept in Server.ReceiverURL.
func WithConfig(yml string) Option {
	return func(c *amConfig) { c.raw = yml }
}

// alertmanagerBinary finds Debian's prometheus-alertmanager, or an upstream
// release's alertmanager.
func alertmanagerBinary(t testing.TB) string {
	t.Helper()
	if p, ok := testenv.FindBinary("prometheus-alertmanager", nil); ok {
		return p
	}
	return testenv.RequireBinary(t, "alertmanager", "alertmanager", nil)
}

// Start starts Alertmanager on a free loopback port, with clustering
// off (--cluster.listen-address=""), a private --storage.path and a generated
// configuration that routes every alert to one webhook receiver at receiverURL
// (send_resolved true; see the With* options for the timings), and returns once
// /-/ready answers. It is killed when the test ends.
func Start(t testing.TB, receiverURL string, opts ...Option) *Server {
	t.Helper()
	cfg := amConfig{
		groupBy:        []string{"..."},
		groupInterval:  time.Second,
		repeatInterval: time.Hour,
		resolveTimeout: 5 * time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	am := &Server{
		t:           t,
		ReceiverURL: receiverURL,
		Dir:         dir,
		ConfigFile:  filepath.Join(dir, "alertmanager.yml"),
		LogFile:     filepath.Join(dir, "alertmanager.log"),
		DataDir:     filepath.Join(dir, "data"),
		client:      &http.Client{Timeout: 10 * time.Second},
	}
	if err := os.MkdirAll(am.DataDir, 0o755); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	conf := cfg.raw
	if conf == "" {
		conf = amConfigYAML(&cfg, receiverURL)
	}
	if err := os.WriteFile(am.ConfigFile, []byte(conf), 0o600); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	am.p = testenv.NewProcess("alertmanager", bin, nil, dir, am.LogFile)
	am.p.RegisterCleanup(t)

	var err error
	for attempt := 0; attempt < 3; attempt++ {
		am.Port = testenv.FreePort(t)
		am.URL = "http://" + testenv.HostPort(am.Port)
		am.p.SetArgs([]string{
			"--config.file=" + am.ConfigFile,
			"--storage.path=" + am.DataDir,
			"--web.listen-address=" + testenv.HostPort(am.Port),
			// The URL Alertmanager puts in notifications (externalURL).
			"--web.external-url=" + am.URL,
			// Empty: no gossip listener on 0.0.0.0:9094, which parallel tests
			// (and a system Alertmanager) would fight over.
			"--cluster.listen-address=",
			"--log.level=debug",
		})
		if err = am.launch(); err == nil || !errors.Is(err, testenv.ErrAddrInUse) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return am
}

// amConfigYAML renders the generated alertmanager.yml (JSON is YAML).
func amConfigYAML(c *amConfig, receiverURL string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	groupBy := make([]string, len(c.groupBy))
	for i, l := range c.groupBy {
		groupBy[i] = q(l)
	}
	return fmt.Sprintf(`# generated by facmon internal/testenv
global:
  resolve_timeout: %s
route:
  receiver: test
  group_by: [%s]
  group_wait: %s
  group_interval: %s
  repeat_interval: %s
receivers:
  - name: test
    webhook_configs:
      - url: %s
        send_resolved: true
`, promDuration(c.resolveTimeout), strings.Join(groupBy, ", "), promDuration(c.groupWait),
		promDuration(c.groupInterval), promDuration(c.repeatInterval), q(receiverURL))
}

// promDuration writes d in Prometheus' duration format (ms, s, m, h; no
// fractions, no "1h0m0s").
func promDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	default:
		return strconv.FormatInt(max(1, int64(d/time.Millisecond)), 10) + "ms"
	}
}

func (am *Server) launch() error {
	off := am.p.LogSize()
	if err := am.p.Start(); err != nil {
		return err
	}
	return am.p.WaitReady(30*time.Second, off, am.ready)
}

// ready: /-/ready answers 200, and /api/v2/status proves it is an Alertmanager
// (not whatever else grabbed the port) that loaded the configuration.
func (am *Server) ready() error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(am.URL + "/-/ready")
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /-/ready: %s", resp.Status)
	}
	resp, err = c.Get(am.URL + "/api/v2/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var st struct {
		VersionInfo map[string]any `json:"versionInfo"`
		Config      struct {
			Original string `json:"original"`
		} `json:"config"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || st.VersionInfo == nil {
		return fmt.Errorf("GET /api/v2/status: %s, not an Alertmanager status (%v)", resp.Status, err)
	}
	if st.Config.Original == "" {
		return errors.New("GET /api/v2/status: no configuration loaded yet")
	}
	return nil
}

// Stop sends SIGTERM and waits for Alertmanager to exit; it writes its
// notification log and silences to the data directory on the way out. One that
// needs more than 30 s is killed and the test marked failed.
func (am *Server) Stop() {
	am.t.Helper()
	if am.p.Stop(30 * time.Second) {
		am.t.Errorf("testenv: alertmanager did not exit within 30s of SIGTERM and was killed")
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (am *Server) Kill() { am.p.Kill() }

// Start restarts a stopped or killed Alertmanager on the same port, with the
// same configuration and data directory. It forgets the alerts it held (they
// live in memory only) but keeps the notification log that Stop saved.
func (am *Server) Start() {
	am.t.Helper()
	if err := am.launch(); err != nil {
		am.t.Fatalf("testenv: restarting alertmanager on port %d: %v", am.Port, err)
	}
}

// Running reports whether the Alertmanager process is alive.
func (am *Server) Running() bool {
	alive, _ := am.p.Running()
	return alive
}

// Log returns Alertmanager's log (all runs; debug level).
func (am *Server) Log() string { return am.p.Log() }

// Alert is an alert as GET /api/v2/alerts returns it (gettableAlert).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State       string   `json:"state"` // active, suppressed, unprocessed
		SilencedBy  []string `json:"silencedBy"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager holds and has not resolved, failing the
// test on any error.
func (am *Server) Alerts(t testing.TB) []Alert {
	t.Helper()
	a, err := am.AlertsErr(context.Background())
	if err != nil {
		t.Fatalf("testenv: alertmanager alerts: %v", err)
	}
	return a
}

// AlertsErr is Alerts without testing, for use inside Eventually conditions.
func (am *Server) AlertsErr(ctx context.Context) ([]Alert, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, am.URL+"/api/v2/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := am.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v2/alerts: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var out []Alert
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /api/v2/alerts: %v", err)
	}
	return out, nil
}

// Amtool runs Debian's amtool (installed with prometheus-alertmanager) with args
// and returns its combined output; err is set when it exits non-zero. The test
// fails when amtool is not installed.
func Amtool(t testing.TB, args ...string) (string, error) {
	t.Helper()
	bin := testenv.RequireBinary(t, "amtool", "alertmanager", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
