package silence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/notify/dispatch"
	"github.com/facmon/facmon/alerts/notify/notifytest"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/alertmanager"
)

// fakeSilences is Alertmanager's silences API in memory; down makes every
// call fail as a connection refused would.
type fakeSilences struct {
	mu      sync.Mutex
	down    bool
	n       int
	active  map[string]notify.PostableSilence
	expired []string
}

func (f *fakeSilences) CreateSilence(_ context.Context, s notify.PostableSilence) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return "", errors.New("connection refused")
	}
	if f.active == nil {
		f.active = map[string]notify.PostableSilence{}
	}
	id := s.ID
	if id == "" {
		f.n++
		id = "sil-" + strconv.Itoa(f.n)
	}
	f.active[id] = s
	return id, nil
}

func (f *fakeSilences) ExpireSilence(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errors.New("connection refused")
	}
	delete(f.active, id)
	f.expired = append(f.expired, id)
	return nil
}

func (f *fakeSilences) setDown(v bool) { f.mu.Lock(); f.down = v; f.mu.Unlock() }
func (f *fakeSilences) count() int     { f.mu.Lock(); defer f.mu.Unlock(); return len(f.active) }

func runSilencer(t *testing.T, api API, opts Options) (*Silencer, *prometheus.Registry, func()) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := New(api, opts, nil, reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return s, reg, stop
}

func TestSilencerSilencesExactlyTheAlert(t *testing.T) {
	api := &fakeSilences{}
	var mu sync.Mutex
	changes := map[string]string{}
	s, _, _ := runSilencer(t, api, Options{OnChange: func(a, id string) { mu.Lock(); changes[a] = id; mu.Unlock() }})
	door := notifytest.DoorAlert("door-1")
	esc := door
	esc.Labels = map[string]string{"escalation": "1"}
	for k, v := range door.Labels {
		esc.Labels[k] = v
	}
	s.Silence(esc, "Minh", "đang xử lý")
	testenv.Eventually(t, 5*time.Second, "silence created", func() (bool, string) { return s.SilenceID(door.ID) != "", "" })
	api.mu.Lock()
	sil := api.active[s.SilenceID(door.ID)]
	api.mu.Unlock()
	assert.Equal(t, "Minh", sil.CreatedBy)
	assert.Equal(t, "đang xử lý", sil.Comment)
	var names []string
	for _, m := range sil.Matchers {
		assert.True(t, m.IsEqual)
		assert.False(t, m.IsRegex)
		assert.Equal(t, door.Labels[m.Name], m.Value, m.Name)
		names = append(names, m.Name)
	}
	assert.Len(t, names, len(door.Labels), "every label of the alert, and not the escalation label: %v", names)
	mu.Lock()
	assert.Equal(t, s.SilenceID(door.ID), changes[door.ID], "the engine is told the silence id")
	mu.Unlock()

	s.Expire(door.ID)
	testenv.Eventually(t, 5*time.Second, "silence expired", func() (bool, string) { return api.count() == 0, "" })
	assert.Equal(t, "", s.SilenceID(door.ID))
	mu.Lock()
	assert.Equal(t, "", changes[door.ID])
	mu.Unlock()
}

// Alertmanager down at ack time: the silence is retried until it lands,
// failures counted, and a restart of facmon in between forgets nothing.
func TestSilencerRetriesAndSurvivesARestart(t *testing.T) {
	api := &fakeSilences{down: true}
	state := filepath.Join(t.TempDir(), "silences.json")
	opts := Options{StateFile: state, RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond}
	s, reg, stop := runSilencer(t, api, opts)
	s.Silence(notifytest.DoorAlert("door-1"), "Minh", "")
	testenv.Eventually(t, 5*time.Second, "failures counted", func() (bool, string) {
		n := notifytest.Metric(t, reg, "facmon_alert_silence_errors_total", nil)
		return n >= 2, ""
	})
	assert.Equal(t, 1, s.Pending())
	stop()

	api.setDown(false)
	s2, _, _ := runSilencer(t, api, opts)
	testenv.Eventually(t, 5*time.Second, "the silence lands after the restart", func() (bool, string) {
		return s2.SilenceID(notifytest.DoorAlert("door-1").ID) != "", ""
	})
	assert.Equal(t, 1, api.count())
	assert.Equal(t, 0, s2.Pending())
}

