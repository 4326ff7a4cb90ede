package mqtt

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv"
)

// A lone instance joins a group under the same client id: its persistent
// session still holds the plain subscriptions, which the collector drops,
// so the group stores each reading once (with them it would take every
// reading besides its share).
func TestJoiningAGroupDropsTheLoneSubscriptions(t *testing.T) {
	b := testenv.StartMosquitto(t)
	run := func(id, group string) (*recordingSink, func()) {
		o := testOptions()
		o.Broker.URL, o.Broker.ClientID, o.Broker.SharedGroup = b.URL, id, group
		sink := &recordingSink{}
		c, err := New(o, sink, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		testenv.Eventually(t, 10*time.Second, "collector subscribed", func() (bool, string) { return c.Connected(), "" })
		return sink, func() { cancel(); require.NoError(t, <-done) }
	}
	_, stop := run("facmon-a", "")
	stop()
	a, stopA := run("facmon-a", "district")
	defer stopA()
	other, stopB := run("facmon-b", "district")
	defer stopB()
	const n = 20
	for range n {
		mosquittoPub(t, b, "facmon/thanh-binh/door/door-1/telemetry", `{"state":"open"}`)
	}
	count := func(s *recordingSink) int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.got)
	}
	testenv.Eventually(t, 10*time.Second, "every reading taken", func() (bool, string) { return count(a)+count(other) >= n, "" })
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, n, count(a)+count(other), "each reading stored once by the group (a took %d, b %d)", count(a), count(other))
	assert.Positive(t, count(other), "b has its share")
}
