package dispatch

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/notify"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/notify/notifytest"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/alertmanager"
)

// The tests below run Debian's prometheus-alertmanager (scripts/deps.sh
// alertmanager) with a webhook receiver the test serves: group_by "...",
// group_wait 0s, group_interval 1s, repeat_interval 1h.

const itRepost = time.Second // firing posts carry endsAt = now + 4s

func acAlert(ward string) notify.Alert {
	return notify.Alert{
		ID: "ac-failure/" + ward + "/hvac/ac-1",
		Labels: map[string]string{
			"alertname": "ACFailure", "severity": "critical", "ward": ward, "class": "hvac", "device": "ac-1",
		},
		Annotations: map[string]string{
			"summary_vi": "Điều hòa hỏng", "summary_en": "Air conditioner failure",
			"runbook_url": "https://wiki.example/runbooks/ac-failure",
		},
		StartsAt:     time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond),
		GeneratorURL: "http://facmon.example/alerts/ac-failure/" + ward + "/hvac/ac-1",
	}
}

func realDoorAlert() notify.Alert {
	a := notifytest.DoorAlert("door-1")
	a.StartsAt = time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	return a
}

// newAMDispatcher runs a Dispatcher with one Alertmanager notifier for urls.
func newAMDispatcher(t *testing.T, urls ...string) (*Dispatcher, *prometheus.Registry, func()) {
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: urls}, nil)
	require.NoError(t, err)
	reg := prometheus.NewRegistry()
	d := New([]notify.Notifier{am}, Options{RepostInterval: itRepost, BatchWait: 10 * time.Millisecond, MinRetryInterval: 100 * time.Millisecond}, nil, reg)
	return d, reg, startDispatcher(t, d)
}

func posts(t *testing.T, reg *prometheus.Registry) float64 {
	return notifytest.Metric(t, reg, "facmon_notifications_total", map[string]string{"notifier": "alertmanager", "result": "ok"})
}

func TestRealAlertmanagerFiringRepostResolve(t *testing.T) {
	t.Parallel()
	rx := alertmanager.WebhookReceiver(t)
	amp := alertmanager.Start(t, rx.URL)
	d, reg, _ := newAMDispatcher(t, amp.URL)

	door, ac := realDoorAlert(), acAlert("hai-chau-1")
	doorLabels := map[string]string{"alertname": "DoorStuckOpen", "ward": "thanh-binh", "device": "door-1"}
	acLabels := map[string]string{"alertname": "ACFailure", "ward": "hai-chau-1", "device": "ac-1"}
	notEscalated := func(ns []alertmanager.Notification, status string, labels map[string]string) int {
		n := 0
		for _, a := range alertmanager.AlertsOf(ns) {
			if a.Matches(status, labels) && a.Labels["escalation"] == "" {
				n++
			}
		}
		return n
	}

	d.Firing(door)
	d.Firing(ac)
	ns := rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool {
		return alertmanager.CountAlerts(ns, "firing", doorLabels) == 1 && alertmanager.CountAlerts(ns, "firing", acLabels) == 1
	})
	for _, a := range alertmanager.AlertsOf(ns) {
		want := door
		if a.Labels["alertname"] == "ACFailure" {
			want = ac
		}
		assert.Equal(t, want.Labels, a.Labels, "labels as facmon sent them")
		assert.Equal(t, want.Annotations, a.Annotations)
		assert.Equal(t, want.GeneratorURL, a.GeneratorURL)
		assert.True(t, a.StartsAt.Equal(want.StartsAt), "startsAt %v, want %v", a.StartsAt, want.StartsAt)
	}

	// Re-posted for longer than the endsAt horizon (4s): Alertmanager keeps
	// both firing and notifies nobody again.
	start := posts(t, reg)
	testenv.Eventually(t, 30*time.Second, "six re-posts", func() (bool, string) {
		p := posts(t, reg)
		return p >= start+6, fmt.Sprintf("%v posts", p)
	})
	ns = rx.Notifications()
	assert.Equal(t, 1, notEscalated(ns, "firing", doorLabels), "re-posts make no new notification:\n%s", alertmanager.Describe(ns))
	assert.Equal(t, 1, notEscalated(ns, "firing", acLabels), "re-posts make no new notification:\n%s", alertmanager.Describe(ns))
	assert.Zero(t, alertmanager.CountAlerts(ns, "resolved", nil), "nothing resolved by itself:\n%s", alertmanager.Describe(ns))
	assert.Len(t, amp.Alerts(t), 2)

	// The door clears: its resolution arrives; the AC goes on firing.
	door.EndsAt = time.Now()
	d.Resolved(door)
	rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool {
		return alertmanager.CountAlerts(ns, "resolved", doorLabels) == 1
	})

	// The AC escalates: a new notification with escalation="1".
	esc := ac.Clone()
	esc.Labels["escalation"] = "1"
	d.Firing(esc)
	escLabels := map[string]string{"alertname": "ACFailure", "ward": "hai-chau-1", "escalation": "1"}
	rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool {
		return alertmanager.CountAlerts(ns, "firing", escLabels) == 1
	})

	// The AC clears: both its label sets are resolved.
	esc.EndsAt = time.Now()
	d.Resolved(esc)
	ns = rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool {
		return notEscalated(ns, "resolved", acLabels) == 1 && alertmanager.CountAlerts(ns, "resolved", escLabels) == 1
	})
	assert.Equal(t, 1, notEscalated(ns, "firing", doorLabels), "%s", alertmanager.Describe(ns))
	assert.Equal(t, 1, notEscalated(ns, "firing", acLabels), "%s", alertmanager.Describe(ns))
	assert.Equal(t, 1, alertmanager.CountAlerts(ns, "firing", escLabels), "%s", alertmanager.Describe(ns))
	assert.Empty(t, amp.Alerts(t), "Alertmanager holds no active alert")
	assert.Zero(t, notifytest.Metric(t, reg, "facmon_notification_failures_total", nil))
}

