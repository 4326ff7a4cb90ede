package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/notify"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/notify/notifytest"
	"github.com/facmon/facmon/internal/testenv"
)

// call is one Notify or NotifyUntil call a fake notifier got.
type call struct {
	alerts     []notify.Alert
	validUntil time.Time
	at         time.Time
}

// fakeNotifier records calls; result decides each call's outcome (nil:
// success). With block set, a call waits for it to be closed (or for its
// context) first.
type fakeNotifier struct {
	name   string
	mu     sync.Mutex
	calls  []call
	result func(n int, alerts []notify.Alert) error
	block  chan struct{}
}

func (f *fakeNotifier) Name() string { return f.name }

func (f *fakeNotifier) Notify(ctx context.Context, alerts []notify.Alert) error {
	return f.record(ctx, alerts, time.Time{})
}

func (f *fakeNotifier) record(ctx context.Context, alerts []notify.Alert, until time.Time) error {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.calls)
	f.calls = append(f.calls, call{alerts: append([]notify.Alert(nil), alerts...), validUntil: until, at: time.Now()})
	if f.result != nil {
		return f.result(n, alerts)
	}
	return nil
}

func (f *fakeNotifier) getCalls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// fakeReposter is a fakeNotifier that wants re-posts, like Alertmanager.
type fakeReposter struct{ *fakeNotifier }

func (f fakeReposter) NotifyUntil(ctx context.Context, alerts []notify.Alert, until time.Time) error {
	return f.record(ctx, alerts, until)
}

// alertsIn flattens calls.
func alertsIn(calls []call) []notify.Alert {
	var out []notify.Alert
	for _, c := range calls {
		out = append(out, c.alerts...)
	}
	return out
}

func count(calls []call, pred func(notify.Alert) bool) int {
	n := 0
	for _, a := range alertsIn(calls) {
		if pred(a) {
			n++
		}
	}
	return n
}

func isAlert(id string, resolved bool) func(notify.Alert) bool {
	return func(a notify.Alert) bool { return a.ID == id && a.Resolved() == resolved }
}

// startDispatcher runs d until the test ends and returns a function that
// stops it and waits for Run to return.
func startDispatcher(t *testing.T, d *Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Errorf("Dispatcher.Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, 15*time.Second, what, cond)
}

func fast(o Options) Options {
	if o.BatchWait == 0 {
		o.BatchWait = 5 * time.Millisecond
	}
	if o.MinRetryInterval == 0 {
		o.MinRetryInterval = 10 * time.Millisecond
	}
	if o.ShutdownDrain == 0 {
		o.ShutdownDrain = 2 * time.Second
	}
	return o
}

func TestDispatcherNeverBlocks(t *testing.T) {
	// Every receiver hangs: a fake Alertmanager, a fake webhook, and a real
	// Alertmanager notifier against a server that never answers.
	hang := make(chan struct{})
	srv := notifytest.NewRecorder(t, func(_ int, _ http.ResponseWriter, r *http.Request) bool {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return false
	})
	defer close(hang)
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{srv.URL}, Timeout: notify.Duration(time.Hour)}, nil)
	require.NoError(t, err)
	block := make(chan struct{}) // never closed
	fakeAM := fakeReposter{&fakeNotifier{name: "fake-am", block: block}}
	fakeWH := &fakeNotifier{name: "fake-webhook", block: block}
	reg := prometheus.NewRegistry()
	d := New([]notify.Notifier{am, fakeAM, fakeWH}, fast(Options{
		RepostInterval: 10 * time.Millisecond, QueueSize: 100, ShutdownDrain: 100 * time.Millisecond,
	}), nil, reg)
	stop := startDispatcher(t, d)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 5000 {
			a := notifytest.DoorAlert(fmt.Sprintf("door-%d", i))
			d.Firing(a)
			d.Firing(a)
			if i%2 == 0 {
				a.EndsAt = time.Now()
				d.Resolved(a)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Firing/Resolved blocked while the receivers hang")
	}
	// 5000 first notifications and 2500 resolutions wait, none dropped (less
	// the batch each worker is stuck on). Re-posts are queued between
	// requests only, so none pile up behind a hanging one.
	for _, n := range []string{"alertmanager", "fake-am", "fake-webhook"} {
		eventually(t, n+" queue", func() (bool, string) {
			q := notifytest.Metric(t, reg, "facmon_notification_queue_length", map[string]string{"notifier": n})
			return q >= 7500-64 && q <= 7500+100, fmt.Sprintf("queue length %v", q)
		})
	}
	stop() // returns although nothing can be delivered: the drain is bounded
}

