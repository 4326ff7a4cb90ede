package deploy

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/service/servicecheck"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/alertmanager"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

type guideBlock struct {
	host, script string
	heading      string
}

// guideBlocks are the shell blocks of the README's operator guide marked
// <!-- guide: host-a|host-b -->, in order, with the heading each is under.
func guideBlocks(t *testing.T) []guideBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	readme := string(data)
	start := strings.Index(readme, "\n## Operating facmon\n")
	require.Positive(t, start, "the README has its operator guide")
	guide := readme[start+1:]
	if end := strings.Index(guide[3:], "\n## "); end > 0 {
		guide = guide[:end+3]
	}
	re := regexp.MustCompile("(?s)<!-- guide: (host-a|host-b) -->\n```sh\n(.*?)```")
	var out []guideBlock
	for _, m := range re.FindAllStringSubmatchIndex(guide, -1) {
		heading := guide[:m[0]]
		heading = heading[strings.LastIndex(heading, "\n### ")+5:]
		heading, _, _ = strings.Cut(heading, "\n")
		out = append(out, guideBlock{host: guide[m[2]:m[3]], script: guide[m[4]:m[5]], heading: heading})
	}
	return out
}

// guideHost is one machine of the guide, a directory standing for its /.
type guideHost struct {
	root, web string
}

func (h guideHost) env(mqttPort int, broker bool) []string {
	env := append(os.Environ(),
		"GUIDE_ROOT="+h.root, "GUIDE_LISTEN="+h.web, "GUIDE_MQTT_PORT="+strconv.Itoa(mqttPort),
		"PATH="+filepath.Join(h.root, "usr/local/bin")+":"+filepath.Join(h.root, "stand-ins")+":"+os.Getenv("PATH"))
	if broker {
		env = append(env, "GUIDE_MQTT_HOST=1")
	}
	return env
}

