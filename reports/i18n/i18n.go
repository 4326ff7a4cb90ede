// Package i18n is the one message catalogue of facmon's human-facing
// output (the uptime reports and the status page) and the formatting of
// dates, times and numbers that goes with each language.
//
// Vietnamese is the default: correct diacritics, dates as dd/MM/yyyy,
// 24-hour times, a decimal comma and dots between thousands. English
// writes ISO dates (yyyy-MM-dd), 24-hour times and a decimal point.
package i18n

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lang is a language of the catalogue.
type Lang string

// The languages.
const (
	VI Lang = "vi"
	EN Lang = "en"
)

// Parse reads a language code; "" is Vietnamese.
func Parse(s string) (Lang, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "vi", "vi-vn":
		return VI, nil
	case "en", "en-us", "en-gb":
		return EN, nil
	}
	return "", fmt.Errorf("unknown language %q (want vi or en)", s)
}

// T returns the message key in l, formatted with args (fmt verbs). An
// unknown key comes back as "⟦key⟧", which the tests look for.
func (l Lang) T(key string, args ...any) string {
	e, ok := catalogue[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	msg := e.vi
	if l == EN {
		msg = e.en
	}
	if len(args) > 0 {
		return fmt.Sprintf(msg, args...)
	}
	return msg
}

// Has reports whether the catalogue has key.
func Has(key string) bool { _, ok := catalogue[key]; return ok }

// Keys lists every key, sorted.
func Keys() []string {
	out := make([]string, 0, len(catalogue))
	for k := range catalogue {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Class names a device class, or returns the class id for one the
// catalogue does not know.
func (l Lang) Class(c string) string {
	if Has("class." + c) {
		return l.T("class." + c)
	}
	return c
}

// Date formats the calendar date of t (already in the wanted zone).
func (l Lang) Date(t time.Time) string {
	if l == EN {
		return t.Format("2006-01-02")
	}
	return t.Format("02/01/2006")
}

// DateTime formats a date and a 24-hour time.
func (l Lang) DateTime(t time.Time) string {
	if l == EN {
		return t.Format("2006-01-02 15:04")
	}
	return t.Format("02/01/2006 15:04")
}

// Clock formats a 24-hour time.
func (l Lang) Clock(t time.Time) string { return t.Format("15:04") }

// DayMonth is a short date for chart axes: 05/03 or 03-05.
func (l Lang) DayMonth(t time.Time) string {
	if l == EN {
		return t.Format("01-02")
	}
	return t.Format("02/01")
}

// Weekday is the short name of t's weekday: T2…T7, CN or Mon…Sun.
func (l Lang) Weekday(t time.Time) string {
	if l == EN {
		return t.Weekday().String()[:3]
	}
	if t.Weekday() == time.Sunday {
		return "CN"
	}
	return "T" + strconv.Itoa(int(t.Weekday())+1)
}

// Number formats v with the given decimals and the language's separators.
func (l Lang) Number(v float64, decimals int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	thousands, point := ".", ","
	if l == EN {
		thousands, point = ",", "."
	}
	var b strings.Builder
	neg := v < 0 && strings.Trim(s, "0.") != ""
	if neg {
		b.WriteString("−")
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(thousands)
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString(point)
		b.WriteString(frac)
	}
	return b.String()
}

// Int formats a whole number.
func (l Lang) Int(n int) string { return l.Number(float64(n), 0) }

// Percent formats a percentage: "99,52 %" in Vietnamese, "99.52%" in English.
func (l Lang) Percent(v float64, decimals int) string {
	if l == EN {
		return l.Number(v, decimals) + "%"
	}
	return l.Number(v, decimals) + " %"
}

// Signed formats a change with its sign: "+0,12" or "−1,50".
func (l Lang) Signed(v float64, decimals int) string {
	s := l.Number(v, decimals)
	if !strings.HasPrefix(s, "−") && strings.Trim(s, "0.,") != "" {
		return "+" + s
	}
	if strings.Trim(s, "−0.,") == "" {
		return l.Number(0, decimals)
	}
	return s
}

// Minutes formats a duration as minutes with one decimal.
func (l Lang) Minutes(d time.Duration) string { return l.Number(d.Minutes(), 1) }

// Hours formats a duration as hours with one decimal.
func (l Lang) Hours(d time.Duration) string { return l.Number(d.Hours(), 1) }

// Duration formats a wall-clock duration for people, in at most two
// units: "2 giờ 5 phút", "3 ngày 4 giờ", "45 giây" / "2 h 5 min".
func (l Lang) Duration(d time.Duration) string { return l.duration(d, true) }

// HoursMinutes formats a counted duration (office time, summed device
// time) without days, which would read as calendar days: "180 giờ",
// "2 giờ 5 phút", "45 giây".
func (l Lang) HoursMinutes(d time.Duration) string { return l.duration(d, false) }

func (l Lang) duration(d time.Duration, days bool) string {
	if d < 0 {
		d = -d
	}
	units := []struct {
		size   time.Duration
		vi, en string
	}{
		{24 * time.Hour, "ngày", "d"},
		{time.Hour, "giờ", "h"},
		{time.Minute, "phút", "min"},
		{time.Second, "giây", "s"},
	}
	if !days {
		units = units[1:]
	}
	var parts []string
	for _, u := range units {
		if d >= u.size || (u.size == time.Second && len(parts) == 0) {
			n := int64(d / u.size)
			d -= time.Duration(n) * u.size
			name := u.vi
			if l == EN {
				name = u.en
			}
			parts = append(parts, strconv.FormatInt(n, 10)+" "+name)
			if len(parts) == 2 {
				break
			}
		} else if len(parts) > 0 {
			break
		}
	}
	return strings.Join(parts, " ")
}
