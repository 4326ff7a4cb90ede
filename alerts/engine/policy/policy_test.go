package policy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNotificationPolicy(t *testing.T) {
	policy := Notification()
	cases := []struct {
		name      string
		in        Subject
		n         Notice
		pass      bool
		heldAfter bool
	}{
		{"a new firing alert is told", Subject{}, Firing, true, false},
		{"told once", Subject{Notified: true}, Firing, false, false},
		{"a suppressed alert is not told", Subject{Suppressed: "maintenance"}, Firing, false, false},
		{"a flapping alert is not told", Subject{Flapping: true}, Firing, false, false},
		{"a resolution of a told alert goes out", Subject{Notified: true}, Resolved, true, false},
		{"nobody to tell of an untold alert's resolution", Subject{}, Resolved, false, false},
		{"a flapping alert's resolution is held", Subject{Notified: true, Flapping: true}, Resolved, false, true},
		{"a told alert escalates", Subject{Notified: true}, Escalation, true, false},
		{"an acknowledged alert does not escalate", Subject{Notified: true, Acked: true}, Escalation, false, false},
		{"an untold alert does not escalate", Subject{}, Escalation, false, false},
		{"a suppressed told alert still escalates", Subject{Notified: true, Suppressed: "maintenance"}, Escalation, true, false},
		{"an ack change is re-posted to the receivers that know the alert", Subject{Notified: true, Acked: true}, Repost, true, false},
		{"nothing to re-post of an untold alert", Subject{Acked: true}, Repost, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			assert.Equal(t, tc.pass, policy.Pass(&in, tc.n))
			assert.Equal(t, tc.heldAfter, in.HeldResolve)
		})
	}
}
