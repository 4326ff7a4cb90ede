package reports

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/maintenance"
)

var hcm = vietnam()

// at parses a local time of the offices, "2026-03-02 09:00" or with seconds.
func at(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, hcm); err == nil {
			return t
		}
	}
	panic("bad time " + s)
}

func iv(a, b string) Interval { return Interval{at(a), at(b)} }

func mins(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

// A working week of the default calendar: Monday 2 to Sunday 8 March 2026,
// five days of 07:30–11:30 + 13:30–17:00 (450 min) and a Saturday morning
// (240 min): 2490 min of office time. No holiday.
var week = Period{at("2026-03-02"), at("2026-03-09")}

const weekOpen = 5*450 + 240

// continuous is telemetry every few seconds over the whole data range,
// except for the given gaps.
func continuous(ds *Dataset, gaps ...Interval) Telemetry {
	return Telemetry{
		Before: ds.From.Add(-10 * time.Second),
		First:  ds.From.Add(5 * time.Second),
		Last:   ds.To.Add(-5 * time.Second),
		After:  ds.To.Add(5 * time.Second),
		Gaps:   gaps,
	}
}

type mathsCase struct {
	name   string
	period Period
	// setup fills the dataset (which covers the period and the previous
	// one) and the settings; the device under test is door-1 of ward "a".
	setup func(ds *Dataset, s *Settings)
	want  Stats
	// check looks at anything else of the report.
	check func(t *testing.T, r *Report, d DeviceRow)
}

func runCase(t *testing.T, c mathsCase) {
	t.Helper()
	p := c.period
	if p.From.IsZero() {
		p = week
	}
	ds := &Dataset{From: p.Previous().From, To: p.To, Now: p.To.Add(24 * time.Hour)}
	s := Settings{Offices: []Office{{"a", "Phường A"}, {"b", "Phường B"}}, Config: DefaultConfig()}
	c.setup(ds, &s)
	r, err := Build(ds, p, s)
	require.NoError(t, err)
	var dev DeviceRow
	for _, d := range r.Devices {
		if d.Ward == "a" && d.Device == "door-1" {
			dev = d
		}
	}
	require.Equal(t, "door-1", dev.Device, "device door-1 of ward a in the report")
	got := dev.Cur
	got.Devices = 0
	assert.Equal(t, c.want, got, "stats of door-1\nwant %s\ngot  %s", fmtStats(c.want), fmtStats(got))
	if c.check != nil {
		c.check(t, r, dev)
	}
}

func fmtStats(s Stats) string {
	return "up=" + s.Up.String() + " down=" + s.Down.String() + " network=" + s.Network.String() +
		" planned=" + s.Planned.String() + " unknown=" + s.Unknown.String() +
		" incidents=" + strconv.Itoa(s.Incidents) + " longest=" + s.Longest.String()
}

func door(ds *Dataset, tel Telemetry, status ...Transition) DeviceData {
	return DeviceData{Ward: "a", Class: "door", Device: "door-1", Telemetry: tel, Status: status}
}

func TestAvailabilityMaths(t *testing.T) {
	cases := []mathsCase{
		{
			name: "always up",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds))}
			},
			want: Stats{Up: mins(weekOpen)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				a, ok := d.Availability()
				assert.True(t, ok)
				assert.Equal(t, 100.0, a)
				_, ok = d.Cur.MTTR()
				assert.False(t, ok, "no MTTR without incidents")
			},
		},
		{
			name: "outage in office hours counts from the last reading",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-02 09:00", "2026-03-02 09:30")))}
			},
			want: Stats{Up: mins(weekOpen - 30), Down: mins(30), Incidents: 1, Longest: mins(30)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				mttr, _ := d.Cur.MTTR()
				assert.Equal(t, mins(30), mttr)
				mtbf, _ := d.Cur.MTBF()
				assert.Equal(t, mins(weekOpen-30), mtbf)
				require.Len(t, r.Incidents, 1)
				assert.Equal(t, at("2026-03-02 09:00"), r.Incidents[0].Start)
				assert.Equal(t, mins(30), r.Incidents[0].Downtime)
			},
		},
		{
			name: "a gap not longer than the heartbeat is not an outage",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-02 09:00:00", "2026-03-02 09:00:59")))}
			},
			want: Stats{Up: mins(weekOpen)},
		},
		{
			name: "per-device heartbeat",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-02 09:00", "2026-03-02 09:04")))}
				s.Heartbeat = func(ward, class, device string) time.Duration {
					if ward == "a" && device == "door-1" {
						return 5 * time.Minute
					}
					return time.Minute
				}
			},
			want: Stats{Up: mins(weekOpen)},
		},
		{
			name: "outage across the lunch break is one incident with both halves counted",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-03 11:00", "2026-03-03 14:00")))}
			},
			want: Stats{Up: mins(weekOpen - 60), Down: mins(60), Incidents: 1, Longest: mins(60)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				require.Len(t, r.Incidents, 1)
				assert.Equal(t, at("2026-03-03 11:00"), r.Incidents[0].Start)
				assert.Equal(t, at("2026-03-03 14:00"), r.Incidents[0].End)
			},
		},
		{
			name: "outage at night only is not counted",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-02 20:00", "2026-03-03 06:00")))}
			},
			want: Stats{Up: mins(weekOpen)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				assert.Empty(t, r.Incidents)
			},
		},
		{
			name: "outage at night counts with --sla-24x7",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-02 20:00", "2026-03-03 06:00")))}
				s.AlwaysOpen = true
			},
			want: Stats{Up: 7*24*time.Hour - mins(600), Down: mins(600), Incidents: 1, Longest: mins(600)},
		},
		{
			name:   "outage on a holiday is not counted, the next working day is",
			period: Period{at("2026-04-27"), at("2026-05-04")}, // 30 April and 1 May are holidays
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds,
					iv("2026-04-30 08:00", "2026-04-30 16:00"), // a holiday: nothing counted
					iv("2026-05-01 10:00", "2026-05-02 08:00"), // holiday, then Saturday 07:30–08:00
				))}
			},
			want: Stats{Up: mins(3*450 + 240 - 30), Down: mins(30), Incidents: 1, Longest: mins(30)},
		},
		{
			name:   "Tết is closed",
			period: Period{at("2026-02-16"), at("2026-02-23")},
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-02-16 07:00", "2026-02-22 18:00")))}
			},
			want: Stats{},
		},
		{
			name: "outage across the period boundaries is clipped to each period",
			setup: func(ds *Dataset, s *Settings) {
				tel := continuous(ds, iv("2026-02-28 09:00", "2026-03-02 08:30"))
				// silent from Saturday 11:00 to after the end of the period
				tel.Last, tel.After = at("2026-03-07 11:00"), time.Time{}
				ds.Devices = []DeviceData{door(ds, tel)}
			},
			want: Stats{Up: mins(weekOpen - 60 - 30), Down: mins(60 + 30), Incidents: 2, Longest: mins(60)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				require.Len(t, r.Incidents, 2)
				assert.True(t, r.Incidents[0].StartsBefore)
				assert.False(t, r.Incidents[0].EndsAfter)
				assert.Equal(t, mins(60), r.Incidents[0].Downtime)
				assert.True(t, r.Incidents[1].EndsAfter)
				assert.Equal(t, mins(30), r.Incidents[1].Downtime)
				// The previous period has Saturday 28 February 09:00–11:30.
				assert.Equal(t, mins(150), d.Prev.Down)
				assert.Equal(t, 1, d.Prev.Incidents)
			},
		},
		{
			name: "outage inside maintenance is planned, not down",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds,
					iv("2026-03-02 09:00", "2026-03-02 09:30"), // inside the window
					iv("2026-03-02 09:45", "2026-03-02 10:30"), // half inside
				))}
				s.Maintenance = []maintenance.Window{{Name: "thay cửa", Ward: "a", Device: "door-1", Start: "2026-03-02 08:00", End: "2026-03-02 10:00"}}
			},
			want: Stats{Up: mins(weekOpen - 120 - 30), Down: mins(30), Planned: mins(120), Incidents: 1, Longest: mins(30)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				require.Len(t, r.Maintenance, 1)
				assert.Equal(t, "thay cửa", r.Maintenance[0].Name)
				assert.Equal(t, at("2026-03-02 08:00"), r.Maintenance[0].Start)
			},
		},
		{
			name: "weekly maintenance of a class",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-04 16:00", "2026-03-04 17:30")))}
				s.Maintenance = []maintenance.Window{{Class: "door", Days: "wed", Hours: "16:00-18:00"}}
			},
			want: Stats{Up: mins(weekOpen - 60), Planned: mins(60)},
		},
		{
			name: "outage during a collection gap is unknown, not down",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds,
					iv("2026-03-02 09:15", "2026-03-02 09:45"), // all unknown
					iv("2026-03-03 09:30", "2026-03-03 10:30"), // half unknown
				))}
				ds.Unknown = []Interval{iv("2026-03-02 09:00", "2026-03-02 10:00"), iv("2026-03-03 09:00", "2026-03-03 10:00")}
			},
			want: Stats{Up: mins(weekOpen - 120 - 30), Down: mins(30), Unknown: mins(120), Incidents: 1, Longest: mins(30)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				assert.Len(t, r.CollectionGaps, 2)
			},
		},
		{
			name: "outage during a ward outage is the network's",
			setup: func(ds *Dataset, s *Settings) {
				// The devices go silent at 09:00; WardUnreachable fires at 09:02
				// (a heartbeat and its "for" later) and resolves at 09:40.
				ds.Devices = []DeviceData{
					door(ds, continuous(ds, iv("2026-03-02 09:00", "2026-03-02 09:40:20"), iv("2026-03-02 14:00", "2026-03-02 14:10"))),
					{Ward: "b", Class: "door", Device: "door-1", Telemetry: continuous(ds, iv("2026-03-02 09:00", "2026-03-02 09:40"))},
				}
				ds.WardOutages = map[string][]Interval{"a": {iv("2026-03-02 09:02", "2026-03-02 09:40")}}
			},
			want: Stats{Up: mins(weekOpen - 40 - 20.0/60 - 10), Down: mins(10), Network: mins(40 + 20.0/60), Incidents: 1, Longest: mins(10)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				require.Len(t, r.Outages, 1)
				assert.Equal(t, "a", r.Outages[0].Ward)
				assert.Equal(t, mins(38), r.Outages[0].Office)
				// Ward b had no outage: its door was down.
				assert.Equal(t, mins(40), r.Devices[1].Cur.Down)
				assert.Equal(t, mins(38), r.Wards[0].Network)
			},
		},
		{
			name: "a device in the inventory that never reported is down all the time",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{{Ward: "a", Class: "door", Device: "door-1", Inventory: true}}
			},
			want: Stats{Down: mins(weekOpen), Incidents: 1, Longest: mins(weekOpen)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				assert.True(t, d.NeverReported)
				a, ok := d.Availability()
				assert.True(t, ok)
				assert.Equal(t, 0.0, a)
			},
		},
		{
			name: "a device that reported before the period but not in it is down from its last reading",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, Telemetry{Before: at("2026-02-20 10:00")})}
			},
			want:  Stats{Down: mins(weekOpen), Incidents: 1, Longest: mins(weekOpen)},
			check: func(t *testing.T, r *Report, d DeviceRow) { assert.False(t, d.NeverReported) },
		},
		{
			name: "a device new in the period counts from its first record",
			setup: func(ds *Dataset, s *Settings) {
				tel := continuous(ds)
				tel.Before, tel.First = time.Time{}, at("2026-03-04 08:00")
				ds.Devices = []DeviceData{door(ds, tel, Transition{at("2026-03-04 07:59:58"), true})}
			},
			want: Stats{Up: mins(weekOpen-2*450-30) + 2*time.Second},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				assert.Equal(t, at("2026-03-04 07:59:58"), d.Since)
				assert.Equal(t, Stats{Devices: 1}, d.Prev, "nothing counted before it existed")
			},
		},
		{
			name: "flapping: every drop is an incident",
			setup: func(ds *Dataset, s *Settings) {
				var st []Transition
				for i := range 10 {
					t0 := at("2026-03-02 09:00").Add(time.Duration(i) * time.Minute)
					st = append(st, Transition{t0, false}, Transition{t0.Add(20 * time.Second), true})
				}
				// its telemetry gaps stay under the heartbeat
				ds.Devices = []DeviceData{door(ds, continuous(ds), st...)}
			},
			want: Stats{Up: mins(weekOpen) - 200*time.Second, Down: 200 * time.Second, Incidents: 10, Longest: 20 * time.Second},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				mttr, _ := d.Cur.MTTR()
				assert.Equal(t, 20*time.Second, mttr)
				assert.Equal(t, 10, r.DayIncidents["door"][0])
			},
		},
		{
			name: "offline status while silent: down from the last reading until readings resume",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds, iv("2026-03-03 10:00:00", "2026-03-03 10:40:00")),
					Transition{at("2026-03-03 10:00:04"), false}, Transition{at("2026-03-03 10:39:58"), true})}
			},
			want: Stats{Up: mins(weekOpen - 40), Down: mins(40), Incidents: 1, Longest: mins(40)},
		},
		{
			name: "a stale offline of a device that keeps publishing counts one heartbeat at most",
			setup: func(ds *Dataset, s *Settings) {
				ds.Devices = []DeviceData{door(ds, continuous(ds), Transition{at("2026-03-02 09:00"), false})}
			},
			want: Stats{Up: mins(weekOpen - 1), Down: mins(1), Incidents: 1, Longest: mins(1)},
		},
		{
			name: "a running period counts up to now",
			setup: func(ds *Dataset, s *Settings) {
				// Now is Wednesday 10:00; the last reading was at 09:50.
				ds.Now, ds.To = at("2026-03-04 10:00"), at("2026-03-04 10:00")
				tel := continuous(ds)
				tel.Last, tel.After = at("2026-03-04 09:50"), time.Time{}
				ds.Devices = []DeviceData{door(ds, tel)}
			},
			want: Stats{Up: mins(2*450 + 140), Down: mins(10), Incidents: 1, Longest: mins(10)},
			check: func(t *testing.T, r *Report, d DeviceRow) {
				assert.True(t, r.Partial())
				require.Len(t, r.Incidents, 1)
				assert.True(t, r.Incidents[0].EndsAfter)
			},
		},
		{
			name: "a running period: a reading less than a heartbeat ago is not an outage",
			setup: func(ds *Dataset, s *Settings) {
				ds.Now, ds.To = at("2026-03-04 10:00"), at("2026-03-04 10:00")
				tel := continuous(ds)
				tel.Last, tel.After = at("2026-03-04 09:59:30"), time.Time{}
				ds.Devices = []DeviceData{door(ds, tel)}
			},
			want: Stats{Up: mins(2*450 + 150)},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runCase(t, c) })
	}
}

