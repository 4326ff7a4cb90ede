package simulator

import (
	"hash/fnv"
	"math"
	"time"
)

// minuteOfDay is the local time of day in minutes, with fractions.
func minuteOfDay(t time.Time) float64 {
	h, m, s := t.Clock()
	return float64(h*60+m) + float64(s)/60 + float64(t.Nanosecond())/6e10
}

// officeOpen reports whether t (in loc) falls in the offices' opening hours:
// Mon–Fri 07:30–11:30 and 13:30–17:00, Saturday 07:30–11:30.
func officeOpen(t time.Time, loc *time.Location) bool {
	t = t.In(loc)
	m := minuteOfDay(t)
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

// occupancy returns 0..1, the crowd in the office at t. Monday gathers what piled up over
// the weekend, Friday afternoon is quiet.
func occupancy(t time.Time, loc *time.Location) float64 {
	t = t.In(loc)
	m := minuteOfDay(t)
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

// seasonOffset shifts Đà Nẵng's daily curve by month: the rainy north-east monsoon
// (October–February) is several degrees cooler than the hot, dry months May–August.
var seasonOffset = [12]float64{-4, -3, -1.5, 0, 1, 1, 1, 1, 0, -1, -2, -3.5}

// outdoorTemp is the Đà Nẵng air temperature (°C): lowest (~25 °C) around 05:00, highest
// (~33 °C) around 14:00, with a per-day swing so that no two days are the same. It depends
// only on the seed and t, so all wards of the city share the weather.
func outdoorTemp(t time.Time, loc *time.Location, seed int64) float64 {
	t = t.In(loc)
	h := minuteOfDay(t) / 60
	const low, high, minH, maxH = 25.0, 33.0, 5.0, 14.0
	var frac float64 // 0 at the daily low, 1 at the high
	switch {
	case h >= minH && h < maxH: // warming: 9 hours
		frac = (1 - math.Cos(math.Pi*(h-minH)/(maxH-minH))) / 2
	default: // cooling: 15 hours, through midnight
		since := h - maxH
		if since < 0 {
			since += 24
		}
		frac = (1 + math.Cos(math.Pi*since/(24-maxH+minH))) / 2
	}
	y, mo, d := t.Date()
	day := hashUnit(seed, "weather", y*10000+int(mo)*100+d) // 0..1
	return low + (high-low)*frac + seasonOffset[mo-1] + 3*(day-0.5)
}

// outdoorHumidity (%): humid nights, drier afternoons, as relative humidity falls when
// the same air warms up.
func outdoorHumidity(tempC float64) float64 {
	return clamp(88-2.3*(tempC-25), 55, 95)
}

// hashUnit maps (seed, label, n) to a stable number in [0, 1).
func hashUnit(seed int64, label string, n int) float64 {
	return float64(hash64(seed, label, n)>>11) / (1 << 53)
}

func hash64(seed int64, label string, n int) uint64 {
	h := fnv.New64a()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(uint64(seed) >> (8 * i))
		b[8+i] = byte(uint64(n) >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(label))
	// FNV alone leaves neighbouring inputs with similar high bits; the splitmix64
	// finaliser spreads them so that per-device phases and offsets look independent.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
