package duration

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]time.Duration{"10s": 10 * time.Second, "1h30m": 90 * time.Minute, "3d": 72 * time.Hour, "0.5d": 12 * time.Hour} {
		d, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, d.D(), in)
	}
	for _, in := range []string{"", "soon", "5 minutes", "d"} {
		_, err := Parse(in)
		assert.ErrorContains(t, err, "bad duration", in)
	}
}

func TestYAML(t *testing.T) {
	var v struct {
		For Duration `yaml:"for"`
	}
	require.NoError(t, yaml.Unmarshal([]byte("for: 2d"), &v))
	assert.Equal(t, 48*time.Hour, v.For.D())
	assert.Error(t, yaml.Unmarshal([]byte("for: [1]"), &v))
	out, err := yaml.Marshal(v)
	require.NoError(t, err)
	assert.Equal(t, "for: 48h0m0s\n", string(out))
}
