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
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
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

//go:embed page.html.tmpl
var pageTemplate string

var baseTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"T": func(string, ...any) string { return "" },
}).Parse(pageTemplate))

type classView struct {
	Name, State, StateLabel, Count, Down string
}

type wardView struct {
	ID, Name, State, Last, LastAgo string
	// Badge is the colour of the badge and the tile (badgeLevel), and
	// BadgeLabel its text: the devices' state and the worst alert's count.
	Badge, BadgeLabel string
	Classes           []classView
	Alerts            int
}

type alertView struct {
	Name, Severity, SeverityLabel, Where, Summary, Since, Age, Ack string
	// What is the class and device without the ward, for a group's rows.
	What  string
	Acked bool
}

// groupView is a group of a ward's alerts of one rule; a group of one is
// shown as that alert alone.
type groupView struct {
	Name, Severity, SeverityLabel, Where, Count, Since, Age string
	// Unacked is set while one of its alerts is not acknowledged, and
	// UnackedLabel counts them.
	Unacked      bool
	UnackedLabel string
	Alerts       []alertView
	// More says how many of its alerts are not shown; MoreLink lists them.
	More, MoreLink string
}

type pageView struct {
	Lang, OtherLang, OtherLabel, Updated, Summary, ReportPath string
	Refresh                                                   int
	Collecting                                                bool
	Wards                                                     []wardView
	Groups                                                    []groupView
	// Firing counts the firing alerts; MoreGroups says what is not shown.
	Firing, MoreGroups string
}

