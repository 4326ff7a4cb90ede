package calendar

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var vn = time.FixedZone("ICT", 7*3600)

func at(y int, m time.Month, d, hh, mm int) time.Time { return time.Date(y, m, d, hh, mm, 0, 0, vn) }

func TestOpen(t *testing.T) {
	c := Default()
	cases := []struct {
		t    time.Time
		open bool
	}{
		{at(2026, 11, 23, 7, 29), false}, // Monday before opening
		{at(2026, 11, 23, 7, 30), true},
		{at(2026, 11, 23, 11, 29), true},
		{at(2026, 11, 23, 11, 30), false}, // lunch break
		{at(2026, 11, 23, 13, 30), true},
		{at(2026, 11, 23, 16, 59), true},
		{at(2026, 11, 23, 17, 0), false},
		{at(2026, 11, 28, 9, 0), true},   // Saturday morning
		{at(2026, 11, 28, 14, 0), false}, // Saturday afternoon
		{at(2026, 11, 29, 9, 0), false},  // Sunday
		{at(2026, 2, 17, 9, 0), false},   // Tết (a Tuesday)
		{at(2026, 4, 30, 9, 0), false},   // Reunification Day
		{at(2026, 9, 2, 9, 0), false},    // National Day
	}
	for _, tc := range cases {
		assert.Equal(t, tc.open, c.Open(tc.t), tc.t.String())
		assert.Equal(t, tc.open, c.Open(tc.t.UTC()), "the zone of the argument does not matter: %s", tc.t)
	}
	assert.True(t, Always().Open(at(2026, 2, 17, 3, 0)))
}

func TestOpenIntervals(t *testing.T) {
	c := Default()
	// Friday noon to Monday 08:00 across a weekend.
	got := c.OpenIntervals(at(2026, 11, 27, 11, 0), at(2026, 11, 30, 8, 0))
	want := []Interval{
		{at(2026, 11, 27, 11, 0), at(2026, 11, 27, 11, 30)},
		{at(2026, 11, 27, 13, 30), at(2026, 11, 27, 17, 0)},
		{at(2026, 11, 28, 7, 30), at(2026, 11, 28, 11, 30)},
		{at(2026, 11, 30, 7, 30), at(2026, 11, 30, 8, 0)},
	}
	require.Len(t, got, len(want))
	for i := range want {
		assert.True(t, want[i].Start.Equal(got[i].Start) && want[i].End.Equal(got[i].End), "%d: %v want %v", i, got[i], want[i])
	}
	// A regular week has 5×7.5 h + 4 h = 41.5 h open.
	assert.Equal(t, 41*time.Hour+30*time.Minute, c.OpenDuration(at(2026, 11, 23, 0, 0), at(2026, 11, 30, 0, 0)))
	assert.Equal(t, 7*24*time.Hour, Always().OpenDuration(at(2026, 11, 23, 0, 0), at(2026, 11, 30, 0, 0)))
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]Config{
		`timezone: unknown zone "Mars/Olympus"`:          {Timezone: "Mars/Olympus"},
		`weekly.mon-fry: unknown day range "mon-fry"`:    {Weekly: map[string][]string{"mon-fry": {"07:00-11:00"}}},
		`weekly.mon[0]: "11:00-07:00": want HH:MM-HH:MM`: {Weekly: map[string][]string{"mon": {"11:00-07:00"}}},
		`weekly: overlapping spans on Monday`:            {Weekly: map[string][]string{"mon": {"07:00-11:00", "10:00-12:00"}}},
		`holidays[0]: "2026-13-01" is not a date`:        {Holidays: []string{"2026-13-01"}},
	}
	for want, cfg := range cases {
		_, err := New(cfg)
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
	}
	c, err := New(Config{Weekly: map[string][]string{"sun,sat": {"08:00-24:00"}}, Holidays: []string{"2026-11-29"}})
	require.NoError(t, err)
	assert.True(t, c.Open(at(2026, 11, 28, 23, 59)))
	assert.False(t, c.Open(at(2026, 11, 29, 9, 0)), "configured holiday")
	assert.False(t, c.Open(at(2026, 11, 27, 9, 0)), "days not named are closed")
}
