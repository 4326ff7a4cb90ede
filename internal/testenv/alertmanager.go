package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// ---------------------------------------------------------------- receiver

// Receiver is a webhook receiver for Alertmanager's notifications (and for
// facmon's own webhook, whose payload has the same shape): an HTTP test server
// that decodes every POST and keeps it for assertions.
type Receiver struct {
	URL string

	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	notes  []Notification
	errs   []string
	status int
	notify chan struct{}
}

// Notification is one webhook request: Alertmanager's webhook payload
// (version "4"), or facmon's (version "1", alerts with an id).
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // firing or resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []ReceivedAlert   `json:"alerts"`

	// Set by the Receiver.
	Received time.Time   `json:"-"`
	Header   http.Header `json:"-"`
	Body     []byte      `json:"-"`
}

// ReceivedAlert is one alert of a Notification.
type ReceivedAlert struct {
	Status       string            `json:"status"` // firing or resolved
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"` // Alertmanager's
	ID           string            `json:"id"`          // facmon's webhook
}

// Matches reports whether the alert has status (any when "") and every label of
// labels.
func (a ReceivedAlert) Matches(status string, labels map[string]string) bool {
	if status != "" && a.Status != status {
		return false
	}
	for k, v := range labels {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

// WebhookReceiver starts a Receiver; it is closed when the test ends, and the
// test fails if a request could not be decoded.
func WebhookReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{t: t, status: http.StatusOK, notify: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(func() {
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.errs {
			t.Errorf("testenv: webhook receiver: %s", e)
		}
	})
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.Method != http.MethodPost {
		r.fail(fmt.Sprintf("%s %s: want POST", req.Method, req.URL.Path))
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		r.fail(fmt.Sprintf("undecodable notification (%v): %.500s", err, body))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.Received, n.Header, n.Body = time.Now(), req.Header.Clone(), body
	r.mu.Lock()
	status := r.status
	if status >= 200 && status < 300 {
		r.notes = append(r.notes, n)
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
}

func (r *Receiver) fail(msg string) {
	r.mu.Lock()
	r.errs = append(r.errs, msg)
	r.mu.Unlock()
}

// SetStatus makes the receiver answer every request with code from now on
// (200 at start). Requests answered with anything but 2xx are not recorded.
func (r *Receiver) SetStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

// Notifications returns the notifications received so far, oldest first.
func (r *Receiver) Notifications() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.notes...)
}

// Alerts returns every alert of every notification, in order of arrival.
func (r *Receiver) Alerts() []ReceivedAlert {
	return AlertsOf(r.Notifications())
}

// AlertsOf flattens the alerts of notifications.
func AlertsOf(ns []Notification) []ReceivedAlert {
	var out []ReceivedAlert
	for _, n := range ns {
		out = append(out, n.Alerts...)
	}
	return out
}

// Count returns how many received alerts match status and labels (see
// ReceivedAlert.Matches).
func (r *Receiver) Count(status string, labels map[string]string) int {
	return CountAlerts(r.Notifications(), status, labels)
}

// CountAlerts counts the alerts of notifications that match status and labels.
func CountAlerts(ns []Notification, status string, labels map[string]string) int {
	n := 0
	for _, a := range AlertsOf(ns) {
		if a.Matches(status, labels) {
			n++
		}
	}
	return n
}

// Reset forgets the notifications received so far.
func (r *Receiver) Reset() {
	r.mu.Lock()
	r.notes = nil
	r.mu.Unlock()
}

// WaitFor waits until cond, given every notification received so far, reports
// true, and returns those notifications. It fails the test after timeout,
// listing what did arrive.
func (r *Receiver) WaitFor(t testing.TB, timeout time.Duration, cond func([]Notification) bool) []Notification {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		ns := r.Notifications()
		if cond(ns) {
			return ns
		}
		select {
		case <-r.notify:
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("testenv: webhook receiver: condition not met after %v; received:\n%s", timeout, Describe(r.Notifications()))
			return nil
		}
	}
}

// Describe lists notifications one alert a line, for failure messages.
func Describe(ns []Notification) string {
	if len(ns) == 0 {
		return "  (nothing)"
	}
	var b strings.Builder
	for i, n := range ns {
		fmt.Fprintf(&b, "  #%d %s %s (%d alerts) at %s\n", i+1, n.Receiver, n.Status, len(n.Alerts), n.Received.Format("15:04:05.000"))
		for _, a := range n.Alerts {
			keys := make([]string, 0, len(a.Labels))
			for k := range a.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for j, k := range keys {
				parts[j] = k + "=" + strconv.Quote(a.Labels[k])
			}
			fmt.Fprintf(&b, "      %s {%s}\n", a.Status, strings.Join(parts, ", "))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
