package render

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
)

// The charts are inline SVG drawn here, so the report needs no script and
// no external asset, prints sharp and opens anywhere.

const chartWidth = 760

var classColors = map[string]string{
	"door":   "#1565c0",
	"hvac":   "#00897b",
	"server": "#6a1b9a",
	"camera": "#ef6c00",
}

var extraColors = []string{"#5d4037", "#546e7a", "#ad1457", "#827717"}

func classColor(r *reports.Report, class string) string {
	if c, ok := classColors[class]; ok {
		return c
	}
	n := 0
	for _, c := range r.Classes {
		if _, known := classColors[c]; known {
			continue
		}
		if c == class {
			break
		}
		n++
	}
	return extraColors[n%len(extraColors)]
}

// heatColor buckets an availability; the legend lists the same steps.
var heatSteps = []struct {
	min   float64
	color string
}{
	{99.9, "#1b5e20"},
	{99, "#43a047"},
	{97, "#9ccc65"},
	{95, "#fdd835"},
	{90, "#fb8c00"},
	{0, "#e53935"},
}

// The three days without an availability, told apart: a closed day is
// pale, a day to come is white with a dashed edge, and an open working day
// with no data is a dark grey that stands out as something to look into.
var heatEmpty = []struct {
	kind   reports.DayKind
	fill   string
	stroke string
	dash   string
	label  string
}{
	{reports.DayNoData, "#78909c", "#78909c", "", "chart.no_data"},
	{reports.DayClosed, "#eceff1", "#b0bec5", "", "chart.closed"},
	{reports.DayFuture, "#ffffff", "#b0bec5", "2,2", "chart.future"},
}

const heatNone = "#78909c"

func heatColor(v float64, ok bool) string {
	if !ok {
		return heatNone
	}
	for _, s := range heatSteps {
		if v >= s.min {
			return s.color
		}
	}
	return heatSteps[len(heatSteps)-1].color
}

type svgBuf struct{ strings.Builder }