// facmon stops without resolving: Alertmanager ends the alert by itself at
// the endsAt of the last post, a few re-post intervals later.
func TestRealAlertmanagerEndsAlertsWhenFacmonStops(t *testing.T) {
	t.Parallel()
	rx := alertmanager.WebhookReceiver(t)
	amp := alertmanager.Start(t, rx.URL)
	d, _, stop := newAMDispatcher(t, amp.URL)
	d.Firing(realDoorAlert())
	labels := map[string]string{"alertname": "DoorStuckOpen", "device": "door-1"}
	rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool { return alertmanager.CountAlerts(ns, "firing", labels) == 1 })
	stopped := time.Now()
	stop()
	ns := rx.WaitFor(t, 30*time.Second, func(ns []alertmanager.Notification) bool {
		return alertmanager.CountAlerts(ns, "resolved", labels) == 1
	})
	var resolved alertmanager.ReceivedAlert
	for _, a := range alertmanager.AlertsOf(ns) {
		if a.Status == "resolved" {
			resolved = a
		}
	}
	assert.False(t, resolved.EndsAt.After(stopped.Add(4*itRepost+time.Second)), "ends at most 4 re-post intervals after the last post: %v (stopped %v)", resolved.EndsAt, stopped)
}

// A facmon restart: the new process Restores the firing alert; Alertmanager
// sends no second notification, and the resolution still arrives.
func TestRealAlertmanagerRestoreAfterRestart(t *testing.T) {
	t.Parallel()
	rx := alertmanager.WebhookReceiver(t)
	amp := alertmanager.Start(t, rx.URL)
	labels := map[string]string{"alertname": "DoorStuckOpen", "device": "door-1"}
	door := realDoorAlert()

	d1, _, stop1 := newAMDispatcher(t, amp.URL)
	d1.Firing(door)
	rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool { return alertmanager.CountAlerts(ns, "firing", labels) == 1 })
	stop1()

	d2, reg2, _ := newAMDispatcher(t, amp.URL)
	d2.Restore(door)
	testenv.Eventually(t, 20*time.Second, "re-posts by the new process", func() (bool, string) {
		p := posts(t, reg2)
		return p >= 6, fmt.Sprint(p)
	})
	door.EndsAt = time.Now()
	d2.Resolved(door)
	ns := rx.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool {
		return alertmanager.CountAlerts(ns, "resolved", labels) == 1
	})
	assert.Equal(t, 1, alertmanager.CountAlerts(ns, "firing", labels), "no duplicate after the restart:\n%s", alertmanager.Describe(ns))
}

// An HA pair with one member down: posts still succeed, the other member
// notifies, nothing is counted as failed.
func TestRealAlertmanagerHAOneMemberDown(t *testing.T) {
	t.Parallel()
	rx1, rx2 := alertmanager.WebhookReceiver(t), alertmanager.WebhookReceiver(t)
	am1, am2 := alertmanager.Start(t, rx1.URL), alertmanager.Start(t, rx2.URL)
	am2.Kill()
	d, reg, _ := newAMDispatcher(t, am1.URL, am2.URL)
	d.Firing(acAlert("binh-hien"))
	rx1.WaitFor(t, 20*time.Second, func(ns []alertmanager.Notification) bool {
		return alertmanager.CountAlerts(ns, "firing", map[string]string{"alertname": "ACFailure", "ward": "binh-hien"}) == 1
	})
	testenv.Eventually(t, 20*time.Second, "re-posts", func() (bool, string) { return posts(t, reg) >= 3, "" })
	assert.Zero(t, notifytest.Metric(t, reg, "facmon_notifications_total", map[string]string{"notifier": "alertmanager", "result": "error"}))
	assert.Zero(t, notifytest.Metric(t, reg, "facmon_notification_failures_total", nil))
	assert.Empty(t, rx2.Notifications())

	// The member comes back and gets the alert with the next re-post.
	am2.Start()
	testenv.Eventually(t, 20*time.Second, "am2 holds the alert", func() (bool, string) {
		as, err := am2.AlertsErr(context.Background())
		return err == nil && len(as) == 1, fmt.Sprint(len(as), err)
	})
}
