package render

import (
	"bufio"
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
)

// CSV writes one row per device: RFC 4180, UTF-8 with a byte-order mark
// (so that spreadsheet programs read the diacritics right), headers in
// the report's language, dates in its format, and numbers with a decimal
// point whatever the language, so that any tool parses them.
func CSV(w io.Writer, r *reports.Report, l i18n.Lang) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(bw)
	t := deviceTable(r, l, r.Devices)
	if err := cw.Write(t.headers); err != nil {
		return err
	}
	rec := make([]string, len(t.headers))
	for _, row := range t.rows {
		for i, c := range row {
			rec[i] = c.plain(l, r.Location)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// plain writes a cell for machines: numbers with a decimal point, times
// in the language's date format, nothing for no value.
func (c cell) plain(l i18n.Lang, loc *time.Location) string {
	switch c.kind {
	case numberCell, percentCell:
		return strconv.FormatFloat(c.f, 'f', c.decimals, 64)
	case changeCell:
		s := strconv.FormatFloat(c.f, 'f', c.decimals, 64)
		if s == "-0.00" {
			s = "0.00"
		}
		return s
	case intCell:
		return strconv.FormatFloat(c.f, 'f', 0, 64)
	case timeCell:
		return l.DateTime(c.t.In(loc))
	case emptyCell:
		return ""
	}
	return c.s
}
