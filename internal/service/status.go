package service

import (
	"time"

	"github.com/facmon/facmon/internal/web/status"
)

// statusSource feeds the status page from the liveness tracker and the
// alert engine, the same state that drives the alerts.
type statusSource struct{ s *Service }

func (src statusSource) Offices() []status.Office {
	var out []status.Office
	for _, o := range src.s.cfg.Offices {
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

func (src statusSource) AlertGroups(maxGroups, perGroup int) []status.AlertGroup {
	groups := src.s.alerts.Overview(maxGroups, perGroup)
	out := make([]status.AlertGroup, 0, len(groups))
	for _, g := range groups {
		sg := status.AlertGroup{Ward: g.Ward, Rule: g.Rule, Severity: g.Severity, Count: g.Firing, Acked: g.Acked, Since: g.Since}
		for _, a := range g.Alerts {
			sg.Alerts = append(sg.Alerts, status.Alert{
				ID: a.ID, Name: a.Rule, Severity: a.Severity, Ward: a.Ward, Class: a.Class, Device: a.Device,
				Since: a.FiringSince, Acked: a.Acked, AckBy: a.AckBy, SilenceID: a.SilenceID, SummaryVI: a.SummaryVI, SummaryEN: a.SummaryEN,
			})
		}
		out = append(out, sg)
	}
	return out
}

func (src statusSource) Collecting() bool { return src.s.collector.Connected() }
