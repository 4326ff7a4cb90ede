package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestAdvance(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	five := timing{forDur: 5 * time.Second, clearFor: 3 * time.Second}
	on := condition{active: true}
	off := condition{clear: true}
	hold := condition{} // in a threshold's hysteresis band: neither active nor clear
	cases := []struct {
		name   string
		p      phase
		t      timing
		cond   condition
		closed bool
		now    time.Time
		want   phase
		tr     transitions
		due    time.Time
	}{
		{"inactive stays inactive while the condition is off",
			phase{state: StateInactive}, five, off, false, at(0),
			phase{state: StateInactive}, 0, time.Time{}},
		{"inactive goes pending, due when for runs out",
			phase{state: StateInactive}, five, on, false, at(0),
			phase{state: StatePending, pendingSince: at(0)}, toPending, at(5)},
		{"no for: pending and firing in one step",
			phase{state: StateInactive}, timing{}, on, false, at(0),
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(0)}, toPending | toFiring, time.Time{}},
		{"a stale pending start is replaced",
			phase{state: StateInactive, pendingSince: at(-100)}, five, on, false, at(0),
			phase{state: StatePending, pendingSince: at(0)}, toPending, at(5)},
		{"a pipeline rule's own start is kept and can fire at once",
			phase{state: StateInactive, pendingSince: at(-100)}, timing{forDur: 5 * time.Second, givenStart: true}, on, false, at(0),
			phase{state: StateFiring, pendingSince: at(-100), firingSince: at(0)}, toPending | toFiring, time.Time{}},
		{"pending holds until for runs out",
			phase{state: StatePending, pendingSince: at(0)}, five, on, false, at(4),
			phase{state: StatePending, pendingSince: at(0)}, 0, at(5)},
		{"pending fires when for runs out",
			phase{state: StatePending, pendingSince: at(0)}, five, on, false, at(5),
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(5)}, toFiring, time.Time{}},
		{"pending that did not last goes back, quiet since now",
			phase{state: StatePending, pendingSince: at(0)}, five, off, false, at(3),
			phase{state: StateInactive, quietSince: at(3)}, toInactive, time.Time{}},
		{"firing and not clearing refreshes",
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(5), clearSince: at(6)}, five, hold, false, at(7),
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(5)}, stillFiring, time.Time{}},
		{"firing starts clearing, due when clear_for runs out",
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(5)}, five, off, false, at(10),
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(5), clearSince: at(10)}, 0, at(13)},
		{"clear for clear_for resolves; firing since is kept for the record",
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(5), clearSince: at(10)}, five, off, false, at(13),
			phase{state: StateInactive, firingSince: at(5)}, toResolved, time.Time{}},
		{"office closed: a firing office-hours alert resolves at once",
			phase{state: StateFiring, pendingSince: at(0), firingSince: at(5)}, five, on, true, at(20),
			phase{state: StateInactive, firingSince: at(5)}, toResolved, time.Time{}},
		{"office closed: the condition does not start an alert",
			phase{state: StateInactive}, five, on, true, at(20),
			phase{state: StateInactive}, 0, time.Time{}},
		{"office closed: a pending alert goes back",
			phase{state: StatePending, pendingSince: at(18)}, five, on, true, at(20),
			phase{state: StateInactive, quietSince: at(20)}, toInactive, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, tr, due := advance(tc.p, tc.t, tc.cond, tc.closed, tc.now)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.tr, tr)
			assert.True(t, tc.due.Equal(due), "due %v, want %v", due, tc.due)
		})
	}
}