func TestDispatcherRepostsWithEndsAt(t *testing.T) {
	rec := notifytest.NewRecorder(t, nil)
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{rec.URL}}, nil)
	require.NoError(t, err)
	const interval = 250 * time.Millisecond
	d := New([]notify.Notifier{am}, fast(Options{RepostInterval: interval}), nil, nil)
	startDispatcher(t, d)

	a := notifytest.DoorAlert("door-1")
	d.Firing(a)
	eventually(t, "first post and three re-posts", func() (bool, string) {
		return len(rec.Requests()) >= 4, fmt.Sprintf("%d posts", len(rec.Requests()))
	})
	for i, r := range rec.Requests() {
		got := notifytest.DecodeAM(t, r.Body)
		require.Len(t, got, 1, "post %d", i)
		assert.Equal(t, "door-1", got[0].Labels["device"])
		assert.Equal(t, "2026-11-23T02:15:00.123Z", got[0].StartsAt)
		end, err := time.Parse(time.RFC3339, got[0].EndsAt)
		require.NoError(t, err)
		// endsAt = send time + 4 × RepostInterval, the send time being
		// before the server's receive time.
		assert.False(t, end.After(r.At.Add(4*interval)), "post %d: endsAt %v is more than 4 intervals after %v", i, end, r.At)
		assert.True(t, end.After(r.At.Add(interval)), "post %d: endsAt %v is too close to %v", i, end, r.At)
	}

	resolvedAt := time.Now().Truncate(time.Millisecond)
	a.EndsAt = resolvedAt
	d.Resolved(a)
	var resolution int
	eventually(t, "the resolution", func() (bool, string) {
		for i, r := range rec.Requests() {
			if got := notifytest.DecodeAM(t, r.Body); got[0].EndsAt == resolvedAt.UTC().Format(notifytest.AMTime) {
				resolution = i
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d posts", len(rec.Requests()))
	})
	// Three more intervals: the resolved alert is forgotten, never re-posted
	// (a re-post after the resolution would make it fire again).
	time.Sleep(3 * interval)
	assert.Len(t, rec.Requests(), resolution+1, "posts after the resolution")
}

func TestDispatcherWebhookOncePerTransition(t *testing.T) {
	wh := &fakeNotifier{name: "webhook:x"}
	am := fakeReposter{&fakeNotifier{name: "alertmanager"}}
	const interval = 50 * time.Millisecond
	d := New([]notify.Notifier{am, wh}, fast(Options{RepostInterval: interval}), nil, nil)
	startDispatcher(t, d)

	a := notifytest.DoorAlert("door-1")
	for i := range 5 {
		a.Annotations["description_en"] = fmt.Sprintf("open for %d minutes", 5+i) // still the same alert
		d.Firing(a)
	}
	eventually(t, "webhook gets the firing alert", func() (bool, string) {
		return count(wh.getCalls(), isAlert(a.ID, false)) == 1, fmt.Sprint(len(wh.getCalls()))
	})
	// Alertmanager gets re-posts meanwhile, with the newest annotations.
	eventually(t, "re-posts", func() (bool, string) {
		n := count(am.getCalls(), isAlert(a.ID, false))
		return n >= 4, fmt.Sprint(n)
	})
	last := alertsIn(am.getCalls())
	assert.Equal(t, "open for 9 minutes", last[len(last)-1].Annotations["description_en"])

	esc := a.Clone()
	esc.Labels["escalation"] = "1"
	d.Firing(esc)
	d.Firing(esc)
	eventually(t, "webhook gets the escalation", func() (bool, string) {
		return count(wh.getCalls(), func(x notify.Alert) bool { return x.Labels["escalation"] == "1" }) == 1, fmt.Sprint(len(wh.getCalls()))
	})
	esc.EndsAt = time.Now()
	d.Resolved(esc)
	eventually(t, "webhook gets the resolution", func() (bool, string) {
		return count(wh.getCalls(), isAlert(a.ID, true)) == 1, fmt.Sprint(len(wh.getCalls()))
	})
	time.Sleep(4 * interval)
	calls := wh.getCalls()
	assert.Len(t, alertsIn(calls), 3, "firing, escalation, resolution; no re-posts")
	for _, c := range calls {
		assert.True(t, c.validUntil.IsZero())
	}
}

func TestDispatcherEscalationResolvesEveryLabelSet(t *testing.T) {
	am := fakeReposter{&fakeNotifier{name: "alertmanager"}}
	const interval = 50 * time.Millisecond
	d := New([]notify.Notifier{am}, fast(Options{RepostInterval: interval}), nil, nil)
	startDispatcher(t, d)

	a := notifytest.DoorAlert("door-1")
	esc := a.Clone()
	esc.Labels["escalation"] = "1"
	d.Firing(a)
	d.Firing(esc)
	escalated := func(x notify.Alert) bool { return x.Labels["escalation"] == "1" }
	eventually(t, "both label sets re-posted", func() (bool, string) {
		calls := am.getCalls()
		return count(calls, escalated) >= 3 && count(calls, func(x notify.Alert) bool { return !escalated(x) }) >= 3, fmt.Sprint(len(calls))
	})
	for _, c := range am.getCalls() {
		assert.True(t, c.validUntil.After(c.at), "firing posts carry an endsAt in the future")
	}

	resolvedAt := time.Now()
	esc.EndsAt = resolvedAt
	d.Resolved(esc)
	eventually(t, "both label sets resolved", func() (bool, string) {
		calls := am.getCalls()
		n := count(calls, func(x notify.Alert) bool { return x.Resolved() && x.EndsAt.Equal(resolvedAt) })
		return n == 2, fmt.Sprint(n)
	})
	before := len(alertsIn(am.getCalls()))
	time.Sleep(4 * interval)
	assert.Len(t, alertsIn(am.getCalls()), before, "nothing re-posted after the resolution")
}

func TestDispatcherRestore(t *testing.T) {
	wh := &fakeNotifier{name: "webhook:x"}
	am := fakeReposter{&fakeNotifier{name: "alertmanager"}}
	d := New([]notify.Notifier{am, wh}, fast(Options{RepostInterval: time.Hour}), nil, nil)
	a := notifytest.DoorAlert("door-1")
	d.Restore(a) // before Run, as at start-up
	startDispatcher(t, d)
	eventually(t, "Alertmanager gets the restored alert at once", func() (bool, string) {
		return count(am.getCalls(), isAlert(a.ID, false)) == 1, ""
	})
	d.Firing(a) // the engine's next evaluation: nothing new
	a.EndsAt = time.Now()
	d.Resolved(a)
	eventually(t, "both get the resolution", func() (bool, string) {
		return count(wh.getCalls(), isAlert(a.ID, true)) == 1 && count(am.getCalls(), isAlert(a.ID, true)) == 1, ""
	})
	assert.Len(t, alertsIn(wh.getCalls()), 1, "the webhook was told of the firing alert before the restart")
}

func TestDispatcherRetryAfter(t *testing.T) {
	rec := notifytest.NewRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
		if n == 0 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "x", URL: rec.URL}, nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	d := New([]notify.Notifier{wh}, fast(Options{}), nil, reg)
	startDispatcher(t, d)
	d.Firing(notifytest.DoorAlert("door-1"))
	eventually(t, "retried and delivered", func() (bool, string) {
		return len(rec.Requests()) == 2, fmt.Sprint(len(rec.Requests()))
	})
	reqs := rec.Requests()
	assert.Equal(t, reqs[0].Body, reqs[1].Body)
	gap := reqs[1].At.Sub(reqs[0].At)
	assert.GreaterOrEqual(t, gap, 950*time.Millisecond, "the retry came %v after a 503 with Retry-After: 1", gap)
	eventually(t, "metrics", func() (bool, string) {
		ok := notifytest.Metric(t, reg, "facmon_notifications_total", map[string]string{"notifier": "webhook:x", "result": "ok"})
		return ok == 1, fmt.Sprint(ok)
	})
	assert.Equal(t, 1.0, notifytest.Metric(t, reg, "facmon_notifications_total", map[string]string{"notifier": "webhook:x", "result": "error"}))
	assert.Equal(t, 0.0, notifytest.Metric(t, reg, "facmon_notification_failures_total", map[string]string{"notifier": "webhook:x"}))
	assert.Equal(t, 2.0, notifytest.Metric(t, reg, "facmon_notification_duration_seconds", map[string]string{"notifier": "webhook:x"}))
}

