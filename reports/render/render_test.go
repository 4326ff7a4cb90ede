package render

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/reporttest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func fixedReport(t testing.TB) *reports.Report {
	t.Helper()
	r, err := reports.Build(reporttest.March2026(), reporttest.March, reporttest.Settings())
	require.NoError(t, err)
	return r
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./reports/render/ -update")
	if !bytes.Equal(want, got) {
		// Show the first differing line rather than two walls of text.
		wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
		for i := 0; i < len(wl) || i < len(gl); i++ {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("%s differs from the golden file at line %d (go test -update rewrites it after a deliberate change)\nwant: %s\ngot:  %s", name, i+1, w, g)
			}
		}
	}
}

var langs = []i18n.Lang{i18n.VI, i18n.EN}

func TestGoldenHTML(t *testing.T) {
	r := fixedReport(t)
	for _, l := range langs {
		var b bytes.Buffer
		require.NoError(t, HTML(&b, r, l))
		out := b.String()
		golden(t, "report."+string(l)+".html", b.Bytes())
		assert.NotContains(t, out, "⟦", "every label is in the catalogue")
		assert.NotRegexp(t, regexp.MustCompile(`(?i)<(link|script|img|iframe)\b|\bsrc=|url\(`), out, "self-contained: no external assets, no script")
		assert.Contains(t, out, `<html lang="`+string(l)+`">`)
		assert.Contains(t, out, "<svg", "inline charts")
		assert.Contains(t, out, "@page { size: A4")
	}
	var vi bytes.Buffer
	require.NoError(t, HTML(&vi, r, i18n.VI))
	for _, want := range []string{
		"Báo cáo thời gian hoạt động thiết bị", "Tỷ lệ sẵn sàng toàn quận", "từ 01/03/2026 đến hết 31/03/2026",
		"Hòa Cường Bắc", "Thuận Phước", "Cửa tự động", "Điều hòa", "Máy chủ và UPS", "Không đạt",
		"Thời gian facmon không thu thập dữ liệu", "20/03/2026 14:00", "chưa từng gửi dữ liệu", "Thay UPS",
	} {
		assert.Contains(t, vi.String(), want)
	}
}

func TestGoldenCSV(t *testing.T) {
	r := fixedReport(t)
	for _, l := range langs {
		var b bytes.Buffer
		require.NoError(t, CSV(&b, r, l))
		golden(t, "report."+string(l)+".csv", b.Bytes())
		require.True(t, bytes.HasPrefix(b.Bytes(), []byte("\ufeff")), "UTF-8 byte-order mark")
		recs, err := csv.NewReader(bytes.NewReader(b.Bytes()[3:])).ReadAll()
		require.NoError(t, err)
		assert.Len(t, recs, len(r.Devices)+1)
	}
}

// xlsxText reads a workbook back with excelize: every sheet, every cell as
// Excel shows it (number formats applied).
func xlsxText(t *testing.T, data []byte) string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	require.NoError(t, err)
	defer f.Close()
	var b strings.Builder
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		require.NoError(t, err)
		b.WriteString("## " + sheet + "\n")
		for _, row := range rows {
			b.WriteString(strings.Join(row, "\t"))
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestGoldenXLSX(t *testing.T) {
	r := fixedReport(t)
	for _, l := range langs {
		var b bytes.Buffer
		require.NoError(t, XLSX(&b, r, l))
		txt := xlsxText(t, b.Bytes())
		golden(t, "report."+string(l)+".xlsx.txt", []byte(txt))
	}
	var b bytes.Buffer
	require.NoError(t, XLSX(&b, r, i18n.VI))
	f, err := excelize.OpenReader(bytes.NewReader(b.Bytes()))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, []string{"Tổng quan", "Theo phường", "Theo thiết bị", "Sự cố"}, f.GetSheetList())
	// Numbers are typed: the availability of the first device is a number.
	typ, err := f.GetCellType("Theo thiết bị", "E2")
	require.NoError(t, err)
	assert.Contains(t, []excelize.CellType{excelize.CellTypeNumber, excelize.CellTypeUnset}, typ, "a number, not a string")
	v, err := f.GetCellValue("Theo thiết bị", "E2", excelize.Options{RawCellValue: true})
	require.NoError(t, err)
	assert.NotEmpty(t, v)
}

func TestUnknownFormat(t *testing.T) {
	assert.EqualError(t, Write(&bytes.Buffer{}, fixedReport(t), "pdf", i18n.VI), `unknown format "pdf" (want html, csv or xlsx)`)
}

func TestLargeFleetHTMLStaysPrintable(t *testing.T) {
	ds, s := reporttest.Fleet(2, 200, reporttest.March, 3, 7)
	r, err := reports.Build(ds, reporttest.March, s)
	require.NoError(t, err)
	require.Greater(t, len(r.Incidents), htmlMaxIncidents)
	var b bytes.Buffer
	require.NoError(t, HTML(&b, r, i18n.EN))
	out := b.String()
	assert.Contains(t, out, "The figures of each of the 400 devices are in the XLSX and CSV exports.")
	assert.NotContains(t, out, `<table class="devices">`)
	assert.Contains(t, out, "Longest incidents")
	incs := out[strings.Index(out, `<table class="incidents">`):]
	incs = incs[:strings.Index(incs, "</table>")]
	assert.Equal(t, htmlMaxIncidents, strings.Count(incs, "<tr><td>"))
}
