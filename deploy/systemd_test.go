package deploy

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv"
)

func buildFacmon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "facmon")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/facmon").CombinedOutput()
	require.NoError(t, err, "%s", out)
	return bin
}

func readUnit(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("systemd", "facmon.service"))
	require.NoError(t, err)
	return string(data)
}

// systemd-analyze verify reads the unit as systemd would and complains of
// an unknown directive, a bad value or a command that is not executable:
// the shipped unit, with the binary where the build put it, draws no
// complaint at all.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := testenv.RequireBinary(t, "systemd-analyze", "systemd", nil)
	bin := buildFacmon(t)
	unit := strings.ReplaceAll(readUnit(t), "/usr/local/bin/facmon", bin)
	path := filepath.Join(t.TempDir(), "facmon.service")
	require.NoError(t, os.WriteFile(path, []byte(unit), 0o644))
	out, err := exec.Command(analyze, "verify", "--man=no", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify complains")
}

// The secrets the unit loads with LoadCredential= reach facmon through
// $CREDENTIALS_DIRECTORY, named in the configuration as the unit's
// comment shows: facmon run with that variable set (as systemd sets it)
// logs in to a Mosquitto that refuses anonymous clients. Without the
// variable the same configuration is refused, naming the key.
func TestSystemdCredentialsReachFacmon(t *testing.T) {
	unit := readUnit(t)
	creds := regexp.MustCompile(`(?m)^LoadCredential=([a-z-]+):(\S+)$`).FindAllStringSubmatch(unit, -1)
	require.Len(t, creds, 3, "the unit loads the MQTT password, the InfluxDB token and the API token")
	// The configuration lines the unit's comment gives, used as written.
	var snippet []string
	for _, l := range strings.Split(unit, "\n") {
		if m := regexp.MustCompile(`^#\s+((mqtt|influx|alerts):\s+\{.*\})$`).FindStringSubmatch(l); m != nil {
			snippet = append(snippet, m[1])
		}
	}
	require.Len(t, snippet, 3, "the unit's comment shows the configuration of each credential")

	const pass = "mật-khẩu-facmon-2026"
	broker := testenv.StartMosquitto(t, testenv.WithPassword("facmon", pass))
	dir := t.TempDir()
	credDir := filepath.Join(dir, "credentials")
	require.NoError(t, os.Mkdir(credDir, 0o700))
	secrets := map[string]string{"mqtt-password": pass + "\n", "influx-token": "facmon:influx-secret\n", "api-token": "api-token-123\n"}
	for _, c := range creds {
		v, ok := secrets[c[1]]
		require.True(t, ok, "credential %s is one the test knows", c[1])
		require.NoError(t, os.WriteFile(filepath.Join(credDir, c[1]), []byte(v), 0o600))
	}
	port := testenv.FreePort(t)
	cfgPath := filepath.Join(dir, "facmon.yaml")
	cfg := strings.Join(snippet, "\n") + "\n"
	cfg = strings.Replace(cfg, "mqtt: {", "mqtt: {client_id: facmon-credentials, max_reconnect_interval: 1s, ", 1)
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	bin := buildFacmon(t)
	check := exec.Command(bin, "config", "check", "--config", cfgPath)
	check.Env = append(os.Environ(), "CREDENTIALS_DIRECTORY=")
	out, err := check.CombinedOutput()
	require.Error(t, err, "without $CREDENTIALS_DIRECTORY the configuration is refused")
	assert.Contains(t, string(out), "mqtt.password_file")
	assert.Contains(t, string(out), "CREDENTIALS_DIRECTORY, which is not set")

	run := exec.Command(bin, "run", "--config", cfgPath, "--mqtt-url", broker.URL, "--influx-url", "http://127.0.0.1:1",
		"--listen", testenv.HostPort(port), "--spool-dir", filepath.Join(dir, "spool"))
	run.Env = append(os.Environ(), "CREDENTIALS_DIRECTORY="+credDir)
	var logs bytes.Buffer
	run.Stdout, run.Stderr = &logs, &logs
	require.NoError(t, run.Start())
	t.Cleanup(func() {
		_ = run.Process.Kill()
		_ = run.Wait()
		if t.Failed() {
			t.Logf("facmon log:\n%s", logs.String())
		}
	})
	testenv.Eventually(t, 20*time.Second, "facmon logged in to the broker with the credential", func() (bool, string) {
		resp, err := http.Get("http://" + testenv.HostPort(port) + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return strings.Contains(b.String(), "\nfacmon_mqtt_connected 1\n"), "facmon_mqtt_connected is not 1"
	})
	assert.NotContains(t, logs.String(), pass, "the password never reaches the log")
}
