package render

import (
	"bufio"
	_ "embed"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
)

//go:embed report.html.tmpl
var reportTemplate string

var baseTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"T":    func(string, ...any) string { return "" }, // replaced per language
	"args": func(v ...any) []any { return v },
}).Parse(reportTemplate))

// The HTML report lists every device only when that stays printable; a
// district of thousands of devices is in the XLSX and CSV exports.
const (
	htmlMaxDevices   = 300
	htmlMaxIncidents = 40
)

type htmlCell struct {
	Text  string
	Class string
}

type htmlRow struct {
	Group string // a heading row before this one
	Cells []htmlCell
}

type htmlTable struct {
	Headers []string
	Numeric []bool
	Rows    []htmlRow
}

func (t *table) html(l i18n.Lang, loc *time.Location) *htmlTable {
	out := &htmlTable{Headers: t.headers, Numeric: t.numeric}
	for ri, row := range t.rows {
		cells := make([]htmlCell, len(row))
		for i, c := range row {
			cls := c.css
			if i < len(t.numeric) && t.numeric[i] {
				cls += " num"
			}
			cells[i] = htmlCell{Text: c.format(l, loc), Class: strings.TrimSpace(cls)}
		}
		hr := htmlRow{Cells: cells}
		if ri < len(t.groups) {
			hr.Group = t.groups[ri]
		}
		out.Rows = append(out.Rows, hr)
	}
	return out
}

type card struct {
	ID, Label, Value, Sub, Class string
}

type htmlView struct {
	Lang          string
	Title         string
	Meta          [][2]string
	Notes         []string
	Headline      card
	Cards         []card
	Classes       *htmlTable
	Wards         *htmlTable
	WardClasses   *htmlTable
	Worst         *htmlTable
	Incidents     *htmlTable
	MoreIncidents string
	Devices       *htmlTable
	MoreDevices   string
	Maintenance   *htmlTable
	Outages       *htmlTable
	Gaps          *htmlTable
	WardChart     template.HTML
	HeatMap       template.HTML
	IncidentChart template.HTML
}

// HTML writes the report as one self-contained HTML page.
func HTML(w io.Writer, r *reports.Report, l i18n.Lang) error {
	t, err := baseTemplate.Clone()
	if err != nil {
		return err
	}
	t.Funcs(template.FuncMap{"T": l.T})
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := t.Execute(bw, buildView(r, l)); err != nil {
		return err
	}
	return bw.Flush()
}

func buildView(r *reports.Report, l i18n.Lang) *htmlView {
	loc := r.Location
	v := &htmlView{Lang: string(l), Title: l.T("report.title")}
	pairs := summaryPairs(r, l)
	v.Meta = pairs[:5]
	if r.Partial() {
		v.Notes = append(v.Notes, l.T("report.partial", l.DateTime(r.End.In(loc))))
	}
	if r.NoHeartbeat {
		v.Notes = append(v.Notes, l.T("report.no_heartbeat"))
	}

	d := r.District
	a, ok := d.Availability()
	v.Headline = card{ID: "district-availability", Label: availabilityLabel(r, l), Value: l.T("val.na")}
	if ok {
		v.Headline.Value = l.Percent(a, 2)
	}
	if ch, ok := d.Change(); ok {
		v.Headline.Sub = l.T("fig.change") + ": " + l.Signed(ch, 2) + " " + l.T("unit.pp")
	}
	if pass, ok := r.Pass(); ok {
		missed := 0
		for _, c := range r.ByClass {
			if p, has := c.Pass(); has && !p {
				missed++
			}
		}
		if pass {
			v.Headline.Class = "pass"
			v.Headline.Sub += " · " + l.T("val.classes_met")
		} else {
			v.Headline.Class = "fail"
			v.Headline.Sub += " · " + l.T("val.classes_missed", l.Int(missed), l.Int(len(r.ByClass)))
		}
	}
	ids := map[string]string{
		"fig.devices": "devices", "fig.downtime": "downtime", "fig.incidents": "incidents", "fig.mttr": "mttr",
		"fig.mtbf": "mtbf", "fig.longest": "longest", "fig.network": "network", "fig.planned": "planned", "fig.unknown": "unknown",
	}
	keys := []string{"fig.devices", "fig.downtime", "fig.incidents", "fig.mttr", "fig.mtbf", "fig.longest", "fig.network", "fig.planned", "fig.unknown"}
	byLabel := map[string]string{}
	for _, p := range pairs {
		byLabel[p[0]] = p[1]
	}
	for _, k := range keys {
		label := l.T(k)
		if k == "fig.unknown" {
			label = unknownLabel(r, l)
		}
		v.Cards = append(v.Cards, card{ID: ids[k], Label: label, Value: byLabel[label]})
	}

	v.Classes = classTable(r, l).html(l, loc)
	v.Wards = wardSummaryTable(r, l).html(l, loc)
	v.WardClasses = wardClassTable(r, l).html(l, loc)
	v.Worst = worstTable(r, l).html(l, loc)

	incs := r.Incidents
	if len(incs) > htmlMaxIncidents {
		incs = slices.Clone(incs)
		slices.SortStableFunc(incs, func(a, b reports.Incident) int {
			if a.Downtime != b.Downtime {
				if a.Downtime > b.Downtime {
					return -1
				}
				return 1
			}
			return a.Start.Compare(b.Start)
		})
		incs = incs[:htmlMaxIncidents]
		v.MoreIncidents = l.T("report.more", l.Int(len(r.Incidents)-htmlMaxIncidents))
	}
	v.Incidents = incidentTable(l, incs, false).html(l, loc)
	if len(r.Devices) <= htmlMaxDevices {
		v.Devices = deviceSummaryTable(l, r.Devices, loc).html(l, loc)
	} else {
		v.MoreDevices = l.T("report.devices_elsewhere", l.Int(len(r.Devices)))
	}

	mt := newTable(l, "col.name", "col.scope", "col.start", "col.end", "col.duration")
	for _, p := range r.Maintenance {
		name := p.Name
		if name == "" {
			name = l.T("val.maintenance")
		}
		mt.add(text(name), text(scopeText(l, p)), at(p.Start), at(p.End), text(l.Duration(p.End.Sub(p.Start))))
	}
	v.Maintenance = mt.html(l, loc)
	ot := newTable(l, "col.ward", "col.start", "col.end", "col.duration", "col.office_time")
	for _, o := range r.Outages {
		ot.add(text(o.WardName), at(o.Start), at(o.End), text(l.Duration(o.End.Sub(o.Start))), text(l.Duration(o.Office)))
	}
	v.Outages = ot.html(l, loc)
	gt := newTable(l, "col.start", "col.end", "col.duration", gapCountedHeader(r))
	for i, g := range r.CollectionGaps {
		gt.add(at(g.Start), at(g.End), text(l.Duration(g.Duration())), text(l.Duration(r.GapCounted[i])))
	}
	v.Gaps = gt.html(l, loc)

	v.WardChart = wardChart(r, l)
	v.HeatMap = heatMap(r, l)
	v.IncidentChart = incidentChart(r, l)
	return v
}

