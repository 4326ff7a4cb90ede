package maintenance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var vn = time.FixedZone("ICT", 7*3600)

func at(d, hh, mm int) time.Time { return time.Date(2026, 11, d, hh, mm, 0, 0, vn) } // 23 = Monday

func TestActive(t *testing.T) {
	s, err := New([]Window{
		{Name: "server patching", Ward: "thanh-binh", Class: "server", Days: "sun", Hours: "22:00-02:00"},
		{Name: "door replacement", Ward: "nam-duong", Device: "door-1", Start: "2026-11-24 08:00", End: "2026-11-24 12:00"},
		{Name: "whole office", Ward: "binh-hien", Start: "2026-11-25T00:00:00+07:00", End: "2026-11-26T00:00:00+07:00"},
	}, vn)
	require.NoError(t, err)
	cases := []struct {
		ward, class, device string
		t                   time.Time
		want                string
	}{
		{"thanh-binh", "server", "server-1", at(29, 23, 0), "server patching"}, // Sunday night
		{"thanh-binh", "server", "server-1", at(30, 1, 30), "server patching"}, // past midnight into Monday
		{"thanh-binh", "server", "server-1", at(30, 2, 0), ""},
		{"thanh-binh", "door", "door-1", at(29, 23, 0), ""},
		{"nam-duong", "door", "door-1", at(24, 9, 0), "door replacement"},
		{"nam-duong", "door", "door-2", at(24, 9, 0), ""},
		{"binh-hien", "camera", "camera-3", at(25, 15, 0), "whole office"},
		{"binh-hien", "", "", at(25, 15, 0), "whole office"}, // a ward-level alert
	}
	for _, tc := range cases {
		name, ok := s.Active(tc.ward, tc.class, tc.device, tc.t)
		assert.Equal(t, tc.want != "", ok, "%+v", tc)
		assert.Equal(t, tc.want, name, "%+v", tc)
	}
}

func TestIntervalsClipAndMerge(t *testing.T) {
	s, err := New([]Window{
		{Ward: "w", Days: "mon-fri", Hours: "12:00-13:00"},
		{Ward: "w", Start: "2026-11-24 12:30", End: "2026-11-24 14:00"},
	}, vn)
	require.NoError(t, err)
	got := s.Intervals("w", "door", "d", at(23, 12, 30), at(25, 0, 0))
	want := []Interval{{at(23, 12, 30), at(23, 13, 0)}, {at(24, 12, 0), at(24, 14, 0)}}
	require.Len(t, got, 2)
	for i := range want {
		assert.True(t, want[i].Start.Equal(got[i].Start) && want[i].End.Equal(got[i].End), "%v", got[i])
	}
}

func TestErrors(t *testing.T) {
	cases := map[string]Window{
		"[0]: give start and end, or days and hours":     {},
		"[0]: give start/end (one-off) or days/hours":    {Start: "2026-11-24 08:00", End: "2026-11-24 09:00", Days: "mon"},
		`[0].start: "tomorrow"`:                          {Start: "tomorrow", End: "2026-11-24 09:00"},
		"[0].end: must be after start":                   {Start: "2026-11-24 08:00", End: "2026-11-24 07:00"},
		`[0].days: unknown day "funday"`:                 {Days: "funday", Hours: "01:00-02:00"},
		"[0]: a weekly window needs both days and hours": {Days: "mon"},
		`[0].hours: "25:00-26:00"`:                       {Days: "mon", Hours: "25:00-26:00"},
	}
	for want, w := range cases {
		_, err := New([]Window{w}, vn)
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
	}
}
