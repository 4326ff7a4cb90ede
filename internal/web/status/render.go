package status

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/facmon/facmon/reports/i18n"
)

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
