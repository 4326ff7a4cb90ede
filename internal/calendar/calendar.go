// Package calendar says when an office is open: a weekly schedule in the
// office's time zone plus holiday dates. Alert rules limited to office
// hours and the uptime reports share it, so "office hours" means the same
// thing in an alert and in the monthly report.
package calendar

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Ho_Chi_Minh on machines without a zoneinfo database
)

// Config is a calendar as written in YAML.
type Config struct {
	// Timezone is an IANA zone; default Asia/Ho_Chi_Minh.
	Timezone string `yaml:"timezone"`
	// Weekly maps day sets ("mon-fri", "sat", "sun", "mon,wed") to opening
	// spans ("07:30-11:30"). Days not named are closed.
	Weekly map[string][]string `yaml:"weekly"`
	// Holidays are closed dates (YYYY-MM-DD), in addition to the defaults
	// unless ReplaceHolidays is set.
	Holidays        []string `yaml:"holidays"`
	ReplaceHolidays bool     `yaml:"replace_holidays"`
	// AlwaysOpen makes the calendar 24/7 (for a "24/7" report or rule).
	AlwaysOpen bool `yaml:"always_open"`
}

// Interval is a half-open time range [Start, End).
type Interval struct{ Start, End time.Time }

// Duration of the interval.
func (i Interval) Duration() time.Duration { return i.End.Sub(i.Start) }

type span struct{ from, to int } // minutes since midnight, from < to

// Calendar answers "is it open" questions. It is immutable.
type Calendar struct {
	loc      *time.Location
	week     [7][]span
	holidays map[date]bool
	always   bool
}

// DefaultWeekly is the one-stop offices' schedule: Monday to Friday
// 07:30–11:30 and 13:30–17:00, Saturday morning 07:30–11:30.
func DefaultWeekly() map[string][]string {
	return map[string][]string{
		"mon-fri": {"07:30-11:30", "13:30-17:00"},
		"sat":     {"07:30-11:30"},
	}
}

// DefaultHolidays are Vietnam's public holidays of 2025–2027 as closed
// days of state offices: New Year, Tết (the lunar new year break), Hùng
// Kings' day (10th day of the 3rd lunar month), 30 April, 1 May and
// National Day. Lunar dates move every year, and the government fixes
// the Tết break each year, so operators extend this list in the config.
func DefaultHolidays() []string {
	return []string{
		"2025-01-01",
		"2025-01-25", "2025-01-26", "2025-01-27", "2025-01-28", "2025-01-29", "2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02",
		"2025-04-07", "2025-04-30", "2025-05-01", "2025-09-01", "2025-09-02",
		"2026-01-01",
		"2026-02-14", "2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21", "2026-02-22",
		"2026-04-26", "2026-04-30", "2026-05-01", "2026-09-01", "2026-09-02",
		"2027-01-01",
		"2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09",
		"2027-04-16", "2027-04-30", "2027-05-01", "2027-09-01", "2027-09-02",
	}
}

// Default is the default office calendar.
func Default() *Calendar {
	c, err := New(Config{})
	if err != nil {
		panic(err) // the defaults are constants; a failure is a programming error
	}
	return c
}