// gapCountedHeader names the basis of a gap's counted time.
func gapCountedHeader(r *reports.Report) string {
	if r.AlwaysOpen {
		return "col.counted_24x7"
	}
	return "col.office_time"
}

func scopeText(l i18n.Lang, p reports.Planned) string {
	s := ""
	add := func(v string) {
		if v == "" {
			return
		}
		if s != "" {
			s += " / "
		}
		s += v
	}
	add(p.Ward)
	if p.Class != "" {
		add(l.Class(p.Class))
	}
	add(p.Device)
	if s == "" {
		return l.T("val.all")
	}
	return s
}

// wardSummaryTable is the ward table of the HTML page: fewer columns, so
// that it fits a portrait A4 page.
func wardSummaryTable(r *reports.Report, l i18n.Lang) *table {
	t := newTable(l, "col.ward", "col.devices", "col.avail_pct", "col.sla", "col.prev_pct", "col.change",
		"col.down_min", "col.ward_network_min", "col.planned_min", "col.unknown_min", "col.incidents", "col.mttr_min", "col.longest_min")
	for _, w := range r.Wards {
		pass, ok := w.Pass()
		t.add(text(w.Name), integer(w.Cur.Devices), percent(w.Availability()), slaCell(l, pass, ok),
			percent(w.Prev.Availability()), change(w.Change()), minutes(w.Cur.Down), minutes(w.Network),
			minutes(w.Cur.Planned), minutes(w.Cur.Unknown), integer(w.Cur.Incidents), mttr(w.Cur), longest(w.Cur))
	}
	return t
}

// wardClassTable is the availability of each class in each ward,
// coloured by the class target.
func wardClassTable(r *reports.Report, l i18n.Lang) *table {
	t := newTable(l, "col.ward")
	for _, c := range r.Classes {
		t.headers = append(t.headers, l.Class(c)+" ("+l.Percent(r.ByClass[slices.Index(r.Classes, c)].Target, 1)+")")
		t.numeric = append(t.numeric, true)
	}
	for _, w := range r.Wards {
		cells := []cell{text(w.Name)}
		for _, c := range w.Classes {
			pc := percent(c.Availability())
			if p, ok := c.Pass(); ok {
				pc.css = map[bool]string{true: "pass", false: "fail"}[p]
			}
			cells = append(cells, pc)
		}
		t.add(cells...)
	}
	return t
}

func worstTable(r *reports.Report, l i18n.Lang) *table {
	t := newTable(l, "col.ward", "col.class", "col.device", "col.avail_pct", "col.target", "col.down_min",
		"col.incidents", "col.mttr_min", "col.longest_min", "col.note")
	for _, d := range r.Worst {
		t.add(text(d.WardName), text(l.Class(d.Class)), ident(d.Device), percent(d.Availability()), number(d.Target, 2),
			minutes(d.Cur.Down), integer(d.Cur.Incidents), mttr(d.Cur), longest(d.Cur), text(deviceNote(l, d, r.Location)))
	}
	return t
}

// deviceSummaryTable lists the devices grouped under their ward.
func deviceSummaryTable(l i18n.Lang, rows []reports.DeviceRow, loc *time.Location) *table {
	t := newTable(l, "col.class", "col.device", "col.avail_pct", "col.sla", "col.change",
		"col.down_min", "col.network_min", "col.planned_min", "col.unknown_min", "col.incidents", "col.mttr_min", "col.longest_min", "col.note")
	prev := ""
	for _, d := range rows {
		g := ""
		if d.Ward != prev {
			g, prev = d.WardName, d.Ward
		}
		t.groups = append(t.groups, g)
		pass, ok := d.Pass()
		t.add(text(l.Class(d.Class)), ident(d.Device), percent(d.Availability()), slaCell(l, pass, ok),
			change(d.Change()), minutes(d.Cur.Down), minutes(d.Cur.Network), minutes(d.Cur.Planned), minutes(d.Cur.Unknown),
			integer(d.Cur.Incidents), mttr(d.Cur), longest(d.Cur), text(deviceNote(l, d, loc)))
	}
	return t
}
