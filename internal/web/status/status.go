// Package status serves facmon's status page: a tile per ward with the
// state of each device class (ok, degraded, down, unknown), the active
// alerts with their age and acknowledgement, and the time of the last
// reading. The page refreshes itself, reads well on a phone, needs no
// external asset and speaks Vietnamese (default) or English (?lang=en).
//
// The data comes from a Source; the service implements it with its
// liveness tracker and alert engine, and Memory is an in-memory Source
// for tests and demos.
package status

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/facmon/facmon/reports/i18n"
)

// Office is a ward office.
type Office struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DeviceState is what facmon knows of one device now.
type DeviceState struct {
	Ward   string `json:"ward"`
	Class  string `json:"class"`
	Device string `json:"device"`
	// Up is the liveness verdict: reporting within its heartbeat and not
	// offline.
	Up bool `json:"up"`
	// LastSeen is its last reading or status; zero when never heard of.
	LastSeen time.Time `json:"last_seen"`
}

// Alert is an active alert.
type Alert struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Severity string    `json:"severity"` // critical, warning, info
	Ward     string    `json:"ward"`
	Class    string    `json:"class,omitempty"`
	Device   string    `json:"device,omitempty"`
	Since    time.Time `json:"since"`
	Acked    bool      `json:"acked"`
	AckBy    string    `json:"ack_by,omitempty"`
	// SilenceID is the Alertmanager silence of the acknowledgement.
	SilenceID string `json:"silence_id,omitempty"`
	// Summaries in the two languages.
	SummaryVI string `json:"summary_vi"`
	SummaryEN string `json:"summary_en"`
}

// AlertGroup is the firing alerts of one rule in one ward.
type AlertGroup struct {
	Ward     string `json:"ward"`
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Count    int    `json:"count"`
	Acked    int    `json:"acked"`
	// Since is when its oldest alert fired.
	Since time.Time `json:"since"`
	// Alerts are its first alerts in full: unacknowledged, then oldest,
	// first.
	Alerts []Alert `json:"alerts,omitempty"`
}

// Source gives the page its data. Calls may come from many requests at
// once.
type Source interface {
	Offices() []Office
	Devices() []DeviceState
	// AlertGroups groups the firing alerts per ward and rule, most urgent
	// first: the most severe, then those with an unacknowledged alert,
	// then the oldest. Every group comes with its counts; the first
	// maxGroups with up to perGroup of their alerts in full. So however
	// many alerts fire, the page costs the same.
	AlertGroups(maxGroups, perGroup int) []AlertGroup
}

// CollectingSource is a Source that also says whether facmon is
// collecting now; when it is not, every state shows as unknown.
type CollectingSource interface {
	Source
	Collecting() bool
}

// States of a class or a ward, from best to worst.
const (
	StateOK       = "ok"
	StateUnknown  = "unknown"
	StateDegraded = "degraded"
	StateDown     = "down"
)

var stateRank = map[string]int{StateOK: 0, StateUnknown: 1, StateDegraded: 2, StateDown: 3}

// severityRank orders severities most severe first; an unknown one comes
// last.
func severityRank(s string) int {
	switch s {
	case "critical":
		return 0
	case "warning":
		return 1
	case "info":
		return 2
	}
	return 3
}

// badgeLevel is the colour of a ward's badge and tile: the worse of its
// devices' state and its worst alert, critical as red as down and warning
// as amber as degraded. At equal colour the devices' state names it.
func badgeLevel(w WardStatus) string {
	colour := map[string]int{StateOK: 0, StateUnknown: 1, StateDegraded: 2, "warning": 2, StateDown: 3, "critical": 3}
	level := w.State
	for _, sev := range []string{"warning", "critical"} {
		if (sev == "critical" && w.Critical > 0 || sev == "warning" && w.Warning > 0) && colour[sev] > colour[level] {
			level = sev
		}
	}
	return level
}

// Options configure the page; the zero value works.
type Options struct {
	// Location for the times shown; default Asia/Ho_Chi_Minh.
	Location *time.Location
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Refresh is how often the page refreshes itself; default 15 s.
	Refresh time.Duration
	// Classes in display order; default door, hvac, server, camera (and
	// any other class after them).
	Classes []string
	// ReportPath, when set, links the uptime report (e.g. "/reports/uptime").
	ReportPath string
	// MaxGroups alert groups are shown, each with up to PerGroup alerts in
	// full and MaxFull in all (default 30, 5 and 20), so that in a flood
	// the ward tiles stay within reach; the rest are counted. MaxDown
	// device ids are named per class (default 10).
	MaxGroups, PerGroup, MaxFull, MaxDown int
	// AlertsPath, when set, links the alert API for the alerts not shown
	// in full (e.g. "/api/alerts").
	AlertsPath string
}