// Always is open 24/7.
func Always() *Calendar {
	c, _ := New(Config{AlwaysOpen: true})
	return c
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// New builds a calendar; errors name the offending key or value.
func New(cfg Config) (*Calendar, error) {
	tz := cfg.Timezone
	if tz == "" {
		tz = "Asia/Ho_Chi_Minh"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("timezone: unknown zone %q", tz)
	}
	c := &Calendar{loc: loc, holidays: map[date]bool{}, always: cfg.AlwaysOpen}
	weekly := cfg.Weekly
	if weekly == nil {
		weekly = DefaultWeekly()
	}
	keys := make([]string, 0, len(weekly))
	for k := range weekly {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		days, err := parseDays(k)
		if err != nil {
			return nil, fmt.Errorf("weekly.%s: %w", k, err)
		}
		for i, s := range weekly[k] {
			sp, err := parseSpan(s)
			if err != nil {
				return nil, fmt.Errorf("weekly.%s[%d]: %w", k, i, err)
			}
			for _, d := range days {
				c.week[d] = append(c.week[d], sp)
			}
		}
	}
	for d := range c.week {
		sort.Slice(c.week[d], func(a, b int) bool { return c.week[d][a].from < c.week[d][b].from })
		for i := 1; i < len(c.week[d]); i++ {
			if c.week[d][i].from < c.week[d][i-1].to {
				return nil, fmt.Errorf("weekly: overlapping spans on %s", time.Weekday(d))
			}
		}
	}
	hol := cfg.Holidays
	if !cfg.ReplaceHolidays {
		hol = append(DefaultHolidays(), hol...)
	}
	for i, h := range hol {
		d, err := time.Parse("2006-01-02", h)
		if err != nil {
			return nil, fmt.Errorf("holidays[%d]: %q is not a date YYYY-MM-DD", i-len(hol)+len(cfg.Holidays), h)
		}
		c.holidays[dayOf(d)] = true
	}
	return c, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(strings.ToLower(part))
		if a, b, ok := strings.Cut(part, "-"); ok {
			da, oka := dayNames[a]
			db, okb := dayNames[b]
			if !oka || !okb {
				return nil, fmt.Errorf("unknown day range %q (use mon, tue, … sun)", part)
			}
			for d := da; ; d = (d + 1) % 7 {
				out = append(out, d)
				if d == db {
					break
				}
			}
			continue
		}
		d, ok := dayNames[part]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (use mon, tue, … sun)", part)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseSpan(s string) (span, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return span{}, fmt.Errorf("%q: want HH:MM-HH:MM", s)
	}
	from, err1 := parseClock(a)
	to, err2 := parseClock(b)
	if err1 != nil || err2 != nil || from >= to {
		return span{}, fmt.Errorf("%q: want HH:MM-HH:MM with the start before the end (24:00 allowed as an end)", s)
	}
	return span{from, to}, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, fmt.Errorf("bad time")
	}
	hh, err := strconv.Atoi(h)
	if err != nil {
		return 0, err
	}
	mm, err := strconv.Atoi(m)
	if err != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time")
	}
	return hh*60 + mm, nil
}

// Location is the calendar's time zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsHoliday reports whether t's local date is a holiday.
func (c *Calendar) IsHoliday(t time.Time) bool {
	return c.holidays[dayOf(t.In(c.loc))]
}

// date is a calendar date. Open runs for every reading an office-hours
// rule sees, so the holiday lookup must not format a string each time.
type date struct {
	year  int
	month time.Month
	day   int
}

func dayOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

// Open reports whether the office is open at t.
func (c *Calendar) Open(t time.Time) bool {
	if c.always {
		return true
	}
	lt := t.In(c.loc)
	if c.holidays[dayOf(lt)] {
		return false
	}
	hh, mm, _ := lt.Clock()
	m := hh*60 + mm
	for _, s := range c.week[lt.Weekday()] {
		if m >= s.from && m < s.to {
			return true
		}
	}
	return false
}

// OpenIntervals returns the opening intervals that intersect [from, to),
// clipped to it, in order.
func (c *Calendar) OpenIntervals(from, to time.Time) []Interval {
	if !to.After(from) {
		return nil
	}
	if c.always {
		return []Interval{{from, to}}
	}
	var out []Interval
	lf := from.In(c.loc)
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, c.loc)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		if c.holidays[dayOf(day)] {
			continue
		}
		for _, s := range c.week[day.Weekday()] {
			start := day.Add(time.Duration(s.from) * time.Minute)
			end := day.Add(time.Duration(s.to) * time.Minute)
			if start.Before(from) {
				start = from
			}
			if end.After(to) {
				end = to
			}
			if end.After(start) {
				out = append(out, Interval{start, end})
			}
		}
	}
	return out
}

// OpenDuration is the total open time within [from, to).
func (c *Calendar) OpenDuration(from, to time.Time) time.Duration {
	var d time.Duration
	for _, iv := range c.OpenIntervals(from, to) {
		d += iv.Duration()
	}
	return d
}

// Clip returns the parts of [from, to) when the office is open; the same
// as OpenIntervals, named for use on an outage.
func (c *Calendar) Clip(from, to time.Time) []Interval { return c.OpenIntervals(from, to) }
