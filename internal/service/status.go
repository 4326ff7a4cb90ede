package service

import (
	"time"

	"github.com/facmon/facmon/alerts/engine"
	"github.com/facmon/facmon/internal/web/status"
)

// statusSource feeds the status page from the liveness tracker and the
// alert engine, the same state that drives the alerts.
type statusSource struct{ s *Service }

func (src statusSource) Offices() []status.Office {
	var out []status.Office
	for _, o := range src.s.cfg.Offices {
		if o.MergedInto != "" {
			continue // its history stays queryable; its tile is the absorbing office's
		}
		out = append(out, status.Office{ID: o.ID, Name: o.Name})
	}
	return out
}

func (src statusSource) Devices() []status.DeviceState {
	now := time.Now()
	verdicts := src.s.liveness.JudgeAll(now)
	snap := src.s.liveness.Snapshot()
	out := make([]status.DeviceState, 0, len(snap))
	for _, d := range snap {
		v := verdicts[d.Key]
		last := d.LastSeen
		if d.StatusAt.After(last) {
			last = d.StatusAt
		}
		if v.Unknown {
			last = time.Time{}
		}
		out = append(out, status.DeviceState{Ward: d.Ward, Class: d.Class, Device: d.Device, Up: v.Up, LastSeen: last})
	}
	return out
}

func (src statusSource) ActiveAlerts() []status.Alert {
	var out []status.Alert
	for _, a := range src.s.alerts.Active() {
		if a.State != engine.StateFiring {
			continue
		}
		out = append(out, status.Alert{
			ID: a.ID, Name: a.Rule, Severity: a.Severity, Ward: a.Ward, Class: a.Class, Device: a.Device,
			Since: a.FiringSince, Acked: a.Acked, AckBy: a.AckBy, SummaryVI: a.SummaryVI, SummaryEN: a.SummaryEN,
		})
	}
	return out
}

func (src statusSource) Collecting() bool { return src.s.collector.Connected() }
