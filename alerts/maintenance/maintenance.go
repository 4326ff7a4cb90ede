// Package maintenance holds planned maintenance windows: one-off or
// weekly, for a ward, a class or a device. Alerts inside a window are
// recorded but not notified; the uptime reports list the time as planned
// and leave it out of availability.
package maintenance

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Window is one maintenance window as configured.
type Window struct {
	Name string `yaml:"name"`
	// Scope: empty fields match everything; Ward "thanh-binh" alone covers
	// the whole office.
	Ward   string `yaml:"ward"`
	Class  string `yaml:"class"`
	Device string `yaml:"device"`
	// One-off: Start and End, RFC 3339 or "2006-01-02 15:04" local time.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// Weekly: Days ("sun", "mon-fri", "sat,sun") and Hours ("22:00-23:30").
	Days  string `yaml:"days"`
	Hours string `yaml:"hours"`
}

// Interval is a half-open time range.
type Interval struct{ Start, End time.Time }

type compiled struct {
	w        Window
	start    time.Time
	end      time.Time
	days     [7]bool
	from, to int // minutes since midnight
	weekly   bool
}

// Schedule answers whether a device is in maintenance. Immutable.
type Schedule struct {
	loc     *time.Location
	windows []compiled
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// New compiles the windows in loc (the offices' zone). Errors name the
// window by index and field, e.g. "[2].hours: ...".
func New(windows []Window, loc *time.Location) (*Schedule, error) {
	s := &Schedule{loc: loc}
	for i, w := range windows {
		c := compiled{w: w}
		oneOff := w.Start != "" || w.End != ""
		weekly := w.Days != "" || w.Hours != ""
		switch {
		case oneOff && weekly:
			return nil, fmt.Errorf("[%d]: give start/end (one-off) or days/hours (weekly), not both", i)
		case oneOff:
			var err error
			if c.start, err = parseTime(w.Start, loc); err != nil {
				return nil, fmt.Errorf("[%d].start: %w", i, err)
			}
			if c.end, err = parseTime(w.End, loc); err != nil {
				return nil, fmt.Errorf("[%d].end: %w", i, err)
			}
			if !c.end.After(c.start) {
				return nil, fmt.Errorf("[%d].end: must be after start", i)
			}
		case weekly:
			if w.Days == "" || w.Hours == "" {
				return nil, fmt.Errorf("[%d]: a weekly window needs both days and hours", i)
			}
			c.weekly = true
			for _, part := range strings.Split(w.Days, ",") {
				part = strings.ToLower(strings.TrimSpace(part))
				a, b, isRange := strings.Cut(part, "-")
				da, ok1 := dayNames[a]
				db := da
				ok2 := true
				if isRange {
					db, ok2 = dayNames[b]
				}
				if !ok1 || !ok2 {
					return nil, fmt.Errorf("[%d].days: unknown day %q (use mon … sun)", i, part)
				}
				for d := da; ; d = (d + 1) % 7 {
					c.days[d] = true
					if d == db {
						break
					}
				}
			}
			from, to, err := parseSpan(w.Hours)
			if err != nil {
				return nil, fmt.Errorf("[%d].hours: %w", i, err)
			}
			c.from, c.to = from, to
		default:
			return nil, fmt.Errorf("[%d]: give start and end, or days and hours", i)
		}
		s.windows = append(s.windows, c)
	}
	return s, nil
}

func parseTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, loc); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 or YYYY-MM-DD HH:MM (local time)", s)
}

func parseSpan(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM", s)
	}
	from, err1 := clock(a)
	to, err2 := clock(b)
	if err1 != nil || err2 != nil || from == to {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM (a span past midnight such as 23:00-01:00 is allowed)", s)
	}
	return from, to, nil
}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, fmt.Errorf("bad time")
	}
	hh, err := strconv.Atoi(h)
	if err != nil {
		return 0, err
	}
	mm, err := strconv.Atoi(m)
	if err != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm > 0) {
		return 0, fmt.Errorf("bad time")
	}
	return hh*60 + mm, nil
}

func (c *compiled) matches(ward, class, device string) bool {
	return (c.w.Ward == "" || c.w.Ward == ward) &&
		(c.w.Class == "" || c.w.Class == class) &&
		(c.w.Device == "" || c.w.Device == device)
}

// Active returns the name of a window covering the device at t, if any.
// A window for a ward (no class, no device) also covers the ward-level
// alerts, which have no class or device.
func (s *Schedule) Active(ward, class, device string, t time.Time) (string, bool) {
	if s == nil {
		return "", false
	}
	for i := range s.windows {
		c := &s.windows[i]
		if !c.matches(ward, class, device) {
			continue
		}
		for _, iv := range c.intervals(t.Add(-48*time.Hour), t.Add(time.Nanosecond), s.loc) {
			if !t.Before(iv.Start) && t.Before(iv.End) {
				name := c.w.Name
				if name == "" {
					name = "maintenance"
				}
				return name, true
			}
		}
	}
	return "", false
}

// Intervals returns the maintenance intervals covering the device within
// [from, to), clipped to it, merged and in order.
func (s *Schedule) Intervals(ward, class, device string, from, to time.Time) []Interval {
	if s == nil {
		return nil
	}
	var all []Interval
	for i := range s.windows {
		c := &s.windows[i]
		if c.matches(ward, class, device) {
			all = append(all, c.intervals(from, to, s.loc)...)
		}
	}
	return Merge(all)
}

func (c *compiled) intervals(from, to time.Time, loc *time.Location) []Interval {
	var out []Interval
	clip := func(a, b time.Time) {
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			out = append(out, Interval{a, b})
		}
	}
	if !c.weekly {
		clip(c.start, c.end)
		return out
	}
	lf := from.In(loc)
	// Start a day early: a span past midnight begins the day before.
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, -1)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		if !c.days[day.Weekday()] {
			continue
		}
		a := day.Add(time.Duration(c.from) * time.Minute)
		b := day.Add(time.Duration(c.to) * time.Minute)
		if c.to < c.from {
			b = b.Add(24 * time.Hour)
		}
		clip(a, b)
	}
	return out
}

// Merge sorts intervals and joins overlapping or touching ones.
func Merge(ivs []Interval) []Interval {
	if len(ivs) < 2 {
		return ivs
	}
	sorted := make([]Interval, len(ivs))
	copy(sorted, ivs)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && sorted[j].Start.Before(sorted[j-1].Start); j-- {
			sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
		}
	}
	out := []Interval{sorted[0]}
	for _, iv := range sorted[1:] {
		last := &out[len(out)-1]
		if !iv.Start.After(last.End) {
			if iv.End.After(last.End) {
				last.End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}
