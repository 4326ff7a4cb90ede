package lifecycle

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAdvance(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	five := Timing{For: 5 * time.Second, ClearFor: 3 * time.Second}
	on := Condition{Active: true}
	off := Condition{Clear: true}
	hold := Condition{} // in a threshold's hysteresis band: neither active nor clear
	cases := []struct {
		name   string
		p      Phase
		t      Timing
		cond   Condition
		closed bool
		now    time.Time
		want   Phase
		tr     Transitions
		due    time.Time
	}{
		{"inactive stays inactive while the condition is off",
			Phase{State: StateInactive}, five, off, false, at(0),
			Phase{State: StateInactive}, 0, time.Time{}},
		{"inactive goes pending, due when for runs out",
			Phase{State: StateInactive}, five, on, false, at(0),
			Phase{State: StatePending, PendingSince: at(0)}, ToPending, at(5)},
		{"no for: pending and firing in one step",
			Phase{State: StateInactive}, Timing{}, on, false, at(0),
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(0)}, ToPending | ToFiring, time.Time{}},
		{"a stale pending start is replaced",
			Phase{State: StateInactive, PendingSince: at(-100)}, five, on, false, at(0),
			Phase{State: StatePending, PendingSince: at(0)}, ToPending, at(5)},
		{"a pipeline rule's own start is kept and can fire at once",
			Phase{State: StateInactive, PendingSince: at(-100)}, Timing{For: 5 * time.Second, GivenStart: true}, on, false, at(0),
			Phase{State: StateFiring, PendingSince: at(-100), FiringSince: at(0)}, ToPending | ToFiring, time.Time{}},
		{"pending holds until for runs out",
			Phase{State: StatePending, PendingSince: at(0)}, five, on, false, at(4),
			Phase{State: StatePending, PendingSince: at(0)}, 0, at(5)},
		{"pending fires when for runs out",
			Phase{State: StatePending, PendingSince: at(0)}, five, on, false, at(5),
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(5)}, ToFiring, time.Time{}},
		{"pending that did not last goes back, quiet since now",
			Phase{State: StatePending, PendingSince: at(0)}, five, off, false, at(3),
			Phase{State: StateInactive, QuietSince: at(3)}, ToInactive, time.Time{}},
		{"firing and not clearing refreshes",
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(5), ClearSince: at(6)}, five, hold, false, at(7),
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(5)}, StillFiring, time.Time{}},
		{"firing starts clearing, due when clear_for runs out",
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(5)}, five, off, false, at(10),
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(5), ClearSince: at(10)}, 0, at(13)},
		{"clear for clear_for resolves; firing since is kept for the record",
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(5), ClearSince: at(10)}, five, off, false, at(13),
			Phase{State: StateInactive, FiringSince: at(5)}, ToResolved, time.Time{}},
		{"office closed: a firing office-hours alert resolves at once",
			Phase{State: StateFiring, PendingSince: at(0), FiringSince: at(5)}, five, on, true, at(20),
			Phase{State: StateInactive, FiringSince: at(5)}, ToResolved, time.Time{}},
		{"office closed: the condition does not start an alert",
			Phase{State: StateInactive}, five, on, true, at(20),
			Phase{State: StateInactive}, 0, time.Time{}},
		{"office closed: a pending alert goes back",
			Phase{State: StatePending, PendingSince: at(18)}, five, on, true, at(20),
			Phase{State: StateInactive, QuietSince: at(20)}, ToInactive, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, tr, due := Advance(tc.p, tc.t, tc.cond, tc.closed, tc.now)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.tr, tr)
			assert.True(t, tc.due.Equal(due), "due %v, want %v", due, tc.due)
		})
	}
}
