package simulator

import (
	"math"
	"time"

	"github.com/facmon/facmon/internal/fleet"
)

// seasonOffset shifts Đà Nẵng's daily curve by month: the rainy north-east monsoon
// (October–February) is several degrees cooler than the hot, dry months May–August.
var seasonOffset = [12]float64{-4, -3, -1.5, 0, 1, 1, 1, 1, 0, -1, -2, -3.5}

// outdoorTemp is the Đà Nẵng air temperature (°C): lowest (~25 °C) around 05:00, highest
// (~33 °C) around 14:00, with a per-day swing so that no two days are the same. It depends
// only on the seed and t, so all wards of the city share the weather.
func outdoorTemp(t time.Time, loc *time.Location, seed int64) float64 {
	t = t.In(loc)
	h := fleet.MinuteOfDay(t) / 60
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
	day := fleet.HashUnit(seed, "weather", y*10000+int(mo)*100+d) // 0..1
	return low + (high-low)*frac + seasonOffset[mo-1] + 3*(day-0.5)
}

// outdoorHumidity (%): humid nights, drier afternoons, as relative humidity falls when
// the same air warms up.
func outdoorHumidity(tempC float64) float64 {
	return clamp(88-2.3*(tempC-25), 55, 95)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
