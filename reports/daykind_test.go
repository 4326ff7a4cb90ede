package reports

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// December 2026 read on Tuesday the 8th at 10:00; facmon was not
// collecting from Friday the 4th. The heat map must tell the working days
// with no data (Friday 4th, Saturday morning 5th, Monday 7th, this morning)
// from the closed Sundays and the days to come, which it used to call all
// "no data (closed)".
func TestHeatMapDayKinds(t *testing.T) {
	dec := Period{at("2026-12-01"), at("2027-01-01")}
	ds := &Dataset{From: at("2026-11-01"), To: at("2026-12-08 10:00"), Now: at("2026-12-08 10:00")}
	ds.Unknown = []Interval{iv("2026-12-04 00:00", "2026-12-08 10:00")}
	ds.Devices = []DeviceData{{Ward: "a", Class: "door", Device: "door-1", Inventory: true, Telemetry: continuous(ds)}}
	r, err := Build(ds, dec, Settings{Location: hcm, Offices: []Office{{ID: "a", Name: "A"}}, Generated: ds.Now})
	require.NoError(t, err)
	require.Len(t, r.Wards, 1)
	w := r.Wards[0]
	want := map[string]DayKind{
		"2026-12-01": DayCounted, "2026-12-03": DayCounted,
		"2026-12-04": DayNoData, "2026-12-05": DayNoData, "2026-12-06": DayClosed,
		"2026-12-07": DayNoData, "2026-12-08": DayNoData,
		"2026-12-09": DayFuture, "2026-12-13": DayClosed, "2026-12-31": DayFuture,
	}
	for day, kind := range want {
		i := int(at(day).Sub(dec.From).Hours() / 24)
		assert.Equal(t, kind, w.DayKind(i), "day %s", day)
	}
}

// Before the office opens, today is still to come; a holiday is closed.
func TestHeatMapTodayBeforeOpeningAndHolidays(t *testing.T) {
	p := Period{at("2026-04-27"), at("2026-05-04")} // 30/4 and 1/5 are holidays
	ds := &Dataset{From: at("2026-04-20"), To: at("2026-05-02 07:00"), Now: at("2026-05-02 07:00")}
	ds.Devices = []DeviceData{{Ward: "a", Class: "door", Device: "door-1", Inventory: true, Telemetry: continuous(ds)}}
	r, err := Build(ds, p, Settings{Location: hcm, Offices: []Office{{ID: "a", Name: "A"}}, Generated: ds.Now})
	require.NoError(t, err)
	w := r.Wards[0]
	assert.Equal(t, DayCounted, w.DayKind(0), "Monday 27/4")
	assert.Equal(t, DayClosed, w.DayKind(3), "30/4 is a holiday")
	assert.Equal(t, DayClosed, w.DayKind(4), "1/5 is a holiday")
	assert.Equal(t, DayFuture, w.DayKind(5), "Saturday 2/5 at 07:00, before the office opens at 07:30")
	assert.Equal(t, DayClosed, w.DayKind(6), "Sunday 3/5 is closed: a closed day to come shows as closed")
}