// An ack withdrawn before its silence was created leaves no silence.
func TestSilencerExpireBeforeCreate(t *testing.T) {
	api := &fakeSilences{down: true}
	s, _, _ := runSilencer(t, api, Options{RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	a := notifytest.DoorAlert("door-1")
	s.Silence(a, "Minh", "")
	s.Expire(a.ID)
	api.setDown(false)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, 0, api.count())
	assert.Equal(t, 0, s.Pending())
}

// A silence is renewed before its end while the ack holds.
func TestSilencerRenews(t *testing.T) {
	api := &fakeSilences{}
	s, _, _ := runSilencer(t, api, Options{Lifetime: 200 * time.Millisecond})
	a := notifytest.DoorAlert("door-1")
	s.Silence(a, "Minh", "")
	testenv.Eventually(t, 5*time.Second, "created", func() (bool, string) { return s.SilenceID(a.ID) != "", "" })
	api.mu.Lock()
	first := api.active[s.SilenceID(a.ID)].EndsAt
	api.mu.Unlock()
	testenv.Eventually(t, 5*time.Second, "renewed with a later end", func() (bool, string) {
		api.mu.Lock()
		defer api.mu.Unlock()
		cur := api.active[s.SilenceID(a.ID)].EndsAt
		return cur > first, cur
	})
	assert.Equal(t, 1, api.count(), "renewed in place, not a second silence")
}

// silenceState asks the real Alertmanager for a silence's state.
func silenceState(t *testing.T, amURL, id string) string {
	t.Helper()
	resp, err := http.Get(amURL + "/api/v2/silence/" + id)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Status struct {
			State string `json:"state"`
		} `json:"status"`
		CreatedBy string `json:"createdBy"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Status.State
}

// The real Alertmanager: an alert notifies at every repeat interval until
// it is acknowledged; then its silence stops the notifications, the alert
// carries the ack, and the resolve expires the silence.
func TestRealAlertmanagerAckSilencesUntilResolved(t *testing.T) {
	t.Parallel()
	rx := alertmanager.WebhookReceiver(t)
	amp := alertmanager.Start(t, rx.URL, alertmanager.WithTimings(0, time.Second, 2*time.Second))
	// The first URL is down: the silence goes to the one that answers.
	dead := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{dead, amp.URL}}, nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	// Firing posts carry endsAt = now + 4 s.
	d := dispatch.New([]notify.Notifier{am}, dispatch.Options{RepostInterval: time.Second, BatchWait: 10 * time.Millisecond, MinRetryInterval: 100 * time.Millisecond}, nil, reg)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); assert.NoError(t, <-ran) })
	sil, _, _ := runSilencer(t, am, Options{})

	door := notifytest.DoorAlert("door-1")
	door.StartsAt = time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	labels := map[string]string{"alertname": "DoorStuckOpen", "device": "door-1"}
	d.Firing(door)
	rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool {
		return alertmanager.CountAlerts(ns, "firing", labels) >= 2
	}) // notified, and notified again at the repeat interval

	door.Acknowledged, door.AckBy, door.AckComment = true, "Minh", "đang xử lý"
	sil.Silence(door, "Minh", "đang xử lý")
	d.Update(door)
	testenv.Eventually(t, 10*time.Second, "silence created", func() (bool, string) { return sil.SilenceID(door.ID) != "", "" })
	id := sil.SilenceID(door.ID)
	assert.Equal(t, "active", silenceState(t, amp.URL, id))
	testenv.Eventually(t, 10*time.Second, "Alertmanager holds the acknowledged, silenced alert", func() (bool, string) {
		for _, a := range amp.Alerts(t) {
			if a.Labels["device"] == "door-1" {
				return a.Annotations["acknowledged_by"] == "Minh" && a.Status.State == "suppressed" && len(a.Status.SilencedBy) == 1 && a.Status.SilencedBy[0] == id,
					a.Status.State + " " + a.Annotations["acknowledged_by"]
			}
		}
		return false, "no alert"
	})
	time.Sleep(1500 * time.Millisecond) // a notification already in flight
	rx.Reset()
	time.Sleep(7 * time.Second) // three repeat intervals
	assert.Equal(t, 0, rx.Count("firing", labels), "no notification reaches the on-call person after the ack")

	door.EndsAt = time.Now()
	d.Resolved(door)
	sil.Expire(door.ID)
	testenv.Eventually(t, 10*time.Second, "the resolve expires the silence", func() (bool, string) {
		st := silenceState(t, amp.URL, id)
		return st == "expired", st
	})
}

// A silence another instance created is renewed and expired from here
// once adopted; one this instance just expired is not brought back by a
// listing made before, and Forget drops one without calling Alertmanager.
func TestSilencerAdoptsAndRefusesWhatItExpired(t *testing.T) {
	api := &fakeSilences{}
	s, _, _ := runSilencer(t, api, Options{Lifetime: 2 * time.Second})
	door := notifytest.DoorAlert("door-1")
	require.True(t, s.Adopt(door, "Hùng", "đang tới", "sil-peer", time.Now().Add(time.Second)))
	testenv.Eventually(t, 5*time.Second, "the adopted silence renewed from here", func() (bool, string) {
		api.mu.Lock()
		defer api.mu.Unlock()
		sil, ok := api.active["sil-peer"]
		return ok && sil.CreatedBy == "Hùng", fmt.Sprint(api.active)
	})
	s.Expire(door.ID)
	testenv.Eventually(t, 5*time.Second, "expired from here", func() (bool, string) { return api.count() == 0, "" })
	assert.False(t, s.Adopt(door, "Hùng", "đang tới", "sil-peer", time.Now().Add(time.Hour)), "a stale listing does not bring it back")
	assert.Equal(t, "", s.SilenceID(door.ID))

	other := notifytest.DoorAlert("door-2")
	require.True(t, s.Adopt(other, "Thu", "", "sil-2", time.Now().Add(time.Hour)))
	s.Forget(other.ID)
	time.Sleep(100 * time.Millisecond)
	api.mu.Lock()
	assert.NotContains(t, api.expired, "sil-2", "forgotten, not expired: someone else did")
	api.mu.Unlock()
}