func (b *svgBuf) f(format string, args ...any) { fmt.Fprintf(&b.Builder, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

func minTarget(r *reports.Report) float64 {
	t := 0.0
	for _, c := range r.ByClass {
		if c.Target > 0 && (t == 0 || c.Target < t) {
			t = c.Target
		}
	}
	return t
}

// wardChart is a horizontal bar per ward, scaled so that the differences
// between 97 % and 100 % show, with the SLA target as a dashed line.
func wardChart(r *reports.Report, l i18n.Lang) template.HTML {
	const left, right, rowH, top = 160.0, 70.0, 22.0, 24.0
	lo := 100.0
	target := minTarget(r)
	for _, w := range r.Wards {
		if a, ok := w.Availability(); ok {
			lo = math.Min(lo, a)
		}
	}
	if target > 0 {
		lo = math.Min(lo, target)
	}
	lo = math.Max(0, math.Min(95, math.Floor((lo-0.5)/5)*5))
	plotW := chartWidth - left - right
	x := func(v float64) float64 { return left + (v-lo)/(100-lo)*plotW }
	h := top + rowH*float64(len(r.Wards)) + 8
	var b svgBuf
	b.f(`<svg class="chart" role="img" viewBox="0 0 %d %.0f" xmlns="http://www.w3.org/2000/svg" font-size="11">`, chartWidth, h)
	b.f(`<title>%s</title>`, esc(l.T("section.ward_chart")))
	for i := 0; i <= 5; i++ {
		v := lo + (100-lo)*float64(i)/5
		b.f(`<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#cfd8dc" stroke-width="0.6"/>`, x(v), top-4, x(v), h-8)
		b.f(`<text x="%.1f" y="%.0f" text-anchor="middle" fill="#546e7a">%s</text>`, x(v), top-10, esc(l.Percent(v, 0)))
	}
	for i, w := range r.Wards {
		y := top + rowH*float64(i)
		b.f(`<text x="%.0f" y="%.1f" text-anchor="end" fill="#263238">%s</text>`, left-8, y+rowH/2+4, esc(w.Name))
		a, ok := w.Availability()
		if !ok {
			b.f(`<text x="%.1f" y="%.1f" fill="#90a4ae">%s</text>`, left+4, y+rowH/2+4, esc(l.T("val.na")))
			continue
		}
		color := "#1b7f3b"
		if pass, has := w.Pass(); has && !pass {
			color = "#c62828"
		}
		wd := math.Max(1, x(a)-left)
		b.f(`<rect x="%.0f" y="%.1f" width="%.1f" height="%.1f" fill="%s" rx="2"><title>%s: %s</title></rect>`,
			left, y+3, wd, rowH-6, color, esc(w.Name), esc(l.Percent(a, 2)))
		b.f(`<text x="%.1f" y="%.1f" fill="#263238">%s</text>`, left+wd+4, y+rowH/2+4, esc(l.Percent(a, 2)))
	}
	if target > 0 {
		b.f(`<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#263238" stroke-width="1.2" stroke-dasharray="4 3"/>`, x(target), top-4, x(target), h-8)
		b.f(`<text x="%.1f" y="%.0f" text-anchor="end" font-weight="bold" fill="#263238">%s %s</text>`, x(target)-3, h-1, esc(l.T("chart.target")), esc(l.Percent(target, 1)))
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}

// heatMap is a ward × day grid coloured by availability.
func heatMap(r *reports.Report, l i18n.Lang) template.HTML {
	const left, top, rowH = 160.0, 34.0, 18.0
	n := len(r.Days)
	if n == 0 {
		return ""
	}
	cellW := (chartWidth - left - 4) / float64(n)
	h := top + rowH*float64(len(r.Wards)) + 44
	var b svgBuf
	b.f(`<svg class="chart" role="img" viewBox="0 0 %d %.0f" xmlns="http://www.w3.org/2000/svg" font-size="10">`, chartWidth, h)
	b.f(`<title>%s</title>`, esc(l.T("section.heatmap")))
	step := 1
	if cellW < 14 {
		step = 2
	}
	for i, d := range r.Days {
		ld := d.In(r.Location)
		if i%step != 0 {
			continue
		}
		cx := left + cellW*(float64(i)+0.5)
		b.f(`<text x="%.1f" y="14" text-anchor="middle" fill="#546e7a">%d</text>`, cx, ld.Day())
		b.f(`<text x="%.1f" y="27" text-anchor="middle" fill="#90a4ae" font-size="8">%s</text>`, cx, esc(l.Weekday(ld)))
	}
	for wi, w := range r.Wards {
		y := top + rowH*float64(wi)
		b.f(`<text x="%.0f" y="%.1f" text-anchor="end" fill="#263238">%s</text>`, left-6, y+rowH/2+3.5, esc(w.Name))
		for i := range r.Days {
			v, ok := w.Day(i)
			fill, stroke, dash, label := heatColor(v, ok), "#fff", "", ""
			if ok {
				label = l.Percent(v, 2)
			} else {
				for _, e := range heatEmpty {
					if e.kind == w.DayKind(i) {
						fill, stroke, dash, label = e.fill, e.stroke, e.dash, l.T(e.label)
					}
				}
			}
			dashAttr := ""
			if dash != "" {
				dashAttr = ` stroke-dasharray="` + dash + `"`
			}
			b.f(`<rect x="%.2f" y="%.1f" width="%.2f" height="%.1f" fill="%s" stroke="%s" stroke-width="1"%s><title>%s %s: %s</title></rect>`,
				left+cellW*float64(i), y, cellW, rowH, fill, stroke, dashAttr, esc(w.Name), esc(l.Date(r.Days[i].In(r.Location))), esc(label))
		}
	}
	// legend
	ly := top + rowH*float64(len(r.Wards)) + 14
	lx := left
	for i, s := range heatSteps {
		label := "≥ " + l.Percent(s.min, 1)
		if i == len(heatSteps)-1 {
			label = l.T("chart.heat_low", l.Percent(heatSteps[i-1].min, 0))
		}
		b.f(`<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/>`, lx, ly, s.color)
		b.f(`<text x="%.0f" y="%.0f" fill="#37474f">%s</text>`, lx+16, ly+10, esc(label))
		lx += 84
	}
	lx = left
	for _, e := range heatEmpty {
		dashAttr := ""
		if e.dash != "" {
			dashAttr = ` stroke-dasharray="` + e.dash + `"`
		}
		b.f(`<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s" stroke="%s" stroke-width="0.8"%s/>`, lx, ly+16, e.fill, e.stroke, dashAttr)
		b.f(`<text x="%.0f" y="%.0f" fill="#37474f">%s</text>`, lx+16, ly+26, esc(l.T(e.label)))
		lx += 168
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}

// incidentChart stacks the incidents of each day by device class.
func incidentChart(r *reports.Report, l i18n.Lang) template.HTML {
	const left, right, top, plotH = 40.0, 10.0, 14.0, 150.0
	n := len(r.Days)
	if n == 0 {
		return ""
	}
	maxDay := 0
	for i := range r.Days {
		sum := 0
		for _, c := range r.Classes {
			sum += r.DayIncidents[c][i]
		}
		maxDay = max(maxDay, sum)
	}
	stepY := niceStep(maxDay)
	topY := stepY * int(math.Ceil(float64(max(maxDay, 1))/float64(stepY)))
	plotW := chartWidth - left - right
	barW := plotW / float64(n)
	h := top + plotH + 50
	y := func(v float64) float64 { return top + plotH - v/float64(topY)*plotH }
	var b svgBuf
	b.f(`<svg class="chart" role="img" viewBox="0 0 %d %.0f" xmlns="http://www.w3.org/2000/svg" font-size="10">`, chartWidth, h)
	b.f(`<title>%s</title>`, esc(l.T("section.inc_chart")))
	for v := 0; v <= topY; v += stepY {
		b.f(`<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#cfd8dc" stroke-width="0.6"/>`, left, y(float64(v)), chartWidth-right, y(float64(v)))
		b.f(`<text x="%.0f" y="%.1f" text-anchor="end" fill="#546e7a">%s</text>`, left-4, y(float64(v))+3, esc(l.Int(v)))
	}
	labelStep := 1
	if barW < 14 {
		labelStep = 2
	}
	for i, d := range r.Days {
		ld := d.In(r.Location)
		x0 := left + barW*float64(i)
		acc := 0
		for _, c := range r.Classes {
			k := r.DayIncidents[c][i]
			if k == 0 {
				continue
			}
			b.f(`<rect x="%.2f" y="%.1f" width="%.2f" height="%.1f" fill="%s"><title>%s — %s: %s</title></rect>`,
				x0+1, y(float64(acc+k)), math.Max(1, barW-2), y(float64(acc))-y(float64(acc+k)), classColor(r, c),
				esc(l.Date(ld)), esc(l.Class(c)), esc(l.Int(k)))
			acc += k
		}
		if i%labelStep == 0 {
			b.f(`<text x="%.1f" y="%.0f" text-anchor="middle" fill="#546e7a">%d</text>`, x0+barW/2, top+plotH+13, ld.Day())
		}
	}
	lx := left
	for _, c := range r.Classes {
		b.f(`<rect x="%.0f" y="%.0f" width="12" height="12" fill="%s"/>`, lx, top+plotH+26, classColor(r, c))
		b.f(`<text x="%.0f" y="%.0f" fill="#37474f">%s</text>`, lx+16, top+plotH+36, esc(l.Class(c)))
		lx += 150
	}
	b.f(`</svg>`)
	return template.HTML(b.String())
}

// niceStep is a tick step of 1, 2, 5, 10, 20, … giving at most 5 ticks.
func niceStep(maxV int) int {
	for _, base := range []int{1, 10, 100, 1000, 10000, 100000} {
		for _, m := range []int{1, 2, 5} {
			if s := base * m; maxV <= 5*s {
				return s
			}
		}
	}
	return 1000000
}
