// Package influxdb runs the InfluxDB OSS 1.8.3 that facmon stores into, for tests:
// Start on free loopback ports with a private data directory, stop, kill and restart
// it keeping its data, and write, query and count through its HTTP API so tests check
// what was really stored.
package influxdb

import (
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/testenv"
)

// influxdVersion is the InfluxDB OSS release facmon tests against (DESIGN.md).
const influxdVersion = "v1.8.3"

// Server is an InfluxDB OSS 1.8.3 server started by Start, with
// authentication off and Flux enabled (unless WithoutFlux).
type Server struct {
	URL        string // http://127.0.0.1:PORT
	Port       int    // HTTP API
	RPCPort    int    // backup/restore RPC (the top-level bind-address)
	Dir        string // config, log, meta, data and wal directories
	ConfigFile string
	LogFile    string

	t      testing.TB
	p      *testenv.Process
	client *http.Client
}

// Series is one series of an InfluxQL result. Numbers in Values are json.Number
// (the time column with epoch=ns does not fit a float64 exactly); use AsInt64 and
// AsFloat64, or Series.Value.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Column returns the index of the named column, or -1.
func (s Series) Column(name string) int {
	for i, c := range s.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// Value returns the value of column col in row, or nil when either does not exist.
func (s Series) Value(row int, col string) any {
	i := s.Column(col)
	if i < 0 || row < 0 || row >= len(s.Values) || i >= len(s.Values[row]) {
		return nil
	}
	return s.Values[row][i]
}

// AsInt64 converts a value of a Series (json.Number) to int64.
func AsInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case int64:
		return n, true
	case float64:
		return int64(n), float64(int64(n)) == n
	}
	return 0, false
}

// AsFloat64 converts a value of a Series (json.Number) to float64. InfluxDB writes a
// float field holding a whole number without a decimal point, so a float field can
// look like an integer in JSON: AsFloat64 accepts both.
func AsFloat64(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// isInfluxd183 tells whether the binary at path is InfluxDB 1.8.3. A go-installed
// influxd prints "InfluxDB vunknown (git: unknown unknown)", so the module version
// embedded by the Go linker is checked first; a release build is asked.
func isInfluxd183(path string) bool {
	if bi, err := buildinfo.ReadFile(path); err == nil {
		if bi.Main.Path == "github.com/influxdata/influxdb" && bi.Main.Version == influxdVersion {
			return true
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/influxdata/influxdb" && d.Version == influxdVersion {
				return true
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "version").Output()
	return err == nil && strings.Contains(string(out), "InfluxDB "+influxdVersion+" ")
}

// Option configures Start.
type Option func(*influxConfig)

type influxConfig struct {
	noFlux bool
}

// WithoutFlux starts influxd with flux-enabled = false. Initialising Flux's
// standard library takes influxd 1.8.3 about 3-4 s of CPU on every start (on a
// 2-core machine; without Flux it is ready in milliseconds), so tests that only
// write (/write, /api/v2/write — both work without Flux) and run InfluxQL, and
// especially tests that restart the server, should use it.
func WithoutFlux() Option {
	return func(c *influxConfig) { c.noFlux = true }
}

// Start starts influxd 1.8.3 on free loopback ports with a private data
// directory and returns once GET /ping answers 204. It is killed when the test ends.
// Flux is enabled unless WithoutFlux is given.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var cfg influxConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin, ok := testenv.FindBinary("influxd", isInfluxd183)
	if !ok {
		t.Fatalf("testenv: influxd %s not installed: run scripts/deps.sh influxd", influxdVersion)
	}
	dir := t.TempDir()
	i := &Server{
		t:          t,
		Dir:        dir,
		ConfigFile: filepath.Join(dir, "influxd.conf"),
		LogFile:    filepath.Join(dir, "influxd.log"),
		client:     &http.Client{Timeout: 60 * time.Second},
	}
	i.p = testenv.NewProcess("influxd", bin, []string{"run", "-config", i.ConfigFile}, dir, i.LogFile)
	i.p.RegisterCleanup(t)

	var err error
	for attempt := 0; attempt < 3; attempt++ {
		i.Port, i.RPCPort = testenv.FreePort(t), testenv.FreePort(t)
		i.URL = "http://" + testenv.HostPort(i.Port)
		if err = os.WriteFile(i.ConfigFile, []byte(i.config(&cfg)), 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if err = i.launch(); err == nil || !errors.Is(err, testenv.ErrAddrInUse) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return i
}

// config renders influxd.conf (TOML; see `influxd config` for every key).
func (i *Server) config(c *influxConfig) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) } // TOML basic string
	return fmt.Sprintf(`# generated by facmon internal/testenv
reporting-disabled = true
# The backup/restore RPC listener defaults to 127.0.0.1:8088: a fixed port would
# collide between parallel tests.
bind-address = %s

[meta]
  dir = %s
  logging-enabled = false

[data]
  dir = %s
  wal-dir = %s
  query-log-enabled = false

[http]
  enabled = true
  bind-address = %s
  auth-enabled = false
  # /api/v2/query (Flux); /api/v2/write, which facmon's writer uses, works either way.
  flux-enabled = %t
  log-enabled = false

[monitor]
  # No _internal database: tests see only the databases they create.
  store-enabled = false

[logging]
  level = "warn"
`, q(testenv.HostPort(i.RPCPort)), q(filepath.Join(i.Dir, "meta")), q(filepath.Join(i.Dir, "data")),
		q(filepath.Join(i.Dir, "wal")), q(testenv.HostPort(i.Port)), !c.noFlux)
}