func TestRollUpSLAAndChange(t *testing.T) {
	p := week
	ds := &Dataset{From: p.Previous().From, To: p.To, Now: p.To.Add(time.Hour)}
	ds.Devices = []DeviceData{
		{Ward: "b", Class: "hvac", Device: "hvac-1", Telemetry: continuous(ds)},
		{Ward: "b", Class: "door", Device: "door-1", Telemetry: continuous(ds, iv("2026-03-03 07:00", "2026-03-03 18:00"))},
		{Ward: "a", Class: "camera", Device: "camera-1", Telemetry: continuous(ds)},
		{Ward: "a", Class: "door", Device: "door-10", Telemetry: continuous(ds)},
		{Ward: "a", Class: "door", Device: "door-1", Telemetry: continuous(ds,
			iv("2026-02-24 09:00", "2026-02-24 10:00"), // previous period
			iv("2026-03-02 09:00", "2026-03-02 09:30"))},
	}
	s := Settings{
		Offices: []Office{{"a", "Phường A"}, {"b", "Phường B"}, {"c", "Phường C"}},
		Config:  Config{SLA: map[string]float64{"door": 99, "camera": 99.5, "hvac": 98}, WorstDevices: 5},
	}
	r, err := Build(ds, p, s)
	require.NoError(t, err)

	assert.Equal(t, []string{"door", "hvac", "camera"}, r.Classes)
	var names []string
	for _, d := range r.Devices {
		names = append(names, d.Ward+"/"+d.Device)
	}
	assert.Equal(t, []string{"a/door-1", "a/door-10", "a/camera-1", "b/door-1", "b/hvac-1"}, names, "ward, class, then natural order")
	require.Len(t, r.Wards, 3, "a configured ward without devices is listed")
	assert.Equal(t, "Phường A", r.Wards[0].Name)
	assert.Equal(t, 0, r.Wards[2].Cur.Devices)

	a := r.Wards[0]
	assert.Equal(t, 3, a.Cur.Devices)
	assert.Equal(t, mins(30), a.Cur.Down)
	assert.Equal(t, mins(3*weekOpen-30), a.Cur.Up)
	assert.Equal(t, mins(60), a.Prev.Down)
	ch, ok := a.Change()
	require.True(t, ok)
	assert.InDelta(t, 100*30.0/(3*weekOpen), ch, 1e-9, "half the downtime of the week before")

	door := r.ByClass[0]
	assert.Equal(t, "door", door.ID)
	assert.Equal(t, 99.0, door.Target)
	avail, _ := door.Availability()
	assert.InDelta(t, 100*float64(3*weekOpen-480)/float64(3*weekOpen), avail, 1e-9)
	pass, ok := door.Pass()
	assert.True(t, ok)
	assert.False(t, pass, "doors miss 99 %%")
	cam := r.ByClass[2]
	pass, ok = cam.Pass()
	assert.True(t, ok && pass)
	pass, ok = r.Pass()
	assert.True(t, ok)
	assert.False(t, pass, "the district fails when a class does")
	pass, ok = r.Wards[1].Pass()
	assert.True(t, ok)
	assert.False(t, pass, "ward b fails on its door")
	_, ok = r.Wards[2].Pass()
	assert.False(t, ok, "no verdict for a ward without devices")

	assert.Equal(t, 2, r.District.Cur.Incidents)
	assert.Equal(t, mins(450), r.District.Cur.Longest)
	mttr, _ := r.District.Cur.MTTR()
	assert.Equal(t, mins(240), mttr)

	require.Len(t, r.Worst, 2, "only devices with downtime")
	assert.Equal(t, "b/door-1", r.Worst[0].Ward+"/"+r.Worst[0].Device)
	assert.Equal(t, "a/door-1", r.Worst[1].Ward+"/"+r.Worst[1].Device)

	require.Len(t, r.Days, 7)
	assert.Equal(t, at("2026-03-03"), r.Days[1])
	b := r.Wards[1]
	day, ok := b.Day(1)
	require.True(t, ok)
	assert.Equal(t, 50.0, day, "door down all Tuesday, hvac up")
	day, _ = b.Day(0)
	assert.Equal(t, 100.0, day)
	_, ok = b.Day(6)
	assert.False(t, ok, "Sunday: closed")
	assert.Equal(t, []int{1, 1, 0, 0, 0, 0, 0}, r.DayIncidents["door"])

	// One ward only.
	s.Ward = "b"
	r, err = Build(ds, p, s)
	require.NoError(t, err)
	require.Len(t, r.Wards, 1)
	assert.Len(t, r.Devices, 2)
	assert.Equal(t, []string{"door", "hvac"}, r.Classes)
}

