package loader

import (
	"slices"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/reports"
)

// No single field is in every reading: seq is optional in a payload, and a
// reading carries only some of its profile's fields. So the loader asks for
// each field of the class and puts the answers together: a device's first
// reading is the earliest first of any field, its last the latest last,
// and its silences are the times when no field has a point.

// fieldsOf returns the fields queried for class.
func (l *Loader) fieldsOf(class string) []string {
	if fs := l.opts.Fields[class]; len(fs) > 0 {
		return fs
	}
	return []string{l.opts.Field}
}

// perField joins the statements stmts gives for every field (quoted),
// field by field: statement i of field j is result j*per+i.
func perField(fields []string, stmts func(field string) []string) (q string, per int) {
	var all []string
	for _, f := range fields {
		st := stmts(storage.QuoteIdent(f))
		per = len(st)
		all = append(all, st...)
	}
	return strings.Join(all, "; "), per
}

// fieldSpan is what one field's statements of a chunk returned for a
// device.
type fieldSpan struct {
	first, last time.Time
	gaps        []reports.Interval // longer than the minimum heartbeat
}

// combineFields turns the fields' spans of one device into the chunk's
// summary. A field's points cover [first, last] except its gaps; a
// silence of the device is a time no field covers, kept when it is longer
// than minGap, as one field's gaps are.
func combineFields(spans []fieldSpan, minGap time.Duration) chunkSummary {
	var out chunkSummary
	type seg struct{ a, b time.Time }
	var segs []seg
	for _, s := range spans {
		if s.first.IsZero() {
			continue
		}
		if out.first.IsZero() || s.first.Before(out.first) {
			out.first = s.first
		}
		if s.last.After(out.last) {
			out.last = s.last
		}
		gaps := slices.Clone(s.gaps)
		slices.SortFunc(gaps, func(x, y reports.Interval) int { return x.Start.Compare(y.Start) })
		a := s.first
		for _, g := range gaps {
			segs = append(segs, seg{a, g.Start})
			a = g.End
		}
		segs = append(segs, seg{a, s.last})
	}
	if len(spans) == 1 {
		// One field: its gaps as InfluxDB gave them.
		if !out.first.IsZero() {
			out.gaps = spans[0].gaps
		}
		return out
	}
	slices.SortFunc(segs, func(x, y seg) int { return x.a.Compare(y.a) })
	var end time.Time
	for i, s := range segs {
		if i > 0 && s.a.Sub(end) > minGap {
			out.gaps = append(out.gaps, reports.Interval{Start: end, End: s.a})
		}
		if i == 0 || s.b.After(end) {
			end = s.b
		}
	}
	return out
}

// latest and earliest keep the newest and the oldest time of a device.
func latest(m map[devKey]time.Time, k devKey, t time.Time) {
	if t.After(m[k]) {
		m[k] = t
	}
}

func earliest(m map[devKey]time.Time, k devKey, t time.Time) {
	if old, ok := m[k]; !ok || t.Before(old) {
		m[k] = t
	}
}
