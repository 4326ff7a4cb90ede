// Package policy is when facmon tells the receivers about an alert: the rules of
// notification (tell a firing alert once, do not escalate an acknowledged one, hold
// a suppressed one, damp a flapping one) as Stages in a row, in the manner of
// Alertmanager's notify.Stage and MultiStage. A stage reads a Subject and lets a
// Notice go on or stops it; nothing here sends, locks or keeps state.
package policy

// Notice is a message the engine may send the receivers about an alert.
type Notice uint8

const (
	Firing     Notice = iota // the alert fires (or may be told now: its mute ended, it settled)
	Escalation               // it fired unacknowledged past escalate_after
	Resolved                 // it resolved (or its held resolution may go now)
	Repost                   // its acknowledgement changed: the receivers get the new version
)

// Subject is what the stages see of an alert, and the one thing a stage may
// change: HeldResolve, a resolution kept back to be sent later.
type Subject struct {
	// Notified: the receivers were told it fires.
	Notified bool
	Acked    bool
	Flapping bool
	// Suppressed is why a Muter holds it ("" for none).
	Suppressed  string
	HeldResolve bool
}

// A Stage lets a notice go on to the receivers or stops it; the policy is
// stages in a row, each one rule of when to tell. A stage may note why it
// stopped a notice (Flap holds a resolution to send later).
type Stage interface {
	Pass(s *Subject, n Notice) bool
}

// MultiStage passes a notice only if every stage does, in order.
type MultiStage []Stage

// Pass implements Stage.
func (ms MultiStage) Pass(s *Subject, n Notice) bool {
	for _, st := range ms {
		if !st.Pass(s, n) {
			return false
		}
	}
	return true
}

// Notification is when facmon tells the receivers.
func Notification() MultiStage {
	return MultiStage{Dedup{}, Ack{}, Mute{}, Flap{}}
}

// Dedup: an alert is told firing once, and everything after (an escalation,
// a re-post, the resolution) only once it was.
type Dedup struct{}

// Pass implements Stage.
func (Dedup) Pass(s *Subject, n Notice) bool {
	if n == Firing {
		return !s.Notified
	}
	return s.Notified
}

// Ack: an acknowledged alert does not escalate; somebody is on it.
type Ack struct{}

// Pass implements Stage.
func (Ack) Pass(s *Subject, n Notice) bool { return n != Escalation || !s.Acked }

// Mute: a suppressed alert (maintenance, its office unreachable) is not told
// firing; it is once the mute ends, if it still fires.
type Mute struct{}

// Pass implements Stage.
func (Mute) Pass(s *Subject, n Notice) bool { return n != Firing || s.Suppressed == "" }

// Flap: a flapping alert is not told firing, and its resolution is held, to
// be sent once it has been quiet for the flap window.
type Flap struct{}

// Pass implements Stage.
func (Flap) Pass(s *Subject, n Notice) bool {
	if !s.Flapping {
		return true
	}
	switch n {
	case Firing:
		return false
	case Resolved:
		s.HeldResolve = true
		return false
	}
	return true
}
