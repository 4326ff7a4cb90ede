package trend

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestForecast(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	hour := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	cases := []struct {
		name    string
		values  []float64 // one per hour
		reaches bool
		hours   float64
	}{
		{"too few values", []float64{50, 60}, false, math.Inf(1)},
		{"one point an hour towards 100: 4 h left", []float64{80, 82, 84, 86, 88, 90, 92}, true, 4},
		{"rising too slowly for the horizon", []float64{10, 11, 12, 13, 14, 15, 16}, false, 84},
		{"flat", []float64{70, 70, 70, 70}, false, math.Inf(1)},
		{"falling", []float64{90, 80, 70, 60}, false, math.Inf(1)},
		{"at the limit already", []float64{20, 100}, true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ss Samples
			var reaches bool
			var hours float64
			for i, v := range tc.values {
				reaches, hours = ss.Forecast(hour(i), v, 100, 12*time.Hour, 24*time.Hour)
			}
			assert.Equal(t, tc.reaches, reaches)
			assert.Equal(t, tc.hours, hours)
		})
	}
}

// Values older than the window are forgotten: an old climb does not count.
func TestForecastForgetsBeyondWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	var ss Samples
	for i, v := range []float64{10, 50, 90, 91, 91, 91} {
		ss.Forecast(t0.Add(time.Duration(i)*time.Hour), v, 100, 3*time.Hour, 24*time.Hour)
	}
	assert.Equal(t, 4, ss.Len(), "the window of 3 h keeps its both ends")
}