// ServeHTTP serves the page: GET /?lang=en. With ?partial=1 it serves
// only the part that the page's refresh replaces.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l, err := i18n.Parse(r.URL.Query().Get("lang"))
	if err != nil {
		l = i18n.VI
	}
	v := p.view(l)
	t, err := baseTemplate.Clone()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	t.Funcs(template.FuncMap{"T": l.T})
	name := "page"
	if r.URL.Query().Get("partial") == "1" {
		name = "content"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := t.ExecuteTemplate(w, name, v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func (p *Page) view(l i18n.Lang) pageView {
	snap := p.Snapshot()
	loc := p.opts.Location
	now := snap.Generated
	v := pageView{
		Lang: string(l), Refresh: int(p.opts.Refresh / time.Second), Collecting: snap.Collecting,
		Updated:    l.T("status.updated", l.DateTime(now.In(loc))+" ("+zoneLabel(now.In(loc))+")"),
		ReportPath: p.opts.ReportPath,
	}
	if l == i18n.VI {
		v.OtherLang, v.OtherLabel = "en", l.T("status.switch_lang")
	} else {
		v.OtherLang, v.OtherLabel = "vi", l.T("status.switch_lang")
	}
	s := snap.Summary
	v.Summary = l.T("status.summary", l.Int(s.Wards), l.Int(s.OK), l.Int(s.Alerting), l.Int(s.Degraded), l.Int(s.Down), l.Int(s.Unknown))
	for _, w := range snap.Wards {
		wv := wardView{ID: w.ID, Name: w.Name, State: w.State, Badge: badgeLevel(w), BadgeLabel: badgeLabel(l, w), Alerts: w.Alerts}
		if w.LastSeen != nil {
			wv.Last = clockOrDate(l, w.LastSeen.In(loc), now.In(loc))
			wv.LastAgo = l.T("status.ago", l.Duration(now.Sub(*w.LastSeen).Truncate(time.Second)))
		} else {
			wv.Last = l.T("status.last_never")
		}
		for _, c := range w.Classes {
			cv := classView{Name: l.Class(c.Class), State: c.State, StateLabel: l.T("state." + c.State),
				Count: l.T("status.up_of", l.Int(c.Up), l.Int(c.Total))}
			cv.Down = strings.Join(c.Down, ", ")
			if c.DownMore > 0 {
				cv.Down += " " + l.T("status.down_more", l.Int(c.DownMore))
			}
			wv.Classes = append(wv.Classes, cv)
		}
		v.Wards = append(v.Wards, wv)
	}
	if snap.Firing > 0 {
		v.Firing = l.Int(snap.Firing)
	}
	shown, hidden, budget := 0, 0, p.opts.MaxFull
	for i, g := range snap.Groups {
		if i >= p.opts.MaxGroups {
			hidden += g.Count
			continue
		}
		shown++
		gv := groupView{Name: g.Rule, Severity: g.Severity, SeverityLabel: severityLabel(l, g.Severity),
			Where: g.WardName, Count: l.T("status.group_count", l.Int(g.Count)),
			Since: l.T("status.since", clockOrDate(l, g.Since.In(loc), now.In(loc))),
			Age:   ageText(l, g.AgeSeconds), Unacked: g.Acked < g.Count}
		if g.Acked > 0 {
			gv.Count += " · " + l.T("status.group_acked", l.Int(g.Acked))
		}
		if gv.Unacked {
			gv.UnackedLabel = l.T("status.group_unacked", l.Int(g.Count-g.Acked))
		}
		for _, a := range g.Alerts[:min(budget, len(g.Alerts))] {
			gv.Alerts = append(gv.Alerts, alertOf(l, a, loc, now))
		}
		budget -= len(gv.Alerts)
		if more := g.Count - len(gv.Alerts); more > 0 {
			if len(gv.Alerts) > 0 {
				gv.More = l.T("status.group_more", l.Int(more))
			}
			if p.opts.AlertsPath != "" {
				gv.MoreLink = p.opts.AlertsPath + "?" + url.Values{"ward": {g.Ward}, "rule": {g.Rule}, "state": {"firing"}}.Encode()
			}
		}
		v.Groups = append(v.Groups, gv)
	}
	if n := len(snap.Groups) - shown; n > 0 {
		v.MoreGroups = l.T("status.more_groups", l.Int(n), l.Int(hidden))
	}
	return v
}

// ageText is an alert's age to the minute: its seconds are noise once it
// is older than one.
func ageText(l i18n.Lang, seconds int64) string {
	d := time.Duration(seconds) * time.Second
	if d >= time.Minute {
		d = d.Truncate(time.Minute)
	}
	return l.Duration(d)
}

func severityLabel(l i18n.Lang, sev string) string {
	if i18n.Has("severity." + sev) {
		return l.T("severity." + sev)
	}
	return sev
}

func alertOf(l i18n.Lang, a AlertStatus, loc *time.Location, now time.Time) alertView {
	av := alertView{Name: a.Name, Severity: a.Severity, Acked: a.Acked,
		SeverityLabel: severityLabel(l, a.Severity),
		Summary:       a.SummaryVI,
		Since:         l.T("status.since", clockOrDate(l, a.Since.In(loc), now.In(loc))),
		Age:           ageText(l, a.AgeSeconds),
	}
	if (l == i18n.EN && a.SummaryEN != "") || a.SummaryVI == "" {
		av.Summary = a.SummaryEN
	}
	var what []string
	if a.Class != "" {
		what = append(what, l.Class(a.Class))
	}
	if a.Device != "" {
		what = append(what, a.Device)
	}
	av.What = strings.Join(what, " · ")
	av.Where = strings.Join(append([]string{a.WardName}, what...), " · ")
	switch {
	case a.Acked && a.AckBy != "":
		av.Ack = l.T("status.acked", a.AckBy)
	case a.Acked:
		av.Ack = l.T("status.acked_anon")
	default:
		av.Ack = l.T("status.unacked")
	}
	if a.Acked && a.SilenceID != "" {
		av.Ack += " · " + l.T("status.silenced", a.SilenceID)
	}
	return av
}

// badgeLabel names the devices' state and the count of the worst alerts;
// "OK" is left out when an alert fires, since it would contradict it.
func badgeLabel(l i18n.Lang, w WardStatus) string {
	var alerts string
	switch {
	case w.Critical > 0:
		alerts = l.T("status.n_critical", l.Int(w.Critical))
	case w.Warning == 1:
		alerts = l.T("status.one_warning")
	case w.Warning > 1:
		alerts = l.T("status.n_warnings", l.Int(w.Warning))
	}
	state := l.T("state." + w.State)
	switch {
	case alerts == "":
		return state
	case w.State == StateOK:
		return alerts
	}
	return state + " · " + alerts
}

// zoneLabel names t's zone as its abbreviation and its offset from UTC,
// "ICT, UTC+7"; a zone known only by its offset is "UTC+5:30".
func zoneLabel(t time.Time) string {
	name, off := t.Zone()
	if off == 0 && (name == "UTC" || name == "") {
		return "UTC"
	}
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	utc := fmt.Sprintf("UTC%s%d", sign, off/3600)
	if m := off % 3600 / 60; m != 0 {
		utc += fmt.Sprintf(":%02d", m)
	}
	if name == "" || strings.ContainsAny(name[:1], "+-0123456789") {
		return utc
	}
	return name + ", " + utc
}

// clockOrDate shows a time of today as 14:05 and an older one with its date.
func clockOrDate(l i18n.Lang, t, now time.Time) string {
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return l.Clock(t)
	}
	return l.DateTime(t)
}

// Memory is an in-memory Source for tests and demos. Its methods are safe
// for concurrent use.
type Memory struct {
	mu         sync.Mutex
	offices    []Office
	devices    map[string]DeviceState // ward/class/device
	alerts     map[string]Alert       // by id
	collecting bool
}

// NewMemory returns an empty source that is collecting.
func NewMemory(offices ...Office) *Memory {
	return &Memory{offices: slices.Clone(offices), devices: map[string]DeviceState{}, alerts: map[string]Alert{}, collecting: true}
}

// Offices implements Source.
func (m *Memory) Offices() []Office {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.offices)
}

