// Package deploy holds the deployment files; this test keeps them honest:
// what they reference exists, and facmon accepts the flags they pass.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Build     any      `yaml:"build"`
		Image     string   `yaml:"image"`
		Volumes   []string `yaml:"volumes"`
		Command   []string `yaml:"command"`
		Secrets   []string `yaml:"secrets"`
		DependsOn []string `yaml:"depends_on"`
	} `yaml:"services"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("docker-compose.yml")
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(data, &c))
	return c
}

// siteSecrets are made at install time (README, "Operating facmon"), not
// shipped.
func siteSecret(src string) bool {
	for _, p := range []string{"./mosquitto/passwd", "./mosquitto/certs", "./alertmanager/secrets", "./secrets"} {
		if src == p || strings.HasPrefix(src, p+"/") {
			return true
		}
	}
	return false
}

func flagValue(cmd []string, name string) string {
	for _, a := range cmd {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func TestComposeReferencesExistingFiles(t *testing.T) {
	compose := readCompose(t)
	for name, svc := range compose.Services {
		for _, v := range svc.Volumes {
			src, dst, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, "./") {
				assert.Contains(t, compose.Volumes, src, "service %s mounts an undeclared volume", name)
				continue
			}
			if siteSecret(src) {
				continue
			}
			_, err := os.Stat(src)
			assert.NoError(t, err, "service %s mounts %s at %s", name, src, dst)
		}
		for _, sec := range svc.Secrets {
			assert.Contains(t, compose.Secrets, sec, "service %s uses an undeclared secret", name)
		}
		for _, dep := range svc.DependsOn {
			assert.Contains(t, compose.Services, dep, "service %s depends on a service that does not exist", name)
		}
	}
}

// Two facmon instances share the district: the same group, each its own
// client id and spool volume, both posting to both Alertmanagers, which
// are peers of each other; facmon accepts every flag and the
// configuration they are given.
func TestComposeRunsTwoInstancesAndAnAlertmanagerPair(t *testing.T) {
	compose := readCompose(t)
	var facmons []string
	for name, svc := range compose.Services {
		if svc.Build != nil {
			facmons = append(facmons, name)
		}
	}
	require.Len(t, facmons, 2, "two facmon instances")
	a, b := compose.Services[facmons[0]], compose.Services[facmons[1]]
	assert.NotEmpty(t, flagValue(a.Command, "shared-group"))
	assert.Equal(t, flagValue(a.Command, "shared-group"), flagValue(b.Command, "shared-group"), "one group")
	assert.NotEqual(t, flagValue(a.Command, "mqtt-client-id"), flagValue(b.Command, "mqtt-client-id"), "never one client id for two live instances")
	spoolVolume := func(vs []string) string {
		for _, v := range vs {
			if src, dst, _ := strings.Cut(v, ":"); strings.HasPrefix(dst, "/var/lib/facmon") && !strings.HasPrefix(src, "./") && !strings.Contains(dst, "tokens") {
				return src
			}
		}
		return ""
	}
	assert.NotEqual(t, spoolVolume(a.Volumes), spoolVolume(b.Volumes), "each its own spool")

	var ams []string
	for name, svc := range compose.Services {
		if strings.HasPrefix(svc.Image, "prom/alertmanager") {
			ams = append(ams, name)
			peer := ""
			for _, arg := range svc.Command {
				if v, ok := strings.CutPrefix(arg, "--cluster.peer="); ok {
					peer, _, _ = strings.Cut(v, ":")
				}
			}
			assert.Contains(t, compose.Services, peer, "alertmanager %s is a peer of another", name)
			assert.NotEqual(t, name, peer)
		}
	}
	require.Len(t, ams, 2, "an Alertmanager pair")

	bin := buildFacmon(t)
	help, _ := exec.Command(bin, "run", "--help").CombinedOutput()
	for _, name := range facmons {
		svc := compose.Services[name]
		require.Equal(t, "run", svc.Command[0])
		for _, arg := range svc.Command[1:] {
			flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			assert.Contains(t, string(help), "-"+flag+" ", "facmon run has no flag --%s", flag)
		}
		for _, am := range ams {
			assert.Contains(t, flagValue(svc.Command, "alertmanager-url"), "http://"+am+":9093", "%s posts to %s", name, am)
		}
		checkComposeConfig(t, bin, name, svc.Command[1:], svc.Volumes)
	}
}

// checkComposeConfig runs `facmon config check` on the configuration a
// compose instance mounts, with its flags, the container paths it names
// moved into a temp dir holding stand-ins for the secrets.
func checkComposeConfig(t *testing.T, bin, name string, flags, volumes []string) {
	t.Helper()
	root := t.TempDir()
	var cfgSrc string
	for _, v := range volumes {
		if src, dst, _ := strings.Cut(v, ":"); strings.HasPrefix(dst, "/etc/facmon/facmon.yaml") {
			cfgSrc = src
		}
	}
	require.NotEmpty(t, cfgSrc, "%s mounts its configuration at /etc/facmon/facmon.yaml", name)
	data, err := os.ReadFile(cfgSrc)
	require.NoError(t, err)
	move := func(s string) string {
		for _, dir := range []string{"/run/secrets/", "/etc/facmon/", "/var/lib/facmon-tokens/", "/var/lib/facmon/"} {
			s = strings.ReplaceAll(s, dir, filepath.Join(root, dir)+"/")
		}
		return s
	}
	for _, f := range []string{"/run/secrets/mqtt-password", "/run/secrets/api-token", "/etc/facmon/ca.pem",
		"/var/lib/facmon-tokens/facmon-write", "/var/lib/facmon-tokens/facmon-read"} {
		p := move(f)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
		require.NoError(t, os.WriteFile(p, []byte("stand-in\n"), 0o600))
	}
	cfgPath := filepath.Join(root, "facmon.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(move(string(data))), 0o600))
	args := []string{"config", "check", "--config", cfgPath}
	for _, f := range flags {
		if strings.HasPrefix(f, "--config=") {
			continue
		}
		args = append(args, move(f))
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	assert.NoError(t, err, "%s: facmon %s\n%s", name, strings.Join(args, " "), out)
}

// InfluxDB 2 gets a write-only token for facmon's writes and a read-only
// one for its queries and Grafana, written by the init script into a
// volume the readers mount: facmon is given each where it needs it, and
// Grafana's datasource reads the read-only one.
func TestComposeSeparatesTheInfluxTokens(t *testing.T) {
	compose := readCompose(t)
	script, err := os.ReadFile(filepath.Join("influxdb", "facmon-tokens.sh"))
	require.NoError(t, err)
	out, err := exec.Command("bash", "-n", filepath.Join("influxdb", "facmon-tokens.sh")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Regexp(t, `--write-bucket "\$bucket_id" >"\$out/facmon-write"`, string(script))
	assert.Regexp(t, `--read-bucket "\$bucket_id" >"\$out/facmon-read"`, string(script))
	assert.NotContains(t, string(script), "--all-access")
	influx := compose.Services["influxdb"]
	assert.Contains(t, influx.Volumes, "./influxdb/facmon-tokens.sh:/docker-entrypoint-initdb.d/facmon-tokens.sh:ro")
	for name, svc := range compose.Services {
		if svc.Build == nil {
			continue
		}
		assert.Equal(t, "/var/lib/facmon-tokens/facmon-write", flagValue(svc.Command, "influx-token-file"), name)
		assert.Equal(t, "/var/lib/facmon-tokens/facmon-read", flagValue(svc.Command, "influx-read-token-file"), name)
		assert.Contains(t, svc.Volumes, "influx-tokens:/var/lib/facmon-tokens:ro", name)
	}
	ds, err := os.ReadFile(filepath.Join("grafana", "compose-datasources.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(ds), "Token $__file{/var/lib/facmon-tokens/facmon-read}")
	assert.Contains(t, compose.Services["grafana"].Volumes, "influx-tokens:/var/lib/facmon-tokens:ro")
	assert.Contains(t, compose.Services["grafana"].Volumes, "./grafana/compose-datasources.yaml:/etc/grafana/provisioning/datasources/facmon.yaml:ro")
}

func TestSystemdUnitRunsARealCommand(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("systemd", "facmon.service"))
	require.NoError(t, err)
	unit := string(data)
	for _, want := range []string{"ExecStart=/usr/local/bin/facmon run --config /etc/facmon/facmon.yaml", "KillSignal=SIGTERM", "RestartPreventExitStatus=2"} {
		assert.Contains(t, unit, want)
	}
}
