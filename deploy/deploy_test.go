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

func TestComposeReferencesExistingFiles(t *testing.T) {
	data, err := os.ReadFile("docker-compose.yml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Volumes []string `yaml:"volumes"`
			Command []string `yaml:"command"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(data, &compose))
	require.Contains(t, compose.Services, "facmon")
	for name, svc := range compose.Services {
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, "./") {
				continue // a named volume
			}
			switch src {
			case "./mosquitto/passwd", "./mosquitto/certs":
				continue // site secrets, made at install time
			}
			_, err := os.Stat(src)
			assert.NoError(t, err, "service %s mounts %s", name, src)
		}
	}
	// facmon accepts every flag compose passes it.
	bin := filepath.Join(t.TempDir(), "facmon")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/facmon").CombinedOutput()
	require.NoError(t, err, "%s", out)
	help, _ := exec.Command(bin, "run", "--help").CombinedOutput()
	for _, arg := range compose.Services["facmon"].Command[1:] {
		flag, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		assert.Contains(t, string(help), "-"+flag+" ", "facmon run has no flag --%s", flag)
	}
}

func TestSystemdUnitRunsARealCommand(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("systemd", "facmon.service"))
	require.NoError(t, err)
	unit := string(data)
	for _, want := range []string{"ExecStart=/usr/local/bin/facmon run --config /etc/facmon/facmon.yaml", "KillSignal=SIGTERM", "RestartPreventExitStatus=2"} {
		assert.Contains(t, unit, want)
	}
}
