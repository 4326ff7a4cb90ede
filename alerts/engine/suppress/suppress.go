// Package suppress decides whether a firing alert's notifications are held and
// names why, in the manner of Alertmanager's Muter: planned maintenance and the
// ward-outage inhibition are two Muters, a Chain tries them in order and the first
// that mutes gives the reason the engine records as the alert's Suppressed.
package suppress

import (
	"time"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/alerts/rule"
)

// A Muter holds a firing alert's notifications while it says so and names
// why. It only reads: the engine calls it under its evaluation lock.
type Muter interface {
	Mutes(t Target, now time.Time) (reason string, muted bool)
}

// Target is what a Muter sees of an alert.
type Target struct {
	Rule                *rule.Compiled
	Ward, Class, Device string
}

// Chain mutes with the first of its muters that mutes.
type Chain []Muter

// Mutes implements Muter.
func (c Chain) Mutes(t Target, now time.Time) (string, bool) {
	for _, m := range c {
		if reason, ok := m.Mutes(t, now); ok {
			return reason, true
		}
	}
	return "", false
}

// Maintenance mutes every alert of a device inside one of its planned
// maintenance windows.
type Maintenance struct{ Schedule *maintenance.Schedule }

// Mutes implements Muter.
func (m Maintenance) Mutes(t Target, now time.Time) (string, bool) {
	if _, ok := m.Schedule.Active(t.Ward, t.Class, t.Device, now); ok {
		return "maintenance", true
	}
	return "", false
}

// WardRecoveryGrace is how long after a ward comes back its devices'
// offline alerts stay suppressed while they reconnect.
const WardRecoveryGrace = 2 * time.Minute

// WardOutage inhibits the offline alerts of an office while one of its group
// alerts fires (its network or power is down: the cause is notified, not its
// hundred symptoms), and for WardRecoveryGrace after, while the devices
// reconnect one by one.
type WardOutage struct {
	groupFiring func(ward string) bool
	back        map[string]time.Time // ward -> when its group alert resolved
}

// NewWardOutage inhibits by groupFiring, which says whether a group rule's
// alert fires for the ward.
func NewWardOutage(groupFiring func(ward string) bool) *WardOutage {
	return &WardOutage{groupFiring: groupFiring, back: map[string]time.Time{}}
}

// Mutes implements Muter.
func (w *WardOutage) Mutes(t Target, now time.Time) (string, bool) {
	if t.Rule.Kind != rule.KindAbsence {
		return "", false
	}
	if w.groupFiring(t.Ward) {
		return "ward_unreachable", true
	}
	if back, ok := w.back[t.Ward]; ok && now.Sub(back) < WardRecoveryGrace {
		return "ward_unreachable", true
	}
	return "", false
}

// WardBack notes that the ward's group alert resolved at now.
func (w *WardOutage) WardBack(ward string, now time.Time) { w.back[ward] = now }
