package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/reporttest"
)

// facmon was down from Friday 6 March 16:00 to Monday 9 March 00:00: 56 h
// of wall time, of which 5 h were office hours (Friday 16:00–17:00 and
// Saturday 07:30–11:30). Each figure of the report (the summary card, the
// gaps table, the device rows of HTML, CSV and XLSX) must count it on the
// report's basis, to the minute: 300 minutes, or 3360 on a 24/7 report.
func TestEveryFigureOnTheReportsBasis(t *testing.T) {
	week := reports.Period{From: reporttest.At("2026-03-02"), To: reporttest.At("2026-03-09")}
	gap := reports.Interval{Start: reporttest.At("2026-03-06 16:00"), End: reporttest.At("2026-03-09 00:00")}
	ds := &reports.Dataset{From: reporttest.At("2026-02-23"), To: week.To, Now: week.To.Add(time.Hour), Unknown: []reports.Interval{gap}}
	for _, dev := range []string{"door-1", "door-2"} {
		ds.Devices = append(ds.Devices, reports.DeviceData{Ward: "thanh-binh", Class: "door", Device: dev, Inventory: true,
			Telemetry: reports.Telemetry{Before: ds.From.Add(-time.Second), First: ds.From.Add(time.Second), Last: ds.To.Add(-time.Second), After: ds.To.Add(time.Second)}})
	}
	for _, c := range []struct {
		name       string
		alwaysOpen bool
		minutes    int
	}{{"office hours", false, 300}, {"24x7", true, 56 * 60}} {
		t.Run(c.name, func(t *testing.T) {
			r, err := reports.Build(ds, week, reports.Settings{Location: reporttest.Location, AlwaysOpen: c.alwaysOpen,
				Offices: []reports.Office{{ID: "thanh-binh", Name: "Thanh Bình"}}, Generated: ds.Now})
			require.NoError(t, err)
			want := time.Duration(c.minutes) * time.Minute
			assert.Equal(t, want, r.NotCollecting, "the summary's figure")
			require.Len(t, r.GapCounted, 1)
			assert.Equal(t, want, r.GapCounted[0], "the gaps table's counted time")
			for _, d := range r.Devices {
				assert.Equal(t, want, d.Cur.Unknown, "unknown time of %s", d.Device)
			}
			assert.Equal(t, 2*want, r.Wards[0].Cur.Unknown, "the ward's unknown device time")

			l := i18n.EN
			hm := l.HoursMinutes(want)
			var h bytes.Buffer
			require.NoError(t, HTML(&h, r, l))
			html := h.String()
			assert.Contains(t, html, `<span class="value">`+hm+`</span>`, "summary card %q", hm)
			assert.Contains(t, html, "<td>"+l.Duration(want)+"</td>", "gaps table")

			var cb bytes.Buffer
			require.NoError(t, CSV(&cb, r, l))
			mins := fmt.Sprintf("%.1f", float64(c.minutes))
			for _, line := range strings.Split(cb.String(), "\n") {
				if strings.Contains(line, ",door-") {
					assert.Contains(t, line, ","+mins+",", "CSV device row: unknown %s min", mins)
				}
			}
			var xb bytes.Buffer
			require.NoError(t, XLSX(&xb, r, l))
			x := xlsxText(t, xb.Bytes())
			assert.Contains(t, x, unknownLabel(r, l)+"\t"+hm, "XLSX summary")
		})
	}
}
