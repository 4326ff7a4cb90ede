package engine

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/policy"
	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/notify"
)

// SharedSilencer is a Silencer that can also take on a silence another
// instance of the group created, and drop one another instance expired.
type SharedSilencer interface {
	// Adopt reports false for a silence this instance is expiring or has
	// just expired: a listing made before that is stale.
	Adopt(a notify.Alert, by, comment, silenceID string, endsAt time.Time) bool
	Forget(alertID string)
}

// silenceKey names a label set, the same for an alert and for the silence
// of exactly its labels.
func silenceKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// ReconcileSilences makes this instance's acknowledgements agree with
// Alertmanager's silences, through which the instances of a group share
// them: a firing alert with an active silence of exactly its labels is
// acknowledged by whoever created the silence (on another instance, or in
// Alertmanager itself), and an acknowledged alert whose silence expired
// elsewhere is acknowledged no longer. silenceLabels gives the labels an
// alert's silence matches.
func (e *Engine) ReconcileSilences(silences []notify.Silence, silenceLabels func(notify.Alert) map[string]string) {
	shared, ok := e.opts.Silencer.(SharedSilencer)
	if !ok {
		return
	}
	active := map[string]notify.Silence{}
	expired := map[string]bool{}
	for _, s := range silences {
		switch s.Status.State {
		case "active":
			if labels, exact := s.ExactLabels(); exact {
				active[silenceKey(labels)] = s
			}
		case "expired":
			expired[s.ID] = true
		}
	}
	e.mu.Lock()
	changed := false
	now := e.opts.Now()
	for _, in := range e.byID {
		if in.State != lifecycle.StateFiring {
			continue
		}
		a := e.toNotify(in, false)
		s, silenced := active[silenceKey(silenceLabels(a))]
		switch {
		case silenced && !in.Acked:
			if !shared.Adopt(a, s.CreatedBy, s.Comment, s.ID, s.EndsAt) {
				continue
			}
			in.Acked, in.AckBy, in.AckComment, in.AckAt, in.SilenceID = true, s.CreatedBy, s.Comment, now, s.ID
			e.event(in, "acknowledged", now)
			e.recordHistory(store.HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device,
				State: "acknowledged", AckBy: s.CreatedBy, AckComment: s.Comment})
			e.tell(in, policy.Repost, now)
			e.log.Info("alert acknowledged through its Alertmanager silence", "alert", in.ID, "by", s.CreatedBy, "silence", s.ID)
			changed = true
		case silenced && in.SilenceID != s.ID && (in.SilenceID == "" || expired[in.SilenceID]):
			// Acknowledged again elsewhere after the first silence ended, or
			// this instance's own silence is known here only now.
			if shared.Adopt(a, s.CreatedBy, s.Comment, s.ID, s.EndsAt) {
				in.SilenceID = s.ID
				changed = true
			}
		case !silenced && in.Acked && in.SilenceID != "" && expired[in.SilenceID]:
			by := in.AckBy
			in.Acked, in.AckBy, in.AckComment, in.AckAt, in.SilenceID = false, "", "", time.Time{}, ""
			e.recordHistory(store.HistoryEvent{Time: now, ID: in.ID, Rule: in.Rule, Severity: in.Severity, Ward: in.Ward, Class: in.Class, Device: in.Device,
				State: "unacknowledged", AckBy: by})
			shared.Forget(in.ID)
			e.tell(in, policy.Repost, now)
			e.log.Info("acknowledgement withdrawn: its Alertmanager silence expired", "alert", in.ID)
			changed = true
		}
	}
	var snap *stateSnapshot
	if changed {
		e.dirty = true
		snap = e.snapshotLocked()
	}
	e.mu.Unlock()
	if snap != nil {
		_ = e.writeState(snap) // counted and logged; retried at the next tick
	}
}
