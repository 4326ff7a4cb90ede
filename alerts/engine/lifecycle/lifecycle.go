// Package lifecycle is the alert lifecycle, inactive → pending → firing →
// resolved, as a pure function (Advance) of an alert's Phase, its rule's Timing,
// the Condition its evaluation found and the time: no locks, no I/O, so every
// path is a table test.
package lifecycle

import (
	"time"

	"github.com/facmon/facmon/alerts/rule"
)

// State is where an alert is: what the API, the pages and the state file show.
type State string

const (
	StateInactive State = "inactive"
	StatePending  State = "pending"
	StateFiring   State = "firing"
)

// Condition is what a rule's evaluation says of one alert key: Active
// starts (or keeps) it pending or firing, Clear lets a firing one
// resolve; between the two (a threshold's hysteresis band) it holds.
type Condition struct {
	Value         float64
	Active, Clear bool
}

// Phase is where an alert is in its lifecycle: all that Advance reads
// and writes.
type Phase struct {
	State        State
	PendingSince time.Time
	FiringSince  time.Time
	ClearSince   time.Time // when a firing alert's condition last began to clear
	QuietSince   time.Time // when it last went back from pending to inactive
}

// Timing is what a rule says of its lifecycle.
type Timing struct {
	For, ClearFor time.Duration
	// GivenStart: the evaluation sets when the condition began (a
	// pipeline rule's silence), and pending keeps that time.
	GivenStart bool
}

// TimingOf is the rule's for, clear_for and whether its evaluation gives the
// condition's start.
func TimingOf(c *rule.Compiled) Timing {
	return Timing{For: c.For.D(), ClearFor: c.ClearFor.D(), GivenStart: c.Kind == rule.KindPipeline}
}

// Transitions is the set of changes one Advance made.
type Transitions uint8

const (
	ToPending   Transitions = 1 << iota
	ToFiring                // from pending, possibly in the same advance
	ToInactive              // a pending alert whose condition did not last
	ToResolved              // a firing alert cleared for clear_for, or its office closed
	StillFiring             // firing and not clearing: its value (and summary) moved
)

// Advance is the alert lifecycle, inactive → pending → firing → resolved,
// as a pure function of the phase, the rule's timing, the condition and
// the time. closed says an office-hours rule's office is closed now: its
// condition counts as clear and a firing alert resolves at once. due is
// when a pending for or a firing clear_for runs out, if one is running;
// zero otherwise.
func Advance(p Phase, t Timing, cond Condition, closed bool, now time.Time) (next Phase, tr Transitions, due time.Time) {
	active, clear := cond.Active, cond.Clear
	if closed {
		active, clear = false, true
	}
	switch p.State {
	case StateInactive:
		if !active {
			return p, 0, time.Time{}
		}
		p.State, tr = StatePending, ToPending
		if p.PendingSince.IsZero() || !t.GivenStart {
			p.PendingSince = now
		}
		fallthrough
	case StatePending:
		switch {
		case !active:
			p.State, p.PendingSince, p.QuietSince = StateInactive, time.Time{}, now
			return p, tr | ToInactive, time.Time{}
		case now.Sub(p.PendingSince) >= t.For:
			p.State, p.FiringSince, p.ClearSince = StateFiring, now, time.Time{}
			return p, tr | ToFiring, time.Time{}
		}
		return p, tr, p.PendingSince.Add(t.For)
	case StateFiring:
		if !clear {
			p.ClearSince = time.Time{}
			return p, StillFiring, time.Time{}
		}
		if p.ClearSince.IsZero() {
			p.ClearSince = now
		}
		if now.Sub(p.ClearSince) >= t.ClearFor || closed {
			p.State, p.PendingSince, p.ClearSince = StateInactive, time.Time{}, time.Time{}
			return p, ToResolved, time.Time{}
		}
		return p, 0, p.ClearSince.Add(t.ClearFor)
	}
	return p, 0, time.Time{}
}