func TestIntervalAlgebra(t *testing.T) {
	a := []Interval{iv("2026-03-02 08:00", "2026-03-02 10:00"), iv("2026-03-02 12:00", "2026-03-02 14:00")}
	b := []Interval{iv("2026-03-02 09:00", "2026-03-02 13:00")}
	assert.Equal(t, []Interval{iv("2026-03-02 09:00", "2026-03-02 10:00"), iv("2026-03-02 12:00", "2026-03-02 13:00")}, intersect(a, b))
	assert.Equal(t, []Interval{iv("2026-03-02 08:00", "2026-03-02 09:00"), iv("2026-03-02 13:00", "2026-03-02 14:00")}, Subtract(a, b))
	assert.Equal(t, []Interval{iv("2026-03-02 08:00", "2026-03-02 14:00")}, Merge(append(append([]Interval{}, b...), a...)))
	assert.Equal(t, 2*time.Hour, overlap(b[0], a))
	assert.Equal(t, []Interval{iv("2026-03-02 09:30", "2026-03-02 10:00")}, Clip(a, at("2026-03-02 09:30"), at("2026-03-02 11:00")))
	// subtraction with several holes in one interval
	holes := []Interval{iv("2026-03-02 08:10", "2026-03-02 08:20"), iv("2026-03-02 08:30", "2026-03-02 08:40"), iv("2026-03-02 09:50", "2026-03-02 12:30")}
	assert.Equal(t, []Interval{
		iv("2026-03-02 08:00", "2026-03-02 08:10"), iv("2026-03-02 08:20", "2026-03-02 08:30"),
		iv("2026-03-02 08:40", "2026-03-02 09:50"), iv("2026-03-02 12:30", "2026-03-02 14:00"),
	}, Subtract(a, holes))
	days := newDayIndex(at("2026-03-02"), at("2026-03-04"), hcm)
	acc := make([]time.Duration, days.days())
	days.add(acc, []Interval{iv("2026-03-02 23:00", "2026-03-03 02:00")})
	assert.Equal(t, []time.Duration{time.Hour, 2 * time.Hour}, acc)
	assert.Equal(t, 1, days.index(at("2026-03-03 05:00")))
	assert.Equal(t, -1, days.index(at("2026-03-04 00:00")))
}

func TestConfigValidate(t *testing.T) {
	assert.Empty(t, DefaultConfig().Validate())
	c := Config{SLA: map[string]float64{"door": 120, "hvac": 0}, DefaultSLA: -1, WorstDevices: -2}
	var msgs []string
	for _, e := range c.Validate() {
		msgs = append(msgs, e.Error())
	}
	assert.Equal(t, []string{
		"sla.door: want a percentage above 0 and at most 100, got 120",
		"sla.hvac: want a percentage above 0 and at most 100, got 0",
		"default_sla: want a percentage above 0 and at most 100, got -1",
		"worst_devices: must not be negative",
	}, msgs)
	assert.Equal(t, 99.0, Config{}.Target("door"))
	assert.Equal(t, 97.0, Config{DefaultSLA: 97}.Target("door"))
	assert.Equal(t, 98.0, Config{SLA: map[string]float64{"door": 98}}.Target("door"))
}
