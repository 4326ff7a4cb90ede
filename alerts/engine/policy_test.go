package engine

import (
	"testing"

	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/view"
	"github.com/stretchr/testify/assert"
)

func TestNotificationPolicy(t *testing.T) {
	policy := notificationPolicy()
	cases := []struct {
		name      string
		in        instance
		n         notice
		pass      bool
		heldAfter bool
	}{
		{"a new firing alert is told", asInstance(view.Alert{}), noticeFiring, true, false},
		{"told once", asInstance(view.Alert{Notified: true}), noticeFiring, false, false},
		{"a suppressed alert is not told", asInstance(view.Alert{Suppressed: "maintenance"}), noticeFiring, false, false},
		{"a flapping alert is not told", asInstance(view.Alert{Flapping: true}), noticeFiring, false, false},
		{"a resolution of a told alert goes out", asInstance(view.Alert{Notified: true}), noticeResolved, true, false},
		{"nobody to tell of an untold alert's resolution", asInstance(view.Alert{}), noticeResolved, false, false},
		{"a flapping alert's resolution is held", asInstance(view.Alert{Notified: true, Flapping: true}), noticeResolved, false, true},
		{"a told alert escalates", asInstance(view.Alert{Notified: true}), noticeEscalation, true, false},
		{"an acknowledged alert does not escalate", asInstance(view.Alert{Notified: true, Acked: true}), noticeEscalation, false, false},
		{"an untold alert does not escalate", asInstance(view.Alert{}), noticeEscalation, false, false},
		{"a suppressed told alert still escalates", asInstance(view.Alert{Notified: true, Suppressed: "maintenance"}), noticeEscalation, true, false},
		{"an ack change is re-posted to the receivers that know the alert", asInstance(view.Alert{Notified: true, Acked: true}), noticeRepost, true, false},
		{"nothing to re-post of an untold alert", asInstance(view.Alert{Acked: true}), noticeRepost, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			assert.Equal(t, tc.pass, policy.pass(&in, tc.n))
			assert.Equal(t, tc.heldAfter, in.heldResolve)
		})
	}
}

func asInstance(a view.Alert) instance { return instance{Record: store.Record{Alert: a}} }
