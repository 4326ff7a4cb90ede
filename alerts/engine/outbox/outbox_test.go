package outbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sink takes at most take items per send and fails while failing is set.
type sink struct {
	mu      sync.Mutex
	got     []int
	take    int
	failing bool
}

func (s *sink) send(items []int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return 0, errors.New("disk full")
	}
	n := min(len(items), s.take)
	s.got = append(s.got, items[:n]...)
	if n < len(items) {
		return n, errors.New("short write")
	}
	return n, nil
}

func TestFullQueueDropsNewestAndCounts(t *testing.T) {
	m := NewMetrics()
	s := &sink{take: 100, failing: true}
	o := New("events", 3, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)), s.send, m)
	for i := range 5 {
		o.Push(i)
	}
	assert.False(t, o.Flush(), "a failing sink keeps the queue")
	assert.Equal(t, []int{0, 1, 2}, o.Queued())
	assert.Equal(t, 2.0, testutil.ToFloat64(m.Dropped("events")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Errors("events")))
	assert.Equal(t, map[string]int{"events": 3}, m.Waiting())

	s.failing = false
	assert.True(t, o.Flush())
	assert.Equal(t, []int{0, 1, 2}, s.got)
	assert.Zero(t, o.Len())
}

// A sink that takes part of a batch gets the rest, in order, on the retry.
func TestPartialSendKeepsOrder(t *testing.T) {
	s := &sink{take: 2}
	o := New("history", 10, 5*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), s.send, NewMetrics())
	for i := range 5 {
		o.Push(i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	require.Eventually(t, func() bool { return o.Len() == 0 }, 10*time.Second, time.Millisecond)
	cancel()
	<-done
	assert.Equal(t, []int{0, 1, 2, 3, 4}, s.got)
}

func TestSettledSeesQueue(t *testing.T) {
	s := &sink{take: 100, failing: true}
	o := New("history", 10, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)), s.send, NewMetrics())
	o.Push(7)
	var seen []int
	o.Settled(func(q []int) { seen = q })
	assert.Equal(t, []int{7}, seen)
}
