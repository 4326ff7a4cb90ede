package render

import (
	"io"
	"testing"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/reporttest"
)

// BenchmarkMonthlyReport computes and renders as HTML the report of one
// month for 13 wards × 200 devices (2,600 devices, each with a few
// outages in the month and the month before, some flapping) from an
// in-memory dataset. The target is under 2 s per report.
func BenchmarkMonthlyReport(b *testing.B) {
	ds, s := reporttest.Fleet(13, 200, reporttest.March, 3, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := reports.Build(ds, reporttest.March, s)
		if err != nil {
			b.Fatal(err)
		}
		if err := HTML(io.Discard, r, i18n.VI); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMonthlyReportXLSX is the same report as a workbook.
func BenchmarkMonthlyReportXLSX(b *testing.B) {
	ds, s := reporttest.Fleet(13, 200, reporttest.March, 3, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r, err := reports.Build(ds, reporttest.March, s)
		if err != nil {
			b.Fatal(err)
		}
		if err := XLSX(io.Discard, r, i18n.VI); err != nil {
			b.Fatal(err)
		}
	}
}
