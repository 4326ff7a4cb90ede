// Package render writes an uptime report (reports.Report) as a
// self-contained HTML page (printable on A4, charts as inline SVG), as
// CSV, or as an XLSX workbook, in Vietnamese or English. Every label comes
// from the catalogue of reports/i18n.
package render

import (
	"fmt"
	"io"
	"time"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
)

// Formats are the output formats, by name.
var Formats = []string{"html", "csv", "xlsx"}

// ContentType is the MIME type of a format.
func ContentType(format string) string {
	switch format {
	case "csv":
		return "text/csv; charset=utf-8"
	case "xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/html; charset=utf-8"
}

// Write renders r in format ("html", "csv" or "xlsx") and language l.
func Write(w io.Writer, r *reports.Report, format string, l i18n.Lang) error {
	switch format {
	case "html", "":
		return HTML(w, r, l)
	case "csv":
		return CSV(w, r, l)
	case "xlsx":
		return XLSX(w, r, l)
	}
	return fmt.Errorf("unknown format %q (want html, csv or xlsx)", format)
}

// cellKind says how a cell is written in each format.
type cellKind uint8

const (
	textCell    cellKind = iota
	numberCell           // f with decimals
	intCell              // f, whole
	percentCell          // f in percent, 2 decimals
	changeCell           // f in percentage points, signed, 2 decimals
	timeCell             // t, date and time
	emptyCell            // no value ("—")
)

type cell struct {
	kind     cellKind
	s        string
	f        float64
	t        time.Time
	decimals int
	// css is an extra class for HTML: "pass", "fail", "num".
	css string
}

func text(s string) cell           { return cell{kind: textCell, s: s} }
func ident(s string) cell          { return cell{kind: textCell, s: s, css: "id"} }
func number(f float64, d int) cell { return cell{kind: numberCell, f: f, decimals: d} }
func integer(n int) cell           { return cell{kind: intCell, f: float64(n)} }
func minutes(d time.Duration) cell { return number(d.Minutes(), 1) }
func empty() cell                  { return cell{kind: emptyCell} }
func at(t time.Time) cell {
	if t.IsZero() {
		return empty()
	}
	return cell{kind: timeCell, t: t}
}

func percent(v float64, ok bool) cell {
	if !ok {
		return empty()
	}
	return cell{kind: percentCell, f: v, decimals: 2}
}

func change(v float64, ok bool) cell {
	if !ok {
		return empty()
	}
	return cell{kind: changeCell, f: v, decimals: 2}
}

// format writes a cell for people (HTML) in language l.
func (c cell) format(l i18n.Lang, loc *time.Location) string {
	switch c.kind {
	case numberCell:
		return l.Number(c.f, c.decimals)
	case intCell:
		return l.Number(c.f, 0)
	case percentCell:
		return l.Number(c.f, c.decimals)
	case changeCell:
		return l.Signed(c.f, c.decimals)
	case timeCell:
		return l.DateTime(c.t.In(loc))
	case emptyCell:
		return l.T("val.na")
	}
	return c.s
}

// table is one table of a report, the same in every format.
type table struct {
	headers []string
	rows    [][]cell
	// numeric marks the columns aligned right in HTML.
	numeric []bool
	// groups, when set, holds per row the heading of a group of rows
	// that starts there ("" inside a group); HTML only.
	groups []string
}

func newTable(l i18n.Lang, keys ...string) *table {
	t := &table{}
	for _, k := range keys {
		t.headers = append(t.headers, l.T(k))
		t.numeric = append(t.numeric, false)
	}
	return t
}

func (t *table) add(cells ...cell) {
	for i, c := range cells {
		if c.kind != textCell && i < len(t.numeric) {
			t.numeric[i] = true
		}
	}
	t.rows = append(t.rows, cells)
}

func slaCell(l i18n.Lang, pass, ok bool) cell {
	switch {
	case !ok:
		return empty()
	case pass:
		return cell{kind: textCell, s: l.T("val.pass"), css: "pass"}
	default:
		return cell{kind: textCell, s: l.T("val.fail"), css: "fail"}
	}
}

func mttr(s reports.Stats) cell {
	if d, ok := s.MTTR(); ok {
		return minutes(d)
	}
	return empty()
}

func mtbf(s reports.Stats) cell {
	if d, ok := s.MTBF(); ok {
		return number(d.Hours(), 1)
	}
	return empty()
}

func longest(s reports.Stats) cell {
	if s.Incidents == 0 {
		return empty()
	}
	return minutes(s.Longest)
}

// classTable: the district per device class, with the SLA.
func classTable(r *reports.Report, l i18n.Lang) *table {
	t := newTable(l, "col.class", "col.devices", "col.avail_pct", "col.target", "col.sla", "col.prev_pct", "col.change",
		"col.down_min", "col.incidents", "col.mttr_min", "col.mtbf_h", "col.longest_min")
	for _, c := range r.ByClass {
		pass, ok := c.Pass()
		t.add(text(l.Class(c.ID)), integer(c.Cur.Devices), percent(c.Availability()), number(c.Target, 2),
			slaCell(l, pass, ok), percent(c.Prev.Availability()), change(c.Change()),
			minutes(c.Cur.Down), integer(c.Cur.Incidents), mttr(c.Cur), mtbf(c.Cur), longest(c.Cur))
	}
	pass, ok := r.Pass()
	d := r.District
	total := l.T("col.district")
	if r.Ward != "" {
		total = l.T("col.whole_ward")
	}
	t.add(text(total), integer(d.Cur.Devices), percent(d.Availability()), empty(),
		slaCell(l, pass, ok), percent(d.Prev.Availability()), change(d.Change()),
		minutes(d.Cur.Down), integer(d.Cur.Incidents), mttr(d.Cur), mtbf(d.Cur), longest(d.Cur))
	return t
}

// wardTable: one row per ward; per-class availability follows the totals.
func wardTable(r *reports.Report, l i18n.Lang, withIDs bool) *table {
	keys := []string{"col.ward", "col.devices", "col.avail_pct", "col.sla", "col.prev_pct", "col.change",
		"col.down_min", "col.ward_network_min", "col.planned_min", "col.unknown_min", "col.incidents", "col.mttr_min", "col.mtbf_h", "col.longest_min"}
	if withIDs {
		keys = append([]string{"col.ward_id"}, keys...)
	}
	t := newTable(l, keys...)
	for _, c := range r.Classes {
		t.headers = append(t.headers, l.Class(c)+" (%)")
		t.numeric = append(t.numeric, true)
	}
	for _, w := range r.Wards {
		pass, ok := w.Pass()
		cells := []cell{text(w.Name), integer(w.Cur.Devices), percent(w.Availability()), slaCell(l, pass, ok),
			percent(w.Prev.Availability()), change(w.Change()), minutes(w.Cur.Down), minutes(w.Network),
			minutes(w.Cur.Planned), minutes(w.Cur.Unknown), integer(w.Cur.Incidents), mttr(w.Cur), mtbf(w.Cur), longest(w.Cur)}
		if withIDs {
			cells = append([]cell{text(w.ID)}, cells...)
		}
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

func deviceNote(l i18n.Lang, d reports.DeviceRow, loc *time.Location) string {
	switch {
	case d.NeverReported:
		return l.T("val.never")
	case !d.Since.IsZero():
		return l.T("val.since", l.DateTime(d.Since.In(loc)))
	}
	return ""
}

// deviceTable: one row per device.
func deviceTable(r *reports.Report, l i18n.Lang, rows []reports.DeviceRow) *table {
	t := newTable(l, "col.ward_id", "col.ward", "col.class", "col.device", "col.avail_pct", "col.target", "col.sla",
		"col.prev_pct", "col.change", "col.up_min", "col.down_min", "col.network_min", "col.planned_min", "col.unknown_min",
		"col.incidents", "col.mttr_min", "col.mtbf_h", "col.longest_min", "col.note")
	for _, d := range rows {
		pass, ok := d.Pass()
		t.add(text(d.Ward), text(d.WardName), text(l.Class(d.Class)), ident(d.Device), percent(d.Availability()),
			number(d.Target, 2), slaCell(l, pass, ok), percent(d.Prev.Availability()), change(d.Change()),
			minutes(d.Cur.Up), minutes(d.Cur.Down), minutes(d.Cur.Network), minutes(d.Cur.Planned), minutes(d.Cur.Unknown),
			integer(d.Cur.Incidents), mttr(d.Cur), mtbf(d.Cur), longest(d.Cur), text(deviceNote(l, d, r.Location)))
	}
	return t
}

func incidentNote(l i18n.Lang, inc reports.Incident) string {
	switch {
	case inc.StartsBefore && inc.EndsAfter:
		return l.T("val.before") + "; " + l.T("val.after")
	case inc.StartsBefore:
		return l.T("val.before")
	case inc.EndsAfter:
		return l.T("val.after")
	}
	return ""
}

// incidentTable: one row per incident; withIDs adds the ward id.
func incidentTable(l i18n.Lang, incs []reports.Incident, withIDs bool) *table {
	keys := []string{"col.ward", "col.class", "col.device", "col.start", "col.end", "col.down_min", "col.network_min", "col.note"}
	if withIDs {
		keys = append([]string{"col.ward_id"}, keys...)
	}
	t := newTable(l, keys...)
	for _, inc := range incs {
		cells := []cell{text(inc.WardName), text(l.Class(inc.Class)), ident(inc.Device), at(inc.Start), at(inc.End),
			minutes(inc.Downtime), minutes(inc.Network), text(incidentNote(l, inc))}
		if withIDs {
			cells = append([]cell{text(inc.Ward)}, cells...)
		}
		t.add(cells...)
	}
	return t
}

// periodText is "từ 01/03/2026 đến hết 31/03/2026" (To is exclusive).
func periodText(l i18n.Lang, from, to time.Time, loc *time.Location) string {
	last := to.In(loc).Add(-time.Nanosecond)
	if to.In(loc).Hour() != 0 || to.In(loc).Minute() != 0 || from.In(loc).Hour() != 0 || from.In(loc).Minute() != 0 {
		return l.DateTime(from.In(loc)) + " – " + l.DateTime(to.In(loc))
	}
	return l.T("report.period_range", l.Date(from.In(loc)), l.Date(last))
}

// unknownLabel names the basis of the not-collecting figure.
func unknownLabel(r *reports.Report, l i18n.Lang) string {
	if r.AlwaysOpen {
		return l.T("fig.unknown_24x7")
	}
	return l.T("fig.unknown")
}

func availabilityLabel(r *reports.Report, l i18n.Lang) string {
	if r.Ward != "" {
		return l.T("fig.availability_ward")
	}
	return l.T("fig.availability")
}

// summaryPairs are the summary figures as label/value pairs.
func summaryPairs(r *reports.Report, l i18n.Lang) [][2]string {
	d := r.District
	loc := r.Location
	hours := l.T("report.hours_office")
	if r.AlwaysOpen {
		hours = l.T("report.hours_247")
	}
	scope := l.T("report.scope_all")
	if r.Ward != "" && len(r.Wards) > 0 {
		scope = r.Wards[0].Name
	}
	na := l.T("val.na")
	pct := func(v float64, ok bool) string {
		if !ok {
			return na
		}
		return l.Percent(v, 2)
	}
	dur := func(v time.Duration, ok bool) string {
		if !ok {
			return na
		}
		return l.HoursMinutes(v)
	}
	ch, chOK := d.Change()
	chs := na
	if chOK {
		chs = l.Signed(ch, 2) + " " + l.T("unit.pp")
	}
	var wardNetwork time.Duration
	for _, w := range r.Wards {
		wardNetwork += w.Network
	}
	mt, ok1 := d.Cur.MTTR()
	mb, ok2 := d.Cur.MTBF()
	out := [][2]string{
		{l.T("report.period"), periodText(l, r.From, r.To, loc)},
		{l.T("report.previous"), periodText(l, r.PrevFrom, r.PrevTo, loc)},
		{l.T("report.scope"), scope},
		{l.T("report.hours"), hours},
		{l.T("report.generated"), l.DateTime(r.Generated.In(loc))},
		{availabilityLabel(r, l), pct(d.Availability())},
		{l.T("fig.change"), chs},
		{l.T("fig.devices"), l.Int(d.Cur.Devices)},
		{l.T("fig.downtime"), l.HoursMinutes(d.Cur.Down)},
		{l.T("fig.incidents"), l.Int(d.Cur.Incidents)},
		{l.T("fig.mttr"), dur(mt, ok1)},
		{l.T("fig.mtbf"), dur(mb, ok2)},
		{l.T("fig.longest"), dur(d.Cur.Longest, d.Cur.Incidents > 0)},
		{l.T("fig.network"), l.HoursMinutes(wardNetwork)},
		{l.T("fig.planned"), l.HoursMinutes(d.Cur.Planned)},
		{unknownLabel(r, l), l.HoursMinutes(r.NotCollecting)},
	}
	return out
}
