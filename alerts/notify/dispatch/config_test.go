package dispatch

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/alerts/notify"
)

func TestFromConfig(t *testing.T) {
	var c notify.Config
	require.NoError(t, yaml.Unmarshal([]byte(`
repost_interval: 30s
give_up_after: 2h
max_retry_interval: 30s
queue_size: 500
batch_size: 32
batch_wait: 100ms
`), &c))
	o := FromConfig(c)
	assert.Equal(t, 30*time.Second, o.RepostInterval)
	assert.Equal(t, 2*time.Hour, o.GiveUpAfter)
	assert.Equal(t, 30*time.Second, o.MaxRetryInterval)
	assert.Equal(t, 500, o.QueueSize)
	assert.Equal(t, 32, o.BatchSize)
	assert.Equal(t, 100*time.Millisecond, o.BatchWait)
}

func TestFromConfigDefaults(t *testing.T) {
	want := Options{
		RepostInterval: time.Minute, GiveUpAfter: time.Hour, MaxRetryInterval: time.Minute, MinRetryInterval: 500 * time.Millisecond,
		QueueSize: 10000, BatchSize: 64, BatchWait: 20 * time.Millisecond, ShutdownDrain: 5 * time.Second,
	}
	assert.Equal(t, want, FromConfig(notify.Config{}))
	assert.Equal(t, want, FromConfig(notify.DefaultConfig()))
}
