package mqtt

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv"
)

// gatedCommitter stands in for the spool: while paused, a commit waits,
// as one does on a full disk, so no ack goes out.
type gatedCommitter struct {
	mu     sync.Mutex
	open   chan struct{}
	points int
}

func newGatedCommitter() *gatedCommitter {
	g := &gatedCommitter{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *gatedCommitter) pause() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedCommitter) resume() {
	g.mu.Lock()
	close(g.open)
	g.mu.Unlock()
}

func (g *gatedCommitter) committed() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.points
}

func (g *gatedCommitter) Commit(ctx context.Context, lines []byte, points int) error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	g.points += points
	g.mu.Unlock()
	return nil
}

func wardIDs() []string {
	return testWards
}

// TestAckPauseKeepsTheConnection: acks paused (the spool stalled) for
// longer than keepalive + paho's 10 s ping timeout, with the broker's
// inflight window (1000) above facmon's mqtt.max_inflight (200), as the
// README allows. The pipeline holds at most max_inflight readings; the
// rest of the broker's window waits unacknowledged without stopping
// paho's network loop, so pings are still answered and the connection
// stays up. Throughout, received = committed + pending (nothing is
// rejected), and afterwards every published reading is committed.
func TestAckPauseKeepsTheConnection(t *testing.T) {
	const keepalive = 2 * time.Second
	const maxInflight = 200
	b := testenv.StartMosquitto(t)
	gate := newGatedCommitter()
	reg := prometheus.NewRegistry()
	batcher := storage.NewBatcher(storage.BatchOptions{
		MaxPoints: maxInflight, MaxPending: maxInflight, AckWindow: maxInflight / 2,
		Linger: 20 * time.Millisecond, DrainTimeout: 5 * time.Second,
	}, gate, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	bctx, stopBatcher := context.WithCancel(context.Background())
	batcherDone := make(chan error, 1)
	go func() { batcherDone <- batcher.Run(bctx) }()
	c, creg := startCollector(t, b, func(o *Options) { o.Broker.KeepAlive = keepalive }, batcher)
	t.Cleanup(func() {
		batcher.Release()
		stopBatcher()
		<-batcherDone
	})
	gauge := func(name string) float64 {
		for _, r := range []*prometheus.Registry{reg, creg} {
			mfs, err := r.Gather()
			require.NoError(t, err)
			for _, mf := range mfs {
				if mf.GetName() == name {
					return mf.GetMetric()[0].GetGauge().GetValue()
				}
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	received := func() float64 { return testutil.ToFloat64(c.metrics.received) }
	lost := func() float64 { return testutil.ToFloat64(c.metrics.lost) }

	pub := testenv.StartStream(t, b, testenv.StreamOptions{Wards: wardIDs(), Devices: 20, Interval: 20 * time.Millisecond})
	testenv.Eventually(t, 10*time.Second, "readings committed", func() (bool, string) {
		return gate.committed() >= 500, fmt.Sprintf("committed %d", gate.committed())
	})

	gate.pause()
	testenv.Eventually(t, 10*time.Second, "the pipeline fills", func() (bool, string) {
		p := gauge("facmon_ingest_pending_readings")
		return p == maxInflight, fmt.Sprintf("pending %.0f", p)
	})
	stall := time.Now()
	var most float64
	for time.Since(stall) < keepalive+10*time.Second+3*time.Second {
		p := gauge("facmon_ingest_pending_readings")
		most = max(most, p)
		// paho reports a lost connection only once the handler returns,
		// so ask it whether the network connection is still open.
		require.True(t, c.client.IsConnectionOpen(), "paho dropped the connection %s into the pause", time.Since(stall).Round(time.Second))
		require.Zero(t, lost(), "connection lost %s into the pause", time.Since(stall).Round(time.Second))
		assert.Equal(t, received(), float64(gate.committed())+p, "received = committed + pending while stalled")
		time.Sleep(250 * time.Millisecond)
	}
	waiting := gauge("facmon_mqtt_waiting_messages")
	t.Logf("paused %s: pending %.0f at most (max_inflight %d), %.0f messages waiting unacknowledged, published %d",
		time.Since(stall).Round(time.Second), most, maxInflight, waiting, pub.Published.Load())
	assert.LessOrEqual(t, most, float64(maxInflight), "pending never above mqtt.max_inflight")
	assert.Positive(t, waiting, "the rest of the broker's window waits in the intake")

	gate.resume()
	time.Sleep(time.Second)
	pub.Stop()
	require.Zero(t, pub.Failed.Load())
	published := pub.Published.Load()
	testenv.Eventually(t, 30*time.Second, "every published reading committed", func() (bool, string) {
		return int64(gate.committed()) == published && gauge("facmon_mqtt_waiting_messages") == 0,
			fmt.Sprintf("committed %d of %d, waiting %.0f", gate.committed(), published, gauge("facmon_mqtt_waiting_messages"))
	})
	assert.Equal(t, float64(published), received())
	time.Sleep(time.Second)
	assert.Zero(t, lost(), "no reconnect")
	assert.True(t, c.Connected())
	assert.Equal(t, 1, strings.Count(b.Log(), "as "+c.broker.ClientID+" "), "one session for the whole test:\n%s", b.Log())
}
