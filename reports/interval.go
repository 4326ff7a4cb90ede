package reports

import (
	"slices"
	"time"
)

// Interval is a half-open time range [Start, End).
type Interval struct{ Start, End time.Time }

// Duration of the interval; 0 when it is empty.
func (i Interval) Duration() time.Duration {
	if !i.End.After(i.Start) {
		return 0
	}
	return i.End.Sub(i.Start)
}

// Contains reports whether t lies in [Start, End).
func (i Interval) Contains(t time.Time) bool { return !t.Before(i.Start) && t.Before(i.End) }

// The functions below work on interval lists that are sorted by Start and
// disjoint ("normal" lists); merge makes any list normal.

// Merge sorts a list and joins overlapping or touching intervals, dropping
// empty ones. It may reorder ivs in place.
func Merge(ivs []Interval) []Interval {
	if len(ivs) == 0 {
		return nil
	}
	var out []Interval
	sorted := true
	for i := 1; i < len(ivs); i++ {
		if ivs[i].Start.Before(ivs[i-1].Start) {
			sorted = false
			break
		}
	}
	if !sorted {
		ivs = slices.Clone(ivs)
		slices.SortFunc(ivs, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	}
	for _, iv := range ivs {
		if !iv.End.After(iv.Start) {
			continue
		}
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// Clip returns the parts of a normal list inside [from, to).
func Clip(ivs []Interval, from, to time.Time) []Interval {
	var out []Interval
	for _, iv := range ivs {
		if !iv.End.After(from) {
			continue
		}
		if !iv.Start.Before(to) {
			break
		}
		if iv.Start.Before(from) {
			iv.Start = from
		}
		if iv.End.After(to) {
			iv.End = to
		}
		if iv.End.After(iv.Start) {
			out = append(out, iv)
		}
	}
	return out
}

// intersect returns a ∩ b of two normal lists.
func intersect(a, b []Interval) []Interval {
	var out []Interval
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		s := later(a[i].Start, b[j].Start)
		e := earlier(a[i].End, b[j].End)
		if e.After(s) {
			out = append(out, Interval{s, e})
		}
		if a[i].End.Before(b[j].End) {
			i++
		} else {
			j++
		}
	}
	return out
}

// Subtract returns a ∖ b of two normal lists.
func Subtract(a, b []Interval) []Interval {
	if len(b) == 0 {
		return a
	}
	var out []Interval
	j := 0
	for _, iv := range a {
		cur := iv.Start
		for j < len(b) && !b[j].End.After(cur) {
			j++
		}
		k := j
		for k < len(b) && b[k].Start.Before(iv.End) {
			if b[k].Start.After(cur) {
				out = append(out, Interval{cur, b[k].Start})
			}
			if b[k].End.After(cur) {
				cur = b[k].End
			}
			if !cur.Before(iv.End) {
				break
			}
			k++
		}
		if iv.End.After(cur) {
			out = append(out, Interval{cur, iv.End})
		}
	}
	return out
}

// total is the summed length of a normal list.
func total(ivs []Interval) time.Duration {
	var d time.Duration
	for _, iv := range ivs {
		d += iv.Duration()
	}
	return d
}

// overlap is the length of iv ∩ list for a normal list.
func overlap(iv Interval, list []Interval) time.Duration {
	var d time.Duration
	for _, o := range list {
		if !o.End.After(iv.Start) {
			continue
		}
		if !o.Start.Before(iv.End) {
			break
		}
		d += Interval{later(iv.Start, o.Start), earlier(iv.End, o.End)}.Duration()
	}
	return d
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// dayIndex splits time into the local days of a report.
type dayIndex struct {
	bounds []time.Time // bounds[i] is the start of day i; the last entry ends the last day
}

func newDayIndex(from, to time.Time, loc *time.Location) dayIndex {
	lf := from.In(loc)
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc)
	var b []time.Time
	for day.Before(to) {
		b = append(b, day)
		day = day.AddDate(0, 0, 1)
	}
	b = append(b, day)
	return dayIndex{bounds: b}
}

// days is the number of days.
func (d dayIndex) days() int { return len(d.bounds) - 1 }

// index of the day containing t, or -1.
func (d dayIndex) index(t time.Time) int {
	i, found := slices.BinarySearchFunc(d.bounds, t, func(b, t time.Time) int { return b.Compare(t) })
	if !found {
		i--
	}
	if i < 0 || i >= d.days() {
		return -1
	}
	return i
}

// add spreads the length of each interval over the days it covers.
func (d dayIndex) add(acc []time.Duration, ivs []Interval) {
	for _, iv := range ivs {
		i := d.index(iv.Start)
		if i < 0 {
			if iv.Start.Before(d.bounds[0]) {
				i = 0
				iv.Start = d.bounds[0]
			} else {
				continue
			}
		}
		for ; i < d.days() && iv.End.After(iv.Start); i++ {
			end := earlier(iv.End, d.bounds[i+1])
			acc[i] += end.Sub(iv.Start)
			iv.Start = end
		}
	}
}
