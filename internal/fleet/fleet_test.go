package fleet

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOfficesListWardsThenClassesNumberedPerWard(t *testing.T) {
	got := Offices([]Ward{{ID: "a"}, {ID: "b"}}, map[string]int{ClassCamera: 1, ClassDoor: 2})
	assert.Equal(t, []Device{
		{"a", "door", "door-1"}, {"a", "door", "door-2"}, {"a", "camera", "camera-1"},
		{"b", "door", "door-1"}, {"b", "door", "door-2"}, {"b", "camera", "camera-1"},
	}, got)
	assert.Equal(t, "facmon/b/camera/camera-1/telemetry", got[5].TelemetryTopic("facmon"))
	assert.Equal(t, "x/a/door/door-2/status", got[1].StatusTopic("x"))
}

// The fault tests key what they published and what InfluxDB stored by the
// device tag alone, so no two devices of a Spread may share an id.
func TestSpreadNamesEachDeviceOnceAcrossWards(t *testing.T) {
	got := Spread([]string{"a", "b", "c"}, ClassDoor, 7)
	require.Len(t, got, 7)
	seen := map[string]bool{}
	for i, d := range got {
		assert.False(t, seen[d.ID], d.ID)
		seen[d.ID] = true
		assert.Equal(t, []string{"a", "b", "c"}[i%3], d.Ward)
	}
	assert.Equal(t, Device{"a", "door", "door-7"}, got[6])
}

func TestValidateWards(t *testing.T) {
	cases := []struct {
		name  string
		wards []Ward
		want  []string
	}{
		{"the default wards", DefaultWards(), nil},
		{"none", nil, []string{"at least one ward"}},
		{"not a slug", []Ward{{ID: "Hai Chau"}}, []string{`ward 1 id "Hai Chau": must be an ASCII slug`}},
		{"twice", []Ward{{ID: "a"}, {ID: "a"}}, []string{`ward "a" listed twice`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateWards(tc.wards)
			require.Len(t, errs, len(tc.want))
			for i, w := range tc.want {
				assert.Contains(t, errs[i].Error(), w)
			}
		})
	}
}

func TestOfficeOpen(t *testing.T) {
	loc := Vietnam()
	at := func(day, hm string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", day+" "+hm, loc)
		require.NoError(t, err)
		return tm
	}
	cases := []struct {
		day, hm string // 2026-03-02 is a Monday
		open    bool
	}{
		{"2026-03-02", "07:29", false},
		{"2026-03-02", "07:30", true},
		{"2026-03-02", "11:29", true},
		{"2026-03-02", "11:30", false},
		{"2026-03-02", "12:00", false},
		{"2026-03-02", "13:30", true},
		{"2026-03-02", "16:59", true},
		{"2026-03-02", "17:00", false},
		{"2026-03-02", "22:00", false},
		{"2026-03-07", "09:00", true},  // Saturday morning
		{"2026-03-07", "14:00", false}, // Saturday afternoon
		{"2026-03-08", "09:00", false}, // Sunday
	}
	for _, c := range cases {
		assert.Equal(t, c.open, OfficeOpen(at(c.day, c.hm), loc), "%s %s", c.day, c.hm)
		// UTC input is judged in office time.
		assert.Equal(t, c.open, OfficeOpen(at(c.day, c.hm).UTC(), loc), "%s %s UTC", c.day, c.hm)
	}
	assert.Zero(t, Occupancy(at("2026-03-08", "09:00"), loc), "nobody on Sunday")
	assert.Greater(t, Occupancy(at("2026-03-02", "08:30"), loc), Occupancy(at("2026-03-02", "12:30"), loc), "the morning peak beats lunch")
}