func TestDispatcherBackoffGrowsAndCaps(t *testing.T) {
	f := &fakeNotifier{name: "x", result: func(n int, _ []notify.Alert) error {
		if n < 7 {
			return errors.New("connection refused")
		}
		return nil
	}}
	d := New([]notify.Notifier{f}, fast(Options{MinRetryInterval: 20 * time.Millisecond, MaxRetryInterval: 80 * time.Millisecond}), nil, nil)
	startDispatcher(t, d)
	d.Firing(notifytest.DoorAlert("door-1"))
	eventually(t, "eight attempts", func() (bool, string) { return len(f.getCalls()) == 8, fmt.Sprint(len(f.getCalls())) })
	calls := f.getCalls()
	want := []time.Duration{20, 40, 80, 80, 80, 80, 80}
	for i, w := range want {
		gap := calls[i+1].at.Sub(calls[i].at)
		assert.GreaterOrEqual(t, gap, w*time.Millisecond*9/10, "wait before attempt %d", i+2)
	}
}

func TestDispatcherGivesUp(t *testing.T) {
	var mu sync.Mutex
	failing := true
	rec := notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	})
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "x", URL: rec.URL}, nil)
	require.NoError(t, err)
	var logs testenv.LogBuffer
	reg := prometheus.NewRegistry()
	d := New([]notify.Notifier{wh}, fast(Options{GiveUpAfter: 300 * time.Millisecond, MaxRetryInterval: 50 * time.Millisecond}),
		slog.New(slog.NewTextHandler(&logs, nil)), reg)
	startDispatcher(t, d)

	d.Firing(notifytest.DoorAlert("door-1"))
	eventually(t, "given up", func() (bool, string) {
		v := notifytest.Metric(t, reg, "facmon_notification_failures_total", map[string]string{"notifier": "webhook:x"})
		return v == 1, fmt.Sprint(v)
	})
	assert.Contains(t, logs.String(), "level=ERROR msg=\"giving up on notifications after retrying\" notifier=webhook:x alerts=1 alertnames=[DoorStuckOpen]")
	assert.Contains(t, logs.String(), "notification failed; retrying")
	tries := len(rec.Requests())
	assert.Greater(t, tries, 2)

	// The receiver is back: the next alert goes through; the given-up one
	// is not sent again.
	mu.Lock()
	failing = false
	mu.Unlock()
	d.Firing(notifytest.DoorAlert("door-2"))
	eventually(t, "next alert delivered", func() (bool, string) {
		return len(rec.Requests()) == tries+1, fmt.Sprint(len(rec.Requests()))
	})
	assert.Contains(t, string(rec.Requests()[tries].Body), "door-2")
	assert.NotContains(t, string(rec.Requests()[tries].Body), "door-1")
}

