package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigCheck(t *testing.T) {
	code, out, _ := runCLI("config", "check", "--config", "../../deploy/facmon.example.yaml")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "ok: 13 offices, 4 device classes, 2 topic patterns")

	code, _, errs := runCLI("config", "check", "--config", "testdata/bad.yaml")
	assert.Equal(t, 2, code, "a bad config is a usage error")
	for _, want := range []string{
		`testdata/bad.yaml:8: influx.bukket: unknown key "bukket"`,
		`testdata/bad.yaml:3: mqtt.max_inflight: want a whole number, got "lots"`,
	} {
		assert.Contains(t, errs, want)
	}

	code, _, errs = runCLI("config", "check", "--config", "testdata/bad.yaml", "--mqtt-url", "x")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "influx.bukket", "file problems are reported before flags are applied")

	secret := filepath.Join(t.TempDir(), "creds.yaml")
	require.NoError(t, os.WriteFile(secret, []byte("influx:\n  url: http://admin:S3CRET@127.0.0.1:8086\n"), 0o600))
	code, out, errs = runCLI("config", "check", "--config", secret)
	assert.Equal(t, 2, code, "credentials in influx.url are refused")
	assert.Contains(t, errs, "influx.url: must not carry credentials")
	assert.Contains(t, errs, "influx.token_file")
	assert.NotContains(t, out+errs, "S3CRET", "the password is never echoed")

	code, _, errs = runCLI("config", "check", "--config", "testdata/missing.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "no such file")

	code, _, errs = runCLI("config", "check")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "--config FILE is required")
}

// A misspelled key, a bad duration and a field not in its class profile:
// one run lists all three with their lines, in file order (the profile
// problem used to stay hidden until the other two were fixed), and names
// the key the misspelling meant.
func TestConfigCheckListsEveryProblem(t *testing.T) {
	code, out, errs := runCLI("config", "check", "--config", "testdata/three-problems.yaml")
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	want, err := os.ReadFile("testdata/three-problems.want")
	require.NoError(t, err)
	assert.Equal(t, string(want), errs)
}

func TestSemanticProblemsListedTogether(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.yaml")
	require.NoError(t, os.WriteFile(p, []byte("mqtt:\n  max_inflight: 0\noffices:\n  - id: a\n    name: A\n  - id: a\n    name: B\n"), 0o600))
	code, _, errs := runCLI("config", "check", "--config", p)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "2 problem(s)")
	assert.Contains(t, errs, p+":2: mqtt.max_inflight: must be between 1 and 65535, got 0")
	assert.Contains(t, errs, p+`:6: offices[1].id: "a" already used by offices[0]`)
}

func TestUsageAndHelp(t *testing.T) {
	code, out, _ := runCLI("--help")
	assert.Equal(t, 0, code)
	for _, c := range []string{"run", "simulate", "config", "version"} {
		assert.Contains(t, out, "  "+c)
	}
	for _, c := range []string{"run", "simulate", "version"} {
		code, out, _ := runCLI(c, "--help")
		assert.Equal(t, 0, code, c)
		assert.Contains(t, out, "Usage: facmon "+c, c)
	}
	code, _, errs := runCLI("frobnicate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, `unknown command "frobnicate"`)
	code, _, errs = runCLI("run", "--no-such-flag")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "no-such-flag")
	code, _, errs = runCLI("simulate", "--devices", "door=2,lift=1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "lift")
	code, _, errs = runCLI("simulate", "--fault", "door-stuck-open@thanh-binh/hvac-1")
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "door-stuck-open")
	code, _, _ = runCLI()
	assert.Equal(t, 2, code)
}

func buildFacmon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "facmon")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDemoStoresAllWards runs the binary as `make run` does, pointed at a
// test InfluxDB and free ports, and checks all 13 wards arrive, health is
// green, and SIGTERM ends it cleanly with every device recorded offline.
func TestDemoStoresAllWards(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	bin := buildFacmon(t)
	mqttPort := testenv.FreePort(t)
	webPort := testenv.FreePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "run", "--demo", "--no-backfill",
		"--mqtt-url", "tcp://127.0.0.1:"+strconv.Itoa(mqttPort),
		"--influx-url", db.URL, "--influx-bucket", "demo",
		"--listen", "127.0.0.1:"+strconv.Itoa(webPort),
		"--spool-dir", t.TempDir())
	cmd.Stdout = &logs
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("facmon output:\n%s", logs.String())
		}
	})
	web := fmt.Sprintf("http://127.0.0.1:%d", webPort)
	testenv.Eventually(t, 30*time.Second, "all 13 wards stored", func() (bool, string) {
		rows, err := db.QueryErr(context.Background(), "demo", `SHOW TAG VALUES FROM device_status WITH KEY = "ward"`)
		if err != nil || len(rows) == 0 {
			return false, fmt.Sprint(err)
		}
		return len(rows[0].Values) == 13, fmt.Sprintf("%d wards", len(rows[0].Values))
	})
	testenv.Eventually(t, 30*time.Second, "telemetry of every class and the scraped apps", func() (bool, string) {
		rows, err := db.QueryErr(context.Background(), "demo", `SHOW MEASUREMENTS`)
		if err != nil || len(rows) == 0 {
			return false, fmt.Sprint(err)
		}
		have := map[string]bool{}
		for _, v := range rows[0].Values {
			have[fmt.Sprint(v[0])] = true
		}
		for _, m := range []string{"door", "hvac", "server", "camera", "device_status", "scrape", "onestop_queue_length"} {
			if !have[m] {
				return false, "missing " + m + " in " + fmt.Sprint(rows[0].Values)
			}
		}
		return true, ""
	})
	code, body := httpGet(web + "/healthz")
	assert.Equal(t, 200, code, body)
	code, body = httpGet(web + "/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "facmon_points_written_total")
	assert.Contains(t, body, "go_goroutines")
	assert.Contains(t, body, "process_resident_memory_bytes")
	assert.Contains(t, logs.String(), "13 simulated ward offices")
	runBannerCommands(t, logs.String())

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		require.NoError(t, err, "SIGTERM ends the demo with exit 0")
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30 s of SIGTERM")
	}
	rows := db.Query(t, "demo", `SELECT last(up) FROM device_status GROUP BY ward, device`)
	offline := 0
	for _, s := range rows {
		if v, _ := influxdb.AsInt64(s.Values[0][1]); v == 0 {
			offline++
		}
	}
	assert.Equal(t, 130, offline, "every device's last status is offline after a clean stop")
	assert.False(t, strings.Contains(logs.String(), "panic"))
}

// runBannerCommands runs every "$ " command of the demo's banner as a user
// would paste it, and wants each to succeed with output.
func runBannerCommands(t *testing.T, out string) {
	t.Helper()
	var cmds []string
	for _, line := range strings.Split(out, "\n") {
		if c, ok := strings.CutPrefix(strings.TrimSpace(line), "$ "); ok {
			cmds = append(cmds, c)
		}
	}
	require.GreaterOrEqual(t, len(cmds), 4, "the banner prints the commands to try")
	for _, c := range cmds {
		assert.NotContains(t, c, "PORT", "a placeholder in %q", c)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := exec.CommandContext(ctx, "sh", "-c", c).CombinedOutput()
		cancel()
		if assert.NoError(t, err, "banner command %q: %s", c, res) {
			assert.NotEmpty(t, strings.TrimSpace(string(res)), "banner command %q printed nothing", c)
		}
		if strings.Contains(c, "/query") {
			assert.Contains(t, string(res), `"ward"`, "the InfluxDB query of the banner returns rows per ward: %s", res)
		}
	}
}
