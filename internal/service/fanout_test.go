package service

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
)

// fullAlerts is an alert engine whose queue is full: it drops every
// reading, and notes whether liveness had counted each one before.
type fullAlerts struct {
	tracker      *liveness.Tracker
	dropped      int
	seenUpBefore int
}

func (f *fullAlerts) Observe(r *reading.Reading) {
	f.dropped++
	if f.tracker.Judge(liveness.Key{Ward: r.Ward, Class: r.Class, Device: r.Device}, r.Received).Up {
		f.seenUpBefore++
	}
}

type ackingStore struct{ took int }

func (s *ackingStore) Deliver(_ *reading.Reading, a reading.Acker) error {
	s.took++
	a.Ack()
	return nil
}
func (s *ackingStore) Offer(r *reading.Reading, a reading.Acker) (bool, error) {
	return true, s.Deliver(r, a)
}
func (s *ackingStore) Flush(context.Context) error { return nil }

type nopAck struct{}

func (nopAck) Ack() {}

// A reading the alert engine drops (its queue full) still counts for
// liveness: before, liveness was fed from inside the engine, so the
// status page and device_liveness recorded a silence InfluxDB did not
// have.
func TestReadingDroppedByAFullAlertQueueCountsForLiveness(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	tracker := liveness.New(func(string, string, string) time.Duration { return time.Minute }, t0.Add(-time.Hour))
	alerts := &fullAlerts{tracker: tracker}
	store := &ackingStore{}
	f := &fanout{store: store, observer: observers{tracker, alerts}}
	k := liveness.Key{Ward: "thanh-binh", Class: "door", Device: "door-1"}
	for i, at := range []time.Duration{0, 50 * time.Second, 100 * time.Second} {
		r := &reading.Reading{Measurement: "door", Ward: k.Ward, Class: k.Class, Device: k.Device,
			Time: t0.Add(at), Received: t0.Add(at), Fields: []reading.Field{{Key: "cycles", Kind: reading.Int, Int: int64(i)}}}
		if i%2 == 0 {
			require.NoError(t, f.Deliver(r, nopAck{}))
		} else {
			took, err := f.Offer(r, nopAck{})
			require.NoError(t, err)
			require.True(t, took)
		}
	}
	assert.Equal(t, 3, store.took)
	assert.Equal(t, 3, alerts.dropped)
	assert.Equal(t, 3, alerts.seenUpBefore, "liveness counts each reading before the engine sees it")
	assert.True(t, tracker.Judge(k, t0.Add(150*time.Second)).Up,
		"heard from at 100 s: up at 150 s although the engine dropped every reading")
	assert.False(t, tracker.Judge(k, t0.Add(161*time.Second)).Up, "silent past its heartbeat after its last reading")
}