func TestDispatcherPermanentError(t *testing.T) {
	rec := notifytest.NewRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) bool {
		if n == 0 {
			http.Error(w, "bad alert", http.StatusBadRequest)
			return true
		}
		return false
	})
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "x", URL: rec.URL}, nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	var logs testenv.LogBuffer
	d := New([]notify.Notifier{wh}, fast(Options{}), slog.New(slog.NewTextHandler(&logs, nil)), reg)
	startDispatcher(t, d)
	d.Firing(notifytest.DoorAlert("door-1"))
	eventually(t, "refused", func() (bool, string) {
		v := notifytest.Metric(t, reg, "facmon_notification_failures_total", map[string]string{"notifier": "webhook:x"})
		return v == 1, fmt.Sprint(v)
	})
	assert.Contains(t, logs.String(), "bad alert")
	d.Firing(notifytest.DoorAlert("door-2"))
	eventually(t, "next alert delivered", func() (bool, string) { return len(rec.Requests()) == 2, fmt.Sprint(len(rec.Requests())) })
}

func TestDispatcherFullQueueDropsOnlyReposts(t *testing.T) {
	// A slow receiver: re-posts pile up faster than they go out.
	am := fakeReposter{&fakeNotifier{name: "alertmanager", result: func(int, []notify.Alert) error {
		time.Sleep(20 * time.Millisecond)
		return nil
	}}}
	reg := prometheus.NewRegistry()
	d := New([]notify.Notifier{am}, fast(Options{RepostInterval: 10 * time.Millisecond, QueueSize: 3, BatchSize: 4}), nil, reg)
	for i := range 10 {
		d.Firing(notifytest.DoorAlert(fmt.Sprintf("door-%d", i)))
	}
	startDispatcher(t, d)
	eventually(t, "re-posts dropped", func() (bool, string) {
		v := notifytest.Metric(t, reg, "facmon_notifications_dropped_total", nil)
		return v >= 20, fmt.Sprint(v)
	})
	for i := 10; i < 20; i++ {
		d.Firing(notifytest.DoorAlert(fmt.Sprintf("door-%d", i)))
	}
	gone := notifytest.DoorAlert("door-9")
	gone.EndsAt = time.Now()
	d.Resolved(gone)
	eventually(t, "every first notification and the resolution delivered", func() (bool, string) {
		calls := am.getCalls()
		for i := range 20 {
			if count(calls, isAlert(notifytest.DoorAlert(fmt.Sprintf("door-%d", i)).ID, false)) == 0 {
				return false, fmt.Sprintf("door-%d missing", i)
			}
		}
		return count(calls, isAlert(gone.ID, true)) == 1, "no resolution"
	})
	// Though only 3 re-posts fit in the queue, every firing alert gets its
	// turn: none is left to expire in Alertmanager.
	eventually(t, "every firing alert re-posted", func() (bool, string) {
		calls := am.getCalls()
		for i := range 20 {
			if i == 9 {
				continue
			}
			if count(calls, isAlert(notifytest.DoorAlert(fmt.Sprintf("door-%d", i)).ID, false)) < 3 {
				return false, fmt.Sprintf("door-%d posted less than 3 times", i)
			}
		}
		return true, ""
	})
	assert.LessOrEqual(t, notifytest.Metric(t, reg, "facmon_notification_queue_length", nil), 3.0, "at most QueueSize re-posts wait")
	// door-9 was never re-posted after its resolution.
	seenResolution := false
	for _, a := range alertsIn(am.getCalls()) {
		if a.ID != gone.ID {
			continue
		}
		if a.Resolved() {
			seenResolution = true
		} else {
			assert.False(t, seenResolution, "door-9 posted as firing after its resolution")
		}
	}
}

