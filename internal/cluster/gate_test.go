package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/reading"
)

func wards(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("ward-%02d", i)
	}
	return out
}

func TestRendezvousMovesOnlyTheLeaversWards(t *testing.T) {
	ws := wards(100)
	three := []string{"a", "b", "c"}
	count := map[string]int{}
	for _, w := range ws {
		count[owner(three, w)]++
		if o := owner(three, w); o != "c" {
			assert.Equal(t, o, owner([]string{"a", "b"}, w), "%s moved though its owner stayed", w)
		}
	}
	for _, m := range three {
		assert.Greater(t, count[m], 20, "member %s owns a fair share: %v", m, count)
	}
	assert.Equal(t, owner([]string{"a", "b"}, "ward-01"), owner([]string{"b", "a"}, "ward-01"), "the order of members does not matter")
	assert.Equal(t, "", owner(nil, "ward-01"))
}

func TestHandoverFrom(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ws := wards(40)
	// a ward a owned while a and b were live
	var ofA string
	for _, w := range ws {
		if owner([]string{"a", "b"}, w) == "a" {
			ofA = w
			break
		}
	}
	require.NotEmpty(t, ofA)
	both := View{Self: "b", Joined: true, Live: []string{"a", "b"}, OnlineAt: t0}
	durable := map[string]time.Time{"a": t0.Add(time.Minute)}

	aDied := View{Self: "b", Joined: true, Live: []string{"b"}, OnlineAt: t0, DurableThrough: durable}
	assert.Equal(t, t0.Add(time.Minute), handoverFrom(both, aDied, ofA), "from a dead owner: after what it made durable")

	joining := View{Self: "b", Joined: false}
	joined := View{Self: "b", Joined: true, Live: []string{"a", "b"}, OnlineAt: t0.Add(time.Hour), DurableThrough: durable}
	var ofB string
	for _, w := range ws {
		if owner([]string{"a", "b"}, w) == "b" {
			ofB = w
			break
		}
	}
	assert.Equal(t, t0.Add(time.Hour), handoverFrom(joining, joined, ofB), "from a live owner: after it saw this instance announce itself")

	alone := View{Self: "b", Joined: true, Live: []string{"b"}, OnlineAt: t0}
	assert.True(t, handoverFrom(joining, alone, ofA).IsZero(), "nobody owned it: everything held is written")
}

type recordingSink struct {
	mu     sync.Mutex
	got    []*reading.Reading
	ackers []reading.Acker
}

func (s *recordingSink) Deliver(r *reading.Reading, a reading.Acker) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, r.Clone())
	s.ackers = append(s.ackers, a)
	return nil
}

func (s *recordingSink) wards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.got {
		out = append(out, r.Ward+"@"+r.Time.Format("15:04:05"))
	}
	return out
}