// Page is the status page handler.
type Page struct {
	src  Source
	opts Options
}

// New returns the page over src.
func New(src Source, opts Options) *Page {
	if opts.Location == nil {
		opts.Location = vietnam()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 15 * time.Second
	}
	if opts.MaxGroups <= 0 {
		opts.MaxGroups = 30
	}
	if opts.PerGroup <= 0 {
		opts.PerGroup = 5
	}
	if opts.MaxFull <= 0 {
		opts.MaxFull = 20
	}
	if opts.MaxDown <= 0 {
		opts.MaxDown = 10
	}
	if len(opts.Classes) == 0 {
		opts.Classes = []string{"door", "hvac", "server", "camera"}
	}
	return &Page{src: src, opts: opts}
}

// vietnam is Indochina Time. Asia/Ho_Chi_Minh has been UTC+7 since 1975,
// but the tz database abbreviates it "+07"; the page names it ICT, as
// people here do.
func vietnam() *time.Location { return time.FixedZone("ICT", 7*3600) }

// Snapshot is the state of the fleet, as /api/status returns it.
type Snapshot struct {
	Generated  time.Time    `json:"generated"`
	Collecting bool         `json:"collecting"`
	Summary    Summary      `json:"summary"`
	Wards      []WardStatus `json:"wards"`
	// Firing counts the firing alerts; Groups gives them per ward and
	// rule, the first groups with their first alerts in full.
	Firing int                `json:"firing"`
	Groups []AlertGroupStatus `json:"alert_groups"`
}

// Summary counts the wards per state. A ward whose devices are all up but
// where a critical or warning alert fires counts as Alerting, not OK.
type Summary struct {
	Wards    int `json:"wards"`
	OK       int `json:"ok"`
	Alerting int `json:"alerting"`
	Degraded int `json:"degraded"`
	Down     int `json:"down"`
	Unknown  int `json:"unknown"`
}

// WardStatus is one tile.
type WardStatus struct {
	ID       string        `json:"id"`
	Name     string        `json:"name"`
	State    string        `json:"state"`
	LastSeen *time.Time    `json:"last_seen"`
	Classes  []ClassStatus `json:"classes"`
	Alerts   int           `json:"alerts"`
	// Worst is the severity of the ward's worst firing alert, "" when
	// none fires; Critical and Warning count its alerts of each.
	Worst    string `json:"worst_alert,omitempty"`
	Critical int    `json:"critical"`
	Warning  int    `json:"warning"`
}

// ClassStatus is one device class of a ward.
type ClassStatus struct {
	Class string   `json:"class"`
	State string   `json:"state"`
	Up    int      `json:"up"`
	Total int      `json:"total"`
	Down  []string `json:"down,omitempty"` // devices down, by id, the first MaxDown
	// DownMore counts the devices down beyond those named.
	DownMore int `json:"down_more,omitempty"`
}

// AlertGroupStatus is a group of alerts with its ward's name and age.
type AlertGroupStatus struct {
	Ward     string    `json:"ward"`
	WardName string    `json:"ward_name"`
	Rule     string    `json:"rule"`
	Severity string    `json:"severity"`
	Count    int       `json:"count"`
	Acked    int       `json:"acked"`
	Since    time.Time `json:"since"`
	// AgeSeconds is the age of its oldest alert.
	AgeSeconds int64         `json:"age_seconds"`
	Alerts     []AlertStatus `json:"alerts,omitempty"`
}

// AlertStatus is an active alert with its age.
type AlertStatus struct {
	Alert
	WardName   string `json:"ward_name"`
	AgeSeconds int64  `json:"age_seconds"`
}