func TestDispatcherBatches(t *testing.T) {
	f := &fakeNotifier{name: "x"}
	d := New([]notify.Notifier{f}, fast(Options{BatchSize: 3, BatchWait: 50 * time.Millisecond}), nil, nil)
	for i := range 7 {
		d.Firing(notifytest.DoorAlert(fmt.Sprintf("door-%d", i)))
	}
	startDispatcher(t, d)
	eventually(t, "three requests", func() (bool, string) { return len(alertsIn(f.getCalls())) == 7, "" })
	var sizes []int
	for _, c := range f.getCalls() {
		sizes = append(sizes, len(c.alerts))
	}
	assert.Equal(t, []int{3, 3, 1}, sizes)
	for i, a := range alertsIn(f.getCalls()) {
		assert.Equal(t, fmt.Sprintf("door-%d", i), a.Labels["device"], "order kept")
	}
}

func TestDispatcherShutdownDrain(t *testing.T) {
	block := make(chan struct{})
	f := &fakeNotifier{name: "x", block: block}
	d := New([]notify.Notifier{f}, fast(Options{}), nil, nil)
	stop := startDispatcher(t, d)
	a := notifytest.DoorAlert("door-1")
	d.Firing(a)
	a.EndsAt = time.Now()
	d.Resolved(a)
	time.Sleep(50 * time.Millisecond) // the first call is hanging now
	f.mu.Lock()
	f.block = nil // the receiver answers again
	f.mu.Unlock()
	stop() // cancels the hanging call; the drain sends both
	calls := f.getCalls()
	assert.Equal(t, 1, count(calls, isAlert(a.ID, false)))
	assert.Equal(t, 1, count(calls, isAlert(a.ID, true)))
	close(block)
}

func TestDispatcherRunTwice(t *testing.T) {
	d := New(nil, Options{}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, d.Run(ctx))
	require.Error(t, d.Run(ctx))
	d.Firing(notifytest.DoorAlert("door-1")) // no notifiers: nothing happens, nothing blocks
}

func TestDispatcherCopiesAlerts(t *testing.T) {
	f := &fakeNotifier{name: "x"}
	d := New([]notify.Notifier{f}, fast(Options{}), nil, nil)
	a := notifytest.DoorAlert("door-1")
	d.Firing(a)
	a.Labels["device"] = "changed-after-the-call"
	startDispatcher(t, d)
	eventually(t, "delivered", func() (bool, string) { return len(f.getCalls()) == 1, "" })
	assert.Equal(t, "door-1", f.getCalls()[0].alerts[0].Labels["device"])
}