// TestOperatorGuide runs the README's operator guide as written, with the
// paths under a temporary root per host and the ports made free: two
// hosts, the broker with TLS and passwords on the first, facmon on both in
// one group, a device added, a secret rotated, a backup and an upgrade. A
// stand-in systemctl (testdata/guide/systemctl) starts the real Mosquitto
// and facmon from the files the guide installed.
func TestOperatorGuide(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the guide's commands run with sudo: this test runs them as root")
	}
	blocks := guideBlocks(t)
	require.GreaterOrEqual(t, len(blocks), 8, "the guide's blocks")
	db := influxdb.Start(t, influxdb.WithoutFlux())
	receiver := alertmanager.WebhookReceiver(t)
	am := alertmanager.Start(t, receiver.URL)
	dbURL, err := url.Parse(db.URL)
	require.NoError(t, err)
	amURL, err := url.Parse(am.URL)
	require.NoError(t, err)
	mqttPort := testenv.FreePort(t)

	newHost := func() guideHost {
		root := t.TempDir()
		// Mosquitto drops to its own user, which must reach its files.
		for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			require.NoError(t, os.Chmod(d, 0o755))
		}
		for _, d := range []string{"usr/local/bin", "etc/systemd/system", "root", "stand-ins"} {
			require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		}
		for _, f := range []string{"systemctl", "apt-get"} {
			src, err := filepath.Abs(filepath.Join("testdata", "guide", f))
			require.NoError(t, err)
			require.NoError(t, os.Symlink(src, filepath.Join(root, "stand-ins", f)))
		}
		h := guideHost{root: root, web: testenv.HostPort(testenv.FreePort(t))}
		t.Cleanup(func() {
			for _, svc := range []string{"facmon", "mosquitto"} {
				if pid, err := os.ReadFile(filepath.Join(root, "run", svc+".pid")); err == nil {
					if n, err := strconv.Atoi(strings.TrimSpace(string(pid))); err == nil {
						_ = syscall.Kill(n, syscall.SIGKILL)
					}
				}
			}
			if t.Failed() {
				for _, f := range []string{"facmon.log", "mosquitto.log", "systemctl.log"} {
					if b, err := os.ReadFile(filepath.Join(root, f)); err == nil {
						t.Logf("%s of %s:\n%s", f, root, tail(string(b), 30))
					}
				}
			}
		})
		return h
	}
	hosts := map[string]guideHost{"host-a": newHost(), "host-b": newHost()}
	move := func(script string, h guideHost) string {
		r := strings.NewReplacer(
			"/etc/", h.root+"/etc/", "/var/lib/", h.root+"/var/lib/", "/usr/local/bin/", h.root+"/usr/local/bin/",
			"/root/", h.root+"/root/", " -C / ", " -C "+h.root+"/ ",
			"127.0.0.1:8080", h.web, "127.0.0.1:8086", dbURL.Host, "127.0.0.1:9093", amURL.Host,
			"127.0.0.1:8883", "127.0.0.1:"+strconv.Itoa(mqttPort), "-p 8883", "-p "+strconv.Itoa(mqttPort))
		return r.Replace(script)
	}
	prelude := "set -euo pipefail\nsudo() { env \"$@\"; }\n"

	healthy := func(h guideHost, what string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, what, func() (bool, string) {
			code, body := httpGet("http://" + h.web + "/healthz")
			return code == 200, fmt.Sprint(code, " ", body)
		})
	}
	for i, b := range blocks {
		h := hosts[b.host]
		if b.host == "host-b" {
			// What step 5 says to copy from the first host.
			a := hosts["host-a"]
			for _, p := range []string{"etc/facmon", "usr/local/bin/facmon", "etc/systemd/system/facmon.service", "etc/mosquitto/certs/ca.pem"} {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(h.root, p)), 0o755))
				out, err := exec.Command("cp", "-a", filepath.Join(a.root, p), filepath.Join(h.root, p)).CombinedOutput()
				require.NoError(t, err, "%s", out)
			}
		}
		cmd := exec.Command("bash", "-c", prelude+move(b.script, h))
		cmd.Dir = ".."
		cmd.Env = h.env(mqttPort, b.host == "host-a")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "guide block %d (%s, %s) failed:\n%s\noutput:\n%s", i+1, b.host, b.heading, b.script, out)
		t.Logf("block %d (%s, %s): ok", i+1, b.host, b.heading)

		switch {
		case strings.HasPrefix(b.heading, "1.") && strings.Contains(b.script, "systemctl enable --now facmon"):
			healthy(h, "the first instance healthy")
		case strings.HasPrefix(b.heading, "3."):
			testenv.Eventually(t, 20*time.Second, "the new device's reading stored", func() (bool, string) {
				rows, err := db.QueryErr(t.Context(), "facmon", `SELECT cycles FROM door WHERE device='door-7'`)
				return err == nil && len(rows) == 1 && len(rows[0].Values) == 1, fmt.Sprint(rows, err)
			})
		case strings.HasPrefix(b.heading, "4."):
			healthy(h, "facmon back with the rotated password")
		case strings.HasPrefix(b.heading, "5."):
			a := hosts["host-a"]
			healthy(h, "the second instance healthy")
			testenv.Eventually(t, 20*time.Second, "the wards shared between the two", func() (bool, string) {
				ma, errA := servicecheck.ScrapeMetrics("http://" + a.web)
				mb, errB := servicecheck.ScrapeMetrics("http://" + h.web)
				if errA != nil || errB != nil {
					return false, fmt.Sprint(errA, errB)
				}
				oa, ob := ma["facmon_wards_owned"], mb["facmon_wards_owned"]
				return oa > 0 && ob > 0 && oa+ob == 13, fmt.Sprintf("a owns %v, b %v", oa, ob)
			})
			assert.Contains(t, string(out), "facmon_cluster_members 2", "the block's own check shows both members")
		case strings.HasPrefix(b.heading, "6."):
			list, err := exec.Command("tar", "-tzf", filepath.Join(h.root, "root/facmon-backup.tar.gz")).CombinedOutput()
			require.NoError(t, err, "%s", list)
			for _, want := range []string{"etc/facmon/facmon.yaml", "etc/facmon/credentials/mqtt-password", "var/lib/private/facmon/spool/wal/", "var/lib/private/facmon/spool/alerts/state.json", "etc/mosquitto/passwd"} {
				assert.Contains(t, string(list), want, "the backup holds it")
			}
			healthy(h, "the first instance back after the backup")
		case strings.HasPrefix(b.heading, "7."):
			healthy(h, "the upgraded instance healthy")
		}
	}
}

func httpGet(u string) (int, string) {
	resp, err := http.Get(u)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
