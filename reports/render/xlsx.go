package render

import (
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
)

// XLSX writes the report as a workbook with the sheets summary, by ward,
// by device and incidents. Numbers and times are typed cells with number
// formats, so they sort and sum; sheet names and headers are in l.
func XLSX(w io.Writer, r *reports.Report, l i18n.Lang) error {
	f := excelize.NewFile()
	defer f.Close()
	x, err := newXLSXStyles(f, l)
	if err != nil {
		return err
	}

	summary := l.T("sheet.summary")
	if err := f.SetSheetName("Sheet1", summary); err != nil {
		return err
	}
	// Summary: the report's figures, then the table by class.
	row := 1
	set := func(sheet string, col, row int, c cell) error {
		return x.set(f, sheet, col, row, c, r.Location)
	}
	if err := f.SetCellValue(summary, "A1", l.T("report.title")); err != nil {
		return err
	}
	if err := f.SetCellStyle(summary, "A1", "A1", x.title); err != nil {
		return err
	}
	row = 3
	for _, p := range summaryPairs(r, l) {
		if err := set(summary, 1, row, text(p[0])); err != nil {
			return err
		}
		if err := set(summary, 2, row, text(p[1])); err != nil {
			return err
		}
		row++
	}
	if r.Partial() {
		row++
		if err := set(summary, 1, row, text(l.T("report.partial", l.DateTime(r.End.In(r.Location))))); err != nil {
			return err
		}
	}
	if r.NoHeartbeat {
		row++
		if err := set(summary, 1, row, text(l.T("report.no_heartbeat"))); err != nil {
			return err
		}
	}
	row += 2
	if err := set(summary, 1, row, text(l.T("section.by_class"))); err != nil {
		return err
	}
	row++
	if err := x.table(f, summary, row, classTable(r, l), r.Location, false); err != nil {
		return err
	}
	if err := f.SetColWidth(summary, "A", "A", 34); err != nil {
		return err
	}
	if err := f.SetColWidth(summary, "B", "L", 16); err != nil {
		return err
	}

	sheets := []struct {
		name string
		t    *table
	}{
		{l.T("sheet.by_ward"), wardTable(r, l, true)},
		{l.T("sheet.by_device"), deviceTable(r, l, r.Devices)},
		{l.T("sheet.incidents"), incidentTable(l, r.Incidents, true)},
	}
	for _, s := range sheets {
		if _, err := f.NewSheet(s.name); err != nil {
			return err
		}
		if err := x.table(f, s.name, 1, s.t, r.Location, true); err != nil {
			return err
		}
	}
	f.SetActiveSheet(0)
	_, err = f.WriteTo(w)
	return err
}

type xlsxStyles struct {
	title, header, text, pass, fail        int
	num1, num2, integer, change, date, pct int
}

func newXLSXStyles(f *excelize.File, l i18n.Lang) (*xlsxStyles, error) {
	var x xlsxStyles
	var err error
	mk := func(s *excelize.Style) int {
		if err != nil {
			return 0
		}
		var id int
		id, err = f.NewStyle(s)
		return id
	}
	numFmt := func(code string) *excelize.Style { return &excelize.Style{CustomNumFmt: &code} }
	dateFmt := "dd/mm/yyyy hh:mm"
	if l == i18n.EN {
		dateFmt = "yyyy-mm-dd hh:mm"
	}
	x.title = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14, Color: "0D47A1"}})
	x.header = mk(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"ECEFF1"}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"},
		Border:    []excelize.Border{{Type: "bottom", Color: "90A4AE", Style: 1}},
	})
	x.text = 0
	x.pass = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "1B5E20"}})
	x.fail = mk(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "B71C1C"}})
	x.num1 = mk(numFmt("0.0"))
	x.num2 = mk(numFmt("0.00"))
	x.pct = x.num2
	x.integer = mk(numFmt("0"))
	x.change = mk(numFmt("+0.00;-0.00;0.00"))
	x.date = mk(numFmt(dateFmt))
	return &x, err
}

// set writes one typed cell.
func (x *xlsxStyles) set(f *excelize.File, sheet string, col, row int, c cell, loc *time.Location) error {
	ref, err := excelize.CoordinatesToCellName(col, row)
	if err != nil {
		return err
	}
	style := x.text
	switch c.kind {
	case textCell:
		err = f.SetCellStr(sheet, ref, c.s)
		switch c.css {
		case "pass":
			style = x.pass
		case "fail":
			style = x.fail
		}
	case numberCell:
		err = f.SetCellFloat(sheet, ref, c.f, c.decimals, 64)
		style = x.num1
		if c.decimals == 2 {
			style = x.num2
		}
	case percentCell:
		err = f.SetCellFloat(sheet, ref, c.f, 4, 64)
		style = x.pct
	case changeCell:
		err = f.SetCellFloat(sheet, ref, c.f, 4, 64)
		style = x.change
	case intCell:
		err = f.SetCellInt(sheet, ref, int64(c.f))
		style = x.integer
	case timeCell:
		// Excel has no time zones: write the offices' wall-clock time.
		lt := c.t.In(loc)
		err = f.SetCellValue(sheet, ref, time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(), 0, time.UTC))
		style = x.date
	case emptyCell:
		return nil
	}
	if err != nil {
		return err
	}
	if style != 0 {
		return f.SetCellStyle(sheet, ref, ref, style)
	}
	return nil
}

// table writes a table with its header at row top; a data sheet gets a
// frozen header and a filter.
func (x *xlsxStyles) table(f *excelize.File, sheet string, top int, t *table, loc *time.Location, dataSheet bool) error {
	for i, h := range t.headers {
		ref, _ := excelize.CoordinatesToCellName(i+1, top)
		if err := f.SetCellStr(sheet, ref, h); err != nil {
			return err
		}
	}
	first, _ := excelize.CoordinatesToCellName(1, top)
	last, _ := excelize.CoordinatesToCellName(max(1, len(t.headers)), top)
	if err := f.SetCellStyle(sheet, first, last, x.header); err != nil {
		return err
	}
	for ri, row := range t.rows {
		for ci, c := range row {
			if err := x.set(f, sheet, ci+1, top+1+ri, c, loc); err != nil {
				return err
			}
		}
	}
	if !dataSheet {
		return nil
	}
	lastCol, _ := excelize.ColumnNumberToName(max(1, len(t.headers)))
	if err := f.SetColWidth(sheet, "A", lastCol, 14); err != nil {
		return err
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if len(t.rows) > 0 {
		end, _ := excelize.CoordinatesToCellName(len(t.headers), top+len(t.rows))
		return f.AutoFilter(sheet, first+":"+end, nil)
	}
	return nil
}
