package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config/credentials"
	"github.com/facmon/facmon/internal/config/yamlcheck"
)

func TestCredentialsDirectoryInFileKeys(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"mqtt-password", "influx-token", "onestop-token"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("s3cret\n"), 0o600))
	}
	yaml := []byte(`mqtt: {username: facmon, password_file: $CREDENTIALS_DIRECTORY/mqtt-password}
influx:
  token_file: ${CREDENTIALS_DIRECTORY}/influx-token
scrape:
  - url: http://10.10.1.20:9100/metrics
    ward: thanh-binh
    app: onestop
    bearer_token_file: $CREDENTIALS_DIRECTORY/onestop-token
`)
	t.Run("set", func(t *testing.T) {
		t.Setenv(credentials.Var, dir)
		cfg, err := Parse("facmon.yaml", yaml, Overrides{})
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(dir, "mqtt-password"), cfg.MQTT.PasswordFile)
		assert.Equal(t, filepath.Join(dir, "influx-token"), cfg.Influx.TokenFile)
		assert.Equal(t, filepath.Join(dir, "onestop-token"), cfg.Scrape[0].BearerTokenFile, "keys inside lists too")
	})
	t.Run("unset", func(t *testing.T) {
		t.Setenv(credentials.Var, "")
		_, err := Parse("facmon.yaml", yaml, Overrides{})
		ps, ok := yamlcheck.AsProblems(err)
		require.True(t, ok, "%v", err)
		byPath := map[string]yamlcheck.Problem{}
		for _, p := range ps {
			byPath[p.Path] = p
		}
		require.Len(t, ps, 3, "one problem per key, not also an unreadable file: %v", ps)
		assert.Equal(t, 1, byPath["mqtt.password_file"].Line)
		assert.Equal(t, 3, byPath["influx.token_file"].Line)
		assert.Contains(t, byPath["scrape[0].bearer_token_file"].Msg, "LoadCredential=")
	})
}
