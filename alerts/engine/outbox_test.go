package engine

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/view"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/testenv"
)

// stuckSink blocks every Deliver until released, as storage.Batcher does
// while a full spool cannot take its batch.
type stuckSink struct {
	release chan struct{}
	mu      sync.Mutex
	got     []*reading.Reading
}

func (s *stuckSink) Deliver(r *reading.Reading, a reading.Acker) error {
	<-s.release
	s.mu.Lock()
	s.got = append(s.got, r)
	s.mu.Unlock()
	a.Ack()
	return nil
}

func (s *stuckSink) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// within fails the test if f does not return within 10 s: the engine is
// then waiting on something it must not wait on.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still waits after 10 s: the engine is blocked on its event sink", what)
	}
}

// A stuck event sink (the storage pipeline while the spool is full) must
// hold up neither evaluation nor the pages and the API, which all need
// the engine's lock. Before, an alert firing delivered its alert_event
// point to the sink under that lock, and the status page, /api/status
// and /api/alerts stopped answering until the disk had room again.
func TestStuckEventSinkBlocksNeitherEvaluationNorPages(t *testing.T) {
	sink := &stuckSink{release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), func(o *Options) {
		o.Events = sink
		o.OutboxSize = 3
		o.Registerer = reg
	})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- fx.e.Run(ctx, time.Hour) }()
	released := false
	t.Cleanup(func() {
		cancel()
		if !released {
			close(sink.release)
		}
		<-ran
	})

	within(t, "evaluation", func() {
		for _, d := range []string{"door-1", "door-2", "door-3", "door-4", "door-5"} {
			fx.now = monday(8, 30)
			fx.e.Process(&reading.Reading{Measurement: "door", Ward: "thanh-binh", Class: "door", Device: d,
				Fields: []reading.Field{st("state", "open")}, Time: fx.now, Received: fx.now})
		}
		fx.now = monday(8, 36)
		fx.e.Tick(fx.now)
	})
	var active []view.Alert
	within(t, "Active (the status page and /api/alerts)", func() { active = fx.e.Active() })
	require.Len(t, active, 5)
	within(t, "Ack", func() {
		_, err := fx.e.Ack(active[0].ID, "Lê Thị Hoa", "")
		require.NoError(t, err)
	})
	assert.Len(t, fx.n.firing, 5, "notifications do not wait for storage")

	// Five firings and an acknowledgement: three wait (one of them being
	// handed over), three did not fit and are counted.
	assert.Equal(t, 3.0, testutil.ToFloat64(fx.e.m.outboxes.Dropped("events")))
	assert.Equal(t, 3, fx.e.events.Len())
	h, err := fx.e.History(monday(0, 0), monday(23, 0))
	require.NoError(t, err)
	assert.Equal(t, 6.0, float64(len(h))+testutil.ToFloat64(fx.e.m.outboxes.Dropped("history")),
		"the history does not wait for storage either (its queue holds 3 too: what did not fit is counted)")

	close(sink.release)
	released = true
	testenv.Eventually(t, 10*time.Second, "queued events delivered", func() (bool, string) {
		return sink.n() == 3 && fx.e.events.Len() == 0, ""
	})
	var states []string
	for _, r := range sink.got {
		f, _ := r.Field("state")
		states = append(states, f.Str)
	}
	assert.Equal(t, []string{"firing", "firing", "firing"}, states, "in order")
}

