package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNotificationPolicy(t *testing.T) {
	policy := notificationPolicy()
	cases := []struct {
		name      string
		in        Instance
		n         notice
		pass      bool
		heldAfter bool
	}{
		{"a new firing alert is told", Instance{}, noticeFiring, true, false},
		{"told once", Instance{Notified: true}, noticeFiring, false, false},
		{"a suppressed alert is not told", Instance{Suppressed: "maintenance"}, noticeFiring, false, false},
		{"a flapping alert is not told", Instance{Flapping: true}, noticeFiring, false, false},
		{"a resolution of a told alert goes out", Instance{Notified: true}, noticeResolved, true, false},
		{"nobody to tell of an untold alert's resolution", Instance{}, noticeResolved, false, false},
		{"a flapping alert's resolution is held", Instance{Notified: true, Flapping: true}, noticeResolved, false, true},
		{"a told alert escalates", Instance{Notified: true}, noticeEscalation, true, false},
		{"an acknowledged alert does not escalate", Instance{Notified: true, Acked: true}, noticeEscalation, false, false},
		{"an untold alert does not escalate", Instance{}, noticeEscalation, false, false},
		{"a suppressed told alert still escalates", Instance{Notified: true, Suppressed: "maintenance"}, noticeEscalation, true, false},
		{"an ack change is re-posted to the receivers that know the alert", Instance{Notified: true, Acked: true}, noticeRepost, true, false},
		{"nothing to re-post of an untold alert", Instance{Acked: true}, noticeRepost, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			assert.Equal(t, tc.pass, policy.pass(&in, tc.n))
			assert.Equal(t, tc.heldAfter, in.heldResolve)
		})
	}
}