func (s *recordingSink) ackAll() {
	s.mu.Lock()
	as := s.ackers
	s.ackers = nil
	s.mu.Unlock()
	for _, a := range as {
		a.Ack()
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func point(ward string, at time.Time) *reading.Reading {
	return &reading.Reading{Measurement: "device_liveness", Ward: ward, Class: "door", Device: "d1",
		Fields: []reading.Field{{Key: "up", Kind: reading.Int, Int: 1}}, Time: at, Received: at}
}

type countAck struct{ n *int }

func (a countAck) Ack() { *a.n++ }

// Two wards, one each: b writes its own and holds a's. a dies having made
// its points durable up to 09:00:10; b takes a's ward over and writes
// what it held after that, not before.
func TestGateWritesOwnHoldsOthersAndTakesOver(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	store := &recordingSink{}
	reg := prometheus.NewRegistry()
	g := NewGate(GateOptions{}, store, slog.New(slog.DiscardHandler), reg)
	g.now = c.now
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Run(ctx)

	ws := wards(20)
	var wa, wb string
	for _, w := range ws {
		switch owner([]string{"a", "b"}, w) {
		case "a":
			wa = w
		case "b":
			wb = w
		}
	}
	both := View{Self: "b", Joined: true, Live: []string{"a", "b"}, OnlineAt: c.t}
	g.SetView(both, []string{wa, wb})
	assert.Equal(t, 1.0, testutil.ToFloat64(g.metrics.owned))

	acked := 0
	for range 20 {
		c.t = c.t.Add(time.Second)
		require.NoError(t, g.Deliver(point(wa, c.t), countAck{&acked}))
		require.NoError(t, g.Deliver(point(wb, c.t), countAck{&acked}))
	}
	assert.Equal(t, 20, acked, "held points are acked at once; written ones when storage says")
	assert.Len(t, store.got, 20, "only b's ward is written")
	assert.Equal(t, 20.0, testutil.ToFloat64(g.metrics.held))

	aDied := View{Self: "b", Joined: true, Live: []string{"b"}, OnlineAt: both.OnlineAt,
		DurableThrough: map[string]time.Time{"a": time.Date(2026, 12, 7, 9, 0, 10, 0, time.UTC)}}
	g.SetView(aDied, []string{wa, wb})
	require.Eventually(t, func() bool { return testutil.ToFloat64(g.metrics.replayed) == 10 }, 5*time.Second, 10*time.Millisecond,
		"the ten points after a's last durable time are written")
	replayed := store.wards()[20:]
	assert.Equal(t, wa+"@09:00:11", replayed[0])
	assert.Equal(t, wa+"@09:00:20", replayed[9])
	assert.Equal(t, 2.0, testutil.ToFloat64(g.metrics.owned))
	assert.Equal(t, 0.0, testutil.ToFloat64(g.metrics.held))

	c.t = c.t.Add(time.Second)
	require.NoError(t, g.Deliver(point(wa, c.t), countAck{&acked}))
	assert.Len(t, store.got, 31, "the ward taken over is written from now on")
}

func TestDurableThroughWaitsForTheOldestUnacked(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	store := &recordingSink{}
	g := NewGate(GateOptions{}, store, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	g.now = c.now
	g.SetView(View{Self: "a", Joined: true, Live: []string{"a"}}, []string{"w"})
	assert.Equal(t, c.t, g.DurableThrough(), "nothing pending: durable through now")
	require.NoError(t, g.Deliver(point("w", c.t), nil))
	first := c.t
	c.t = c.t.Add(time.Second)
	require.NoError(t, g.Deliver(point("w", c.t), nil))
	c.t = c.t.Add(time.Second)
	assert.True(t, g.DurableThrough().Before(first), "an unacked point holds the watermark before it")
	store.ackAll()
	assert.Equal(t, c.t, g.DurableThrough())
}

func TestGateHoldsForAWhileAndWithinItsCap(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	g := NewGate(GateOptions{Hold: time.Minute, MaxHeld: 50}, &recordingSink{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	g.now = c.now
	for i := range 120 {
		c.t = c.t.Add(time.Second)
		require.NoError(t, g.Deliver(point(fmt.Sprintf("w%d", i%2), c.t), nil))
	}
	assert.LessOrEqual(t, testutil.ToFloat64(g.metrics.held), 50.0)
	assert.Greater(t, testutil.ToFloat64(g.metrics.dropped), 0.0, "the cap counts what it lets go")

	g2 := NewGate(GateOptions{Hold: time.Minute}, &recordingSink{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	g2.now = c.now
	for range 120 {
		c.t = c.t.Add(time.Second)
		require.NoError(t, g2.Deliver(point("w", c.t), nil))
	}
	assert.InDelta(t, 61, testutil.ToFloat64(g2.metrics.held), 1, "a minute of points is held")
	assert.Equal(t, 0.0, testutil.ToFloat64(g2.metrics.dropped))
}

// probingSink acks each point at once and records what the gate would
// announce as durable while the next point of the tick is handed over.
type probingSink struct {
	g       *Gate
	durable []time.Time
}

func (s *probingSink) Deliver(_ *reading.Reading, a reading.Acker) error {
	s.durable = append(s.durable, s.g.DurableThrough())
	a.Ack()
	return nil
}

// A tick's points are all pending before the first is written: the
// durable time announced meanwhile stays before the tick, so a survivor
// would still write the ones not yet durable.
func TestDeliverTickMarksTheWholeTickPending(t *testing.T) {
	c := &clock{time.Date(2026, 12, 7, 9, 0, 5, 0, time.UTC)}
	sink := &probingSink{}
	g := NewGate(GateOptions{}, sink, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	sink.g, g.now = g, c.now
	g.SetView(View{Self: "a", Joined: true, Live: []string{"a"}}, []string{"w1", "w2"})
	tick := c.t
	c.t = c.t.Add(20 * time.Millisecond)
	n, err := g.DeliverTick(tick, []*reading.Reading{point("w1", tick), point("w2", tick), point("w1", tick)})
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	require.Len(t, sink.durable, 3)
	for i, d := range sink.durable {
		assert.True(t, d.Before(tick), "while point %d of the tick is handed over, durable through %s, not past the tick", i, d)
	}
	assert.Equal(t, c.t, g.DurableThrough(), "all acked")
}

// A gone member's storage session is taken over by exactly one live
// member, the same one whichever of them is asked, and by none while the
// asker has not joined; a member never adopts itself.
func TestOneLiveMemberAdoptsEachGoneSession(t *testing.T) {
	durable := map[string]time.Time{"a": {}, "b": {}, "c": {}, "d": {}}
	live := []string{"b", "c"}
	for _, gone := range []string{"a", "d"} {
		adopters := 0
		for _, self := range live {
			v := View{Self: self, Joined: true, Live: live, DurableThrough: durable}
			assert.Equal(t, []string{"a", "d"}, v.Gone())
			if v.Adopts(gone) {
				adopters++
			}
			assert.False(t, View{Self: self, Joined: false, Live: live, DurableThrough: durable}.Adopts(gone), "not joined: adopts nothing")
		}
		assert.Equal(t, 1, adopters, "%s's session has one adopter", gone)
	}
	v := View{Self: "b", Joined: true, Live: []string{"b"}, DurableThrough: map[string]time.Time{"b": {}}}
	assert.Empty(t, v.Gone(), "an instance is never gone to itself")
}
