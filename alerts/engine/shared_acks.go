package engine

import (
	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/notify"
)

// Silences is a listing of Alertmanager's silences, through which the
// instances of a group share their acknowledgements.
type Silences interface {
	// ActiveFor is the active silence of exactly a's labels.
	ActiveFor(a notify.Alert) (notify.Silence, bool)
	// Expired reports whether the silence with that id has ended.
	Expired(silenceID string) bool
}

// ReconcileSilences makes this instance's acknowledgements agree with the
// silences: a firing alert with an active silence of exactly its labels is
// acknowledged by whoever created the silence (on another instance, or in
// Alertmanager itself), and an acknowledged alert whose silence expired
// elsewhere is acknowledged no longer.
func (e *Engine) ReconcileSilences(silences Silences) {
	shared := e.opts.Silencer
	if shared == nil {
		return
	}
	e.mu.Lock()
	changed := false
	now := e.opts.Now()
	for _, in := range e.byID {
		if in.State != lifecycle.StateFiring {
			continue
		}
		a := e.toNotify(in, false)
		s, silenced := silences.ActiveFor(a)
		switch {
		case silenced && !in.Acked:
			if !shared.Adopt(a, s.CreatedBy, s.Comment, s.ID, s.EndsAt) {
				continue
			}
			e.markAcked(in, s.CreatedBy, s.Comment, now)
			in.SilenceID = s.ID
			e.log.Info("alert acknowledged through its Alertmanager silence", "alert", in.ID, "by", s.CreatedBy, "silence", s.ID)
			changed = true
		case silenced && in.SilenceID != s.ID && (in.SilenceID == "" || silences.Expired(in.SilenceID)):
			// Acknowledged again elsewhere after the first silence ended, or
			// this instance's own silence is known here only now.
			if shared.Adopt(a, s.CreatedBy, s.Comment, s.ID, s.EndsAt) {
				in.SilenceID = s.ID
				changed = true
			}
		case !silenced && in.Acked && in.SilenceID != "" && silences.Expired(in.SilenceID):
			e.markUnacked(in, in.AckBy, now)
			shared.Forget(in.ID)
			e.log.Info("acknowledgement withdrawn: its Alertmanager silence expired", "alert", in.ID)
			changed = true
		}
	}
	var snap *stateSnapshot
	if changed {
		e.dirty, snap = true, e.snapshotLocked()
	}
	e.mu.Unlock()
	if snap != nil {
		_ = e.writeState(snap) // counted and logged; retried at the next tick
	}
}