func (i *Server) launch() error {
	off := i.p.LogSize()
	if err := i.p.Start(); err != nil {
		return err
	}
	// Flux's start-up (see WithoutFlux) and the WAL replay after a restart take a few
	// seconds; 30 s leaves room for a loaded machine.
	return i.p.WaitReady(30*time.Second, off, i.ping)
}

func (i *Server) ping() error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(i.URL + "/ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("GET /ping: %s", resp.Status)
	}
	// Any HTTP server answers; this header proves it is an influxd.
	if resp.Header.Get("X-Influxdb-Version") == "" {
		return errors.New("GET /ping: no X-Influxdb-Version header: not an influxd")
	}
	return nil
}

// Pid is influxd's process id (0 when stopped), for benchmarks that
// account for its CPU.
func (i *Server) Pid() int { return i.p.Pid() }

// Stop sends SIGTERM and waits for influxd to close its shards and exit. One that
// needs more than 30 s is killed and the test marked failed.
func (i *Server) Stop() {
	i.t.Helper()
	if i.p.Stop(30 * time.Second) {
		i.t.Errorf("testenv: influxd did not exit within 30s of SIGTERM and was killed")
	}
}

// Kill sends SIGKILL and waits until the process is gone. Writes that were
// answered 204 are in the WAL and come back on Start.
func (i *Server) Kill() { i.p.Kill() }

// Start restarts a stopped or killed influxd on the same ports and data directory.
func (i *Server) Start() {
	i.t.Helper()
	if err := i.launch(); err != nil {
		i.t.Fatalf("testenv: restarting influxd on port %d: %v", i.Port, err)
	}
}

// Running reports whether the influxd process is alive.
func (i *Server) Running() bool {
	alive, _ := i.p.Running()
	return alive
}

// Log returns influxd's stdout and stderr (all runs).
func (i *Server) Log() string { return i.p.Log() }

// Exec runs an InfluxQL statement that changes state (CREATE DATABASE, DROP …) with
// POST /query, failing the test on any error.
func (i *Server) Exec(t testing.TB, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := i.ExecErr(ctx, q); err != nil {
		t.Fatalf("testenv: influx exec %q: %v", q, err)
	}
}

// ExecErr is Exec without testing.
func (i *Server) ExecErr(ctx context.Context, q string) error {
	_, err := i.do(ctx, http.MethodPost, "", q)
	return err
}

// Query runs InfluxQL read statements with GET /query?db=&q=&epoch=ns and returns the
// series of all statements in order, failing the test on any error.
func (i *Server) Query(t testing.TB, db, q string) []Series {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := i.QueryErr(ctx, db, q)
	if err != nil {
		t.Fatalf("testenv: influx query %q on %q: %v", q, db, err)
	}
	return s
}

// QueryErr is Query without testing, for use inside Eventually conditions.
func (i *Server) QueryErr(ctx context.Context, db, q string) ([]Series, error) {
	return i.do(ctx, http.MethodGet, db, q)
}

type queryResponse struct {
	Results []struct {
		StatementID int      `json:"statement_id"`
		Series      []Series `json:"series"`
		Error       string   `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

func (i *Server) do(ctx context.Context, method, db, q string) ([]Series, error) {
	v := url.Values{"q": {q}, "epoch": {"ns"}}
	if db != "" {
		v.Set("db", db)
	}
	var req *http.Request
	var err error
	if method == http.MethodPost {
		req, err = http.NewRequestWithContext(ctx, method, i.URL+"/query", strings.NewReader(v.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, method, i.URL+"/query?"+v.Encode(), nil)
	}
	if err != nil {
		return nil, err
	}
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var qr queryResponse
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber() // nanosecond timestamps do not survive float64
	if err := dec.Decode(&qr); err != nil {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if qr.Error != "" {
		return nil, fmt.Errorf("%s: %s", resp.Status, qr.Error)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var out []Series
	for _, r := range qr.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("statement %d: %s", r.StatementID, r.Error)
		}
		out = append(out, r.Series...)
	}
	return out, nil
}

// Write posts line protocol (nanosecond timestamps) to /write?db=, failing the test
// unless InfluxDB answers 204 (written to the WAL).
func (i *Server) Write(t testing.TB, db, lines string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := i.WriteErr(ctx, db, lines); err != nil {
		t.Fatalf("testenv: influx write to %q: %v", db, err)
	}
}

// WriteErr is Write without testing.
func (i *Server) WriteErr(ctx context.Context, db, lines string) error {
	u := i.URL + "/write?" + url.Values{"db": {db}, "precision": {"ns"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(lines))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := i.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// Count runs an InfluxQL count query on database db and returns the first
// value of its first series. An error or an empty result counts as 0, so it
// can be polled in Eventually while InfluxDB is down or before the database
// exists.
func (i *Server) Count(db, q string) int64 {
	rows, err := i.QueryErr(context.Background(), db, q)
	if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
		return 0
	}
	n, _ := AsInt64(rows[0].Values[0][1])
	return n
}
