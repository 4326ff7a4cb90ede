package fleet

import (
	"math"
	"time"
	_ "time/tzdata" // office hours must stay right on hosts without a zoneinfo database (distroless, Windows)
)

// MinuteOfDay is the local time of day in minutes, with fractions.
func MinuteOfDay(t time.Time) float64 {
	h, m, s := t.Clock()
	return float64(h*60+m) + float64(s)/60 + float64(t.Nanosecond())/6e10
}

// OfficeOpen reports whether t (in loc) falls in the offices' opening hours:
// Mon–Fri 07:30–11:30 and 13:30–17:00, Saturday 07:30–11:30.
func OfficeOpen(t time.Time, loc *time.Location) bool {
	t = t.In(loc)
	m := MinuteOfDay(t)
	morning := m >= 7*60+30 && m < 11*60+30
	afternoon := m >= 13*60+30 && m < 17*60
	switch t.Weekday() {
	case time.Sunday:
		return false
	case time.Saturday:
		return morning
	default:
		return morning || afternoon
	}
}

// point is a control point of a piecewise-linear daily curve.
type point struct{ minute, value float64 }

// weekdayOccupancy is the share of the peak crowd in the waiting room. Citizens queue
// before the doors open, the morning peak is the largest, the hour before lunch and the
// last hour thin out; staff are in a little before and after the public hours.
var weekdayOccupancy = []point{
	{0, 0}, {6*60 + 45, 0}, {7*60 + 15, 0.15}, {7*60 + 30, 0.5}, {8*60 + 30, 1}, {10 * 60, 0.9},
	{11*60 + 15, 0.5}, {11*60 + 30, 0.2}, {11*60 + 45, 0.05}, {13*60 + 15, 0.05}, {13*60 + 30, 0.4},
	{14*60 + 30, 0.85}, {15*60 + 30, 0.8}, {16*60 + 45, 0.4}, {17 * 60, 0.15}, {17*60 + 30, 0}, {24 * 60, 0},
}

// saturdayOccupancy: morning only, and quieter — most people come on a weekday.
var saturdayOccupancy = []point{
	{0, 0}, {7*60 + 15, 0}, {7*60 + 30, 0.35}, {8*60 + 30, 0.7}, {10 * 60, 0.6},
	{11*60 + 15, 0.3}, {11*60 + 30, 0.1}, {11*60 + 45, 0}, {24 * 60, 0},
}

func interpolate(curve []point, m float64) float64 {
	for i := 1; i < len(curve); i++ {
		if m <= curve[i].minute {
			a, b := curve[i-1], curve[i]
			return a.value + (b.value-a.value)*(m-a.minute)/(b.minute-a.minute)
		}
	}
	return curve[len(curve)-1].value
}

// Occupancy returns 0..1, the crowd in the office at t. Monday gathers what piled up over
// the weekend, Friday afternoon is quiet.
func Occupancy(t time.Time, loc *time.Location) float64 {
	t = t.In(loc)
	m := MinuteOfDay(t)
	switch t.Weekday() {
	case time.Sunday:
		return 0
	case time.Saturday:
		return interpolate(saturdayOccupancy, m)
	case time.Monday:
		return math.Min(1, 1.1*interpolate(weekdayOccupancy, m))
	case time.Friday:
		if m >= 12*60 {
			return 0.8 * interpolate(weekdayOccupancy, m)
		}
	}
	return interpolate(weekdayOccupancy, m)
}

// Vietnam returns Asia/Ho_Chi_Minh, the offices' time zone. Vietnam has kept UTC+7
// without daylight saving since 1975, so a fixed zone is an exact fallback should the
// zone database be missing.
func Vietnam() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	return time.FixedZone("ICT", 7*3600)
}