// Snapshot computes the current state.
func (p *Page) Snapshot() Snapshot {
	now := p.opts.Now()
	snap := Snapshot{Generated: now, Collecting: true}
	if cs, ok := p.src.(CollectingSource); ok {
		snap.Collecting = cs.Collecting()
	}
	offices := p.src.Offices()
	names := map[string]string{}
	idx := map[string]int{}
	for i, o := range offices {
		names[o.ID] = o.Name
		idx[o.ID] = i
		snap.Wards = append(snap.Wards, WardStatus{ID: o.ID, Name: o.Name})
	}
	type acc struct {
		up, known, total int
		down             []string
	}
	perClass := map[string]map[string]*acc{} // ward → class → counts
	classSet := map[string]bool{}
	for _, d := range p.src.Devices() {
		i, ok := idx[d.Ward]
		if !ok {
			i = len(snap.Wards)
			idx[d.Ward] = i
			snap.Wards = append(snap.Wards, WardStatus{ID: d.Ward, Name: d.Ward})
		}
		w := &snap.Wards[i]
		if !d.LastSeen.IsZero() && (w.LastSeen == nil || d.LastSeen.After(*w.LastSeen)) {
			t := d.LastSeen
			w.LastSeen = &t
		}
		if perClass[d.Ward] == nil {
			perClass[d.Ward] = map[string]*acc{}
		}
		a := perClass[d.Ward][d.Class]
		if a == nil {
			a = &acc{}
			perClass[d.Ward][d.Class] = a
		}
		classSet[d.Class] = true
		a.total++
		if d.LastSeen.IsZero() {
			continue
		}
		a.known++
		if d.Up {
			a.up++
		} else {
			a.down = append(a.down, d.Device)
		}
	}
	classes := slices.Clone(p.opts.Classes)
	var extra []string
	for c := range classSet {
		if !slices.Contains(classes, c) {
			extra = append(extra, c)
		}
	}
	slices.Sort(extra)
	classes = append(classes, extra...)
	for i := range snap.Wards {
		w := &snap.Wards[i]
		w.State = StateOK
		if len(perClass[w.ID]) == 0 {
			w.State = StateUnknown
		}
		for _, c := range classes {
			a := perClass[w.ID][c]
			if a == nil {
				continue
			}
			slices.SortFunc(a.down, i18n.NaturalCompare)
			cs := ClassStatus{Class: c, Up: a.up, Total: a.total, Down: a.down}
			if len(cs.Down) > p.opts.MaxDown {
				cs.Down, cs.DownMore = cs.Down[:p.opts.MaxDown], len(cs.Down)-p.opts.MaxDown
			}
			down := a.known - a.up
			switch {
			case !snap.Collecting, a.known == 0:
				cs.State = StateUnknown
			case down == 0 && a.known == a.total:
				cs.State = StateOK
			case a.up == 0 && a.known == a.total:
				cs.State = StateDown
			case a.up == 0 && down == 0:
				cs.State = StateUnknown
			default:
				cs.State = StateDegraded
			}
			w.Classes = append(w.Classes, cs)
			if stateRank[cs.State] > stateRank[w.State] {
				w.State = cs.State
			}
		}
		if !snap.Collecting {
			w.State = StateUnknown
		}
	}
	age := func(t time.Time) int64 { return max(0, int64(now.Sub(t)/time.Second)) }
	for _, g := range p.src.AlertGroups(p.opts.MaxGroups, p.opts.PerGroup) {
		wardName := cmp.Or(names[g.Ward], g.Ward)
		gs := AlertGroupStatus{Ward: g.Ward, WardName: wardName, Rule: g.Rule, Severity: g.Severity,
			Count: g.Count, Acked: g.Acked, Since: g.Since, AgeSeconds: age(g.Since)}
		for _, a := range g.Alerts {
			gs.Alerts = append(gs.Alerts, AlertStatus{Alert: a, WardName: wardName, AgeSeconds: age(a.Since)})
		}
		snap.Groups = append(snap.Groups, gs)
		snap.Firing += g.Count
		if i, ok := idx[g.Ward]; ok {
			w := &snap.Wards[i]
			w.Alerts += g.Count
			switch g.Severity {
			case "critical":
				w.Critical += g.Count
			case "warning":
				w.Warning += g.Count
			}
			if w.Worst == "" || severityRank(g.Severity) < severityRank(w.Worst) {
				w.Worst = g.Severity
			}
		}
	}
	snap.Summary.Wards = len(snap.Wards)
	for _, w := range snap.Wards {
		switch w.State {
		case StateOK:
			if w.Critical+w.Warning > 0 {
				snap.Summary.Alerting++
			} else {
				snap.Summary.OK++
			}
		case StateDegraded:
			snap.Summary.Degraded++
		case StateDown:
			snap.Summary.Down++
		default:
			snap.Summary.Unknown++
		}
	}
	return snap
}

// API serves GET /api/status: the Snapshot as JSON.
func (p *Page) API() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(p.Snapshot())
	})
}