// Devices implements Source, in a stable order.
func (m *Memory) Devices() []DeviceState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DeviceState, 0, len(m.devices))
	for _, d := range m.devices {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b DeviceState) int {
		return cmp.Or(cmp.Compare(a.Ward, b.Ward), cmp.Compare(a.Class, b.Class), i18n.NaturalCompare(a.Device, b.Device))
	})
	return out
}

// AlertGroups implements Source, in the order the alert engine uses.
func (m *Memory) AlertGroups(maxGroups, perGroup int) []AlertGroup {
	m.mu.Lock()
	// A rule has one severity; the key holds it so a test that gives one
	// name two severities still sees both.
	type key struct{ ward, rule, severity string }
	members := map[key][]Alert{}
	for _, a := range m.alerts {
		k := key{a.Ward, a.Name, a.Severity}
		members[k] = append(members[k], a)
	}
	m.mu.Unlock()
	out := make([]AlertGroup, 0, len(members))
	for k, as := range members {
		g := AlertGroup{Ward: k.ward, Rule: k.rule, Severity: k.severity, Count: len(as), Since: as[0].Since}
		for _, a := range as {
			if a.Acked {
				g.Acked++
			}
			if a.Since.Before(g.Since) {
				g.Since = a.Since
			}
		}
		out = append(out, g)
	}
	unacked := func(g AlertGroup) int { return min(g.Count-g.Acked, 1) }
	slices.SortFunc(out, func(a, b AlertGroup) int {
		return cmp.Or(severityRank(a.Severity)-severityRank(b.Severity), unacked(b)-unacked(a),
			a.Since.Compare(b.Since), cmp.Compare(a.Ward, b.Ward), cmp.Compare(a.Rule, b.Rule))
	})
	acked := func(a Alert) int {
		if a.Acked {
			return 1
		}
		return 0
	}
	for i := range out[:min(maxGroups, len(out))] {
		as := members[key{out[i].Ward, out[i].Rule, out[i].Severity}]
		slices.SortFunc(as, func(a, b Alert) int {
			return cmp.Or(acked(a)-acked(b), a.Since.Compare(b.Since), cmp.Compare(a.Class, b.Class), i18n.NaturalCompare(a.Device, b.Device))
		})
		out[i].Alerts = as[:min(perGroup, len(as))]
	}
	return out
}

// Collecting implements CollectingSource.
func (m *Memory) Collecting() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.collecting
}

// SetCollecting says whether facmon is collecting.
func (m *Memory) SetCollecting(c bool) {
	m.mu.Lock()
	m.collecting = c
	m.mu.Unlock()
}

// SetDevice records the state of a device.
func (m *Memory) SetDevice(d DeviceState) {
	m.mu.Lock()
	m.devices[d.Ward+"/"+d.Class+"/"+d.Device] = d
	m.mu.Unlock()
}

// SetAlert adds or replaces an active alert (by id).
func (m *Memory) SetAlert(a Alert) {
	m.mu.Lock()
	m.alerts[a.ID] = a
	m.mu.Unlock()
}

// Resolve removes an alert.
func (m *Memory) Resolve(id string) {
	m.mu.Lock()
	delete(m.alerts, id)
	m.mu.Unlock()
}
