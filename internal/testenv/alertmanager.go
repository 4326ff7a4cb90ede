package testenv

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
)

// Alertmanager is a Prometheus Alertmanager (Debian's prometheus-alertmanager)
// started by StartAlertmanager on 127.0.0.1, alone (no HA cluster), with its own
// data directory.
type Alertmanager struct {
	URL         string // http://127.0.0.1:PORT, the API root (POST URL+"/api/v2/alerts")
	Port        int
	ReceiverURL string // where the generated configuration sends notifications

	Dir        string // config, log and data directory
	ConfigFile string
	LogFile    string
	DataDir    string // --storage.path: notification log and silences

	t      testing.TB
	p      *Process
	client *http.Client
}

// AlertmanagerOption configures StartAlertmanager.
type AlertmanagerOption func(*amConfig)

type amConfig struct {
	groupBy        []string
	groupWait      time.Duration
	groupInterval  time.Duration
	repeatInterval time.Duration
	resolveTimeout time.Duration
	raw            string
}

// WithAMGroupBy sets the route's group_by. The default, "...", groups by all
// labels: every alert is a group of its own and gets a notification of its own,
// which keeps assertions simple.
func WithAMGroupBy(labels ...string) AlertmanagerOption {
	return func(c *amConfig) { c.groupBy = labels }
}

// WithAMTimings sets the route's group_wait, group_interval and repeat_interval
// (defaults 0s, 1s and 1h: a new alert is sent at once, a change within about a
// second, and a still-firing alert is not sent again during a test).
func WithAMTimings(groupWait, groupInterval, repeatInterval time.Duration) AlertmanagerOption {
	return func(c *amConfig) {
		c.groupWait, c.groupInterval, c.repeatInterval = groupWait, groupInterval, repeatInterval
	}
}

// WithAMResolveTimeout sets global.resolve_timeout (default 5m): how long an
// alert posted without endsAt stays firing without being posted again.
func WithAMResolveTimeout(d time.Duration) AlertmanagerOption {
	return func(c *amConfig) { c.resolveTimeout = d }
}

// WithAMConfig replaces the generated alertmanager.yml by yml; the receiverURL
// given to StartAlertmanager is then only kept in Alertmanager.ReceiverURL.
func WithAMConfig(yml string) AlertmanagerOption {
	return func(c *amConfig) { c.raw = yml }
}

// alertmanagerBinary finds Debian's prometheus-alertmanager, or an upstream
// release's alertmanager.
func alertmanagerBinary(t testing.TB) string {
	t.Helper()
	if p, ok := findBinary("prometheus-alertmanager", nil); ok {
		return p
	}
	return requireBinary(t, "alertmanager", "alertmanager", nil)
}

// StartAlertmanager starts Alertmanager on a free loopback port, with clustering
// off (--cluster.listen-address=""), a private --storage.path and a generated
// configuration that routes every alert to one webhook receiver at receiverURL
// (send_resolved true; see the With* options for the timings), and returns once
// /-/ready answers. It is killed when the test ends.
func StartAlertmanager(t testing.TB, receiverURL string, opts ...AlertmanagerOption) *Alertmanager {
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
	am := &Alertmanager{
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
	am.p = &Process{name: "alertmanager", bin: bin, dir: dir, logPath: am.LogFile}
	am.p.RegisterCleanup(t)

	var err error
	for attempt := 0; attempt < 3; attempt++ {
		am.Port = FreePort(t)
		am.URL = "http://" + hostPort(am.Port)
		am.p.args = []string{
			"--config.file=" + am.ConfigFile,
			"--storage.path=" + am.DataDir,
			"--web.listen-address=" + hostPort(am.Port),
			// The URL Alertmanager puts in notifications (externalURL).
			"--web.external-url=" + am.URL,
			// Empty: no gossip listener on 0.0.0.0:9094, which parallel tests
			// (and a system Alertmanager) would fight over.
			"--cluster.listen-address=",
			"--log.level=debug",
		}
		if err = am.launch(); err == nil || !errors.Is(err, errAddrInUse) {
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

func (am *Alertmanager) launch() error {
	off := am.p.LogSize()
	if err := am.p.Start(); err != nil {
		return err
	}
	return am.p.WaitReady(30*time.Second, off, am.ready)
}

// ready: /-/ready answers 200, and /api/v2/status proves it is an Alertmanager
// (not whatever else grabbed the port) that loaded the configuration.
func (am *Alertmanager) ready() error {
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
func (am *Alertmanager) Stop() {
	am.t.Helper()
	if am.p.Stop(30 * time.Second) {
		am.t.Errorf("testenv: alertmanager did not exit within 30s of SIGTERM and was killed")
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (am *Alertmanager) Kill() { am.p.Kill() }

// Start restarts a stopped or killed Alertmanager on the same port, with the
// same configuration and data directory. It forgets the alerts it held (they
// live in memory only) but keeps the notification log that Stop saved.
func (am *Alertmanager) Start() {
	am.t.Helper()
	if err := am.launch(); err != nil {
		am.t.Fatalf("testenv: restarting alertmanager on port %d: %v", am.Port, err)
	}
}

// Running reports whether the Alertmanager process is alive.
func (am *Alertmanager) Running() bool {
	alive, _ := am.p.Running()
	return alive
}

// Log returns Alertmanager's log (all runs; debug level).
func (am *Alertmanager) Log() string { return am.p.Log() }

// AMAlert is an alert as GET /api/v2/alerts returns it (gettableAlert).
type AMAlert struct {
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
func (am *Alertmanager) Alerts(t testing.TB) []AMAlert {
	t.Helper()
	a, err := am.AlertsErr(context.Background())
	if err != nil {
		t.Fatalf("testenv: alertmanager alerts: %v", err)
	}
	return a
}

// AlertsErr is Alerts without testing, for use inside Eventually conditions.
func (am *Alertmanager) AlertsErr(ctx context.Context) ([]AMAlert, error) {
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
	var out []AMAlert
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
	bin := requireBinary(t, "amtool", "alertmanager", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