// On a full disk the alert state and the incident history cannot be
// written; they are kept and written once there is room, so a restart
// neither forgets an alert that fired meanwhile nor loses its history.
// Before, the history line was dropped silently and the state was marked
// saved although the save had failed, so nothing retried it.
func TestStateAndHistoryWrittenOnceTheDiskHasRoom(t *testing.T) {
	mnt := testenv.TinyFS(t, 256<<10)
	saved, err := store.Open(filepath.Join(mnt, "alerts"))
	require.NoError(t, err)
	logs := &testenv.LogBuffer{}
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), func(o *Options) {
		o.Store = saved
		o.Registerer = prometheus.NewRegistry()
		o.Log = slogTo(logs)
	})
	filler := testenv.FillFS(t, mnt, 1<<20)

	fx.send(monday(8, 30), "door", "thanh-binh", "door-1", st("state", "open"))
	fx.at(monday(8, 36))
	require.Len(t, fx.e.Active(), 1)
	require.Len(t, fx.n.firing, 1)
	h, err := fx.e.History(monday(0, 0), monday(23, 0))
	require.NoError(t, err)
	require.Len(t, h, 1, "the waiting history line is served")
	fx.at(monday(8, 37))
	assert.GreaterOrEqual(t, testutil.ToFloat64(fx.e.m.saveErrors), 2.0, "the state save is retried at each tick")
	assert.GreaterOrEqual(t, testutil.ToFloat64(fx.e.m.outboxes.Errors("history")), 2.0)
	assert.Equal(t, 1, strings.Count(logs.String(), "could not save state"), "logged once, not at every tick")

	filler.Free(t)
	fx.at(monday(8, 38))
	assert.Contains(t, logs.String(), "state saved again")

	again, err := store.Open(filepath.Join(mnt, "alerts"))
	require.NoError(t, err)
	records, err := again.Load()
	require.NoError(t, err)
	require.Len(t, records, 1, "the alert that fired on the full disk is in the state")
	assert.Equal(t, lifecycle.StateFiring, records[0].State)
	onDisk, err := again.History(monday(0, 0), monday(23, 0))
	require.NoError(t, err)
	require.Len(t, onDisk, 1, "the history line is written, once")
	assert.Equal(t, "firing", onDisk[0].State)
	h, err = fx.e.History(monday(0, 0), monday(23, 0))
	require.NoError(t, err)
	assert.Len(t, h, 1, "served once, from the file")

	fx2 := newFixture(t, monday(8, 39), byName("DoorStuckOpen"), func(o *Options) { o.Store = again })
	require.Len(t, fx2.e.Active(), 1, "a restart remembers it")
	assert.Empty(t, fx2.n.firing, "and does not notify it again")
}

func slogTo(w *testenv.LogBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// The state file is written outside the evaluation lock: while its write
// hangs (the store's gate held here stands for a disk that does not
// answer), readings are still evaluated and the pages still answer.
func TestStateWriteHoldsUpNeitherEvaluationNorPages(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), nil)
	fx.store.gate.Lock()
	release := sync.OnceFunc(fx.store.gate.Unlock)
	t.Cleanup(release)
	door := func(at time.Time, state string) *reading.Reading {
		return &reading.Reading{Measurement: "door", Ward: "thanh-binh", Class: "door", Device: "door-1",
			Fields: []reading.Field{st("state", state)}, Time: at, Received: at}
	}
	fx.now = monday(9, 0)
	fx.e.Process(door(monday(9, 0), "open"))
	ticked := make(chan struct{})
	go func() { fx.e.Tick(monday(9, 6)); close(ticked) }() // fires, then saves: the write hangs

	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for {
			p, err := fx.e.Alerts(view.Query{State: lifecycle.StateFiring, Limit: 10})
			if err == nil && p.Total == 1 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		fx.e.Process(door(monday(9, 7), "closed"))
		fx.e.Overview(10, 10)
	}()
	select {
	case <-answered:
	case <-time.After(5 * time.Second):
		t.Fatal("evaluation and the pages wait while the state file is written")
	}
	select {
	case <-ticked:
		t.Fatal("the state write did not hang: the test proves nothing")
	default:
	}
	release()
	<-ticked
	restored, err := fx.store.Load()
	require.NoError(t, err)
	require.Len(t, restored, 1, "the state written once the disk answered")
	assert.Equal(t, lifecycle.StateFiring, restored[0].State)
}
