// Package reporttest builds uptime-report datasets for tests, golden
// files, the benchmark and demos: a fixed month of the 13 wards with one
// of every case the maths knows, and synthetic fleets of any size.
package reporttest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/reports"
)

// Location is Asia/Ho_Chi_Minh.
var Location = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		return time.FixedZone("ICT", 7*3600)
	}
	return loc
}()

// At parses a local time, "2026-03-10 11:00" or "2026-03-10".
func At(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, Location); err == nil {
			return t
		}
	}
	panic("reporttest: bad time " + s)
}

// Wards are the 13 ward offices of Hải Châu.
func Wards() []reports.Office {
	return []reports.Office{
		{ID: "thanh-binh", Name: "Thanh Bình"}, {ID: "thuan-phuoc", Name: "Thuận Phước"},
		{ID: "thach-thang", Name: "Thạch Thang"}, {ID: "hai-chau-1", Name: "Hải Châu I"},
		{ID: "hai-chau-2", Name: "Hải Châu II"}, {ID: "phuoc-ninh", Name: "Phước Ninh"},
		{ID: "hoa-thuan-tay", Name: "Hòa Thuận Tây"}, {ID: "hoa-thuan-dong", Name: "Hòa Thuận Đông"},
		{ID: "nam-duong", Name: "Nam Dương"}, {ID: "binh-hien", Name: "Bình Hiên"},
		{ID: "binh-thuan", Name: "Bình Thuận"}, {ID: "hoa-cuong-bac", Name: "Hòa Cường Bắc"},
		{ID: "hoa-cuong-nam", Name: "Hòa Cường Nam"},
	}
}

// March is the period of the fixed dataset: March 2026.
var March = reports.Period{From: At("2026-03-01"), To: At("2026-04-01")}

// Settings of the fixed dataset: default calendars, one-minute
// heartbeats, two maintenance windows and SLA targets per class.
func Settings() reports.Settings {
	return reports.Settings{
		Location: Location,
		Offices:  Wards(),
		Maintenance: []maintenance.Window{
			{Name: "Vá lỗi máy chủ", Class: "server", Days: "sun", Hours: "22:00-02:00"},
			{Name: "Thay UPS", Ward: "hai-chau-1", Device: "server-1", Start: "2026-03-14 08:00", End: "2026-03-14 11:00"},
		},
		Config:    reports.Config{SLA: map[string]float64{"door": 99, "hvac": 98, "server": 99.5, "camera": 99}, WorstDevices: 10},
		Generated: At("2026-04-02 08:00"),
	}
}

type fleetDevice struct{ class, id string }

func officeDevices() []fleetDevice {
	return []fleetDevice{
		{"door", "door-1"}, {"door", "door-2"},
		{"hvac", "hvac-1"}, {"hvac", "hvac-2"}, {"hvac", "hvac-3"},
		{"server", "server-1"},
		{"camera", "camera-1"}, {"camera", "camera-2"}, {"camera", "camera-3"}, {"camera", "camera-4"},
	}
}

// continuous is telemetry over [from, to) with the given gaps.
func continuous(from, to time.Time, gaps []reports.Interval) reports.Telemetry {
	return reports.Telemetry{
		Before: from.Add(-7 * time.Second),
		First:  from.Add(3 * time.Second),
		Last:   to.Add(-4 * time.Second),
		After:  to.Add(6 * time.Second),
		Gaps:   gaps,
	}
}

func iv(a, b string) reports.Interval { return reports.Interval{Start: At(a), End: At(b)} }

// March2026 is the fixed dataset: 13 wards × 10 devices over March 2026
// and February (its comparison period), with a few random outages per device (fixed
// seed) and one of each case: an outage across the lunch break, a ward
// network outage, an outage inside maintenance, a collection gap, a
// device that never reported, flapping, a device new in the month, an
// outage running past the end and one that began in February.
func March2026() *reports.Dataset {
	prev := March.Previous()
	ds := &reports.Dataset{
		From: prev.From, To: March.To, Now: At("2026-04-02 08:00"),
		Unknown:     []reports.Interval{iv("2026-03-20 14:00", "2026-03-20 15:00")},
		WardOutages: map[string][]reports.Interval{"thuan-phuoc": {iv("2026-03-12 09:01", "2026-03-12 10:30")}},
	}
	rng := rand.New(rand.NewPCG(2026, 3))
	span := ds.To.Sub(ds.From)
	special := map[string][]reports.Interval{
		"thanh-binh/door-1":   {iv("2026-03-10 11:00", "2026-03-10 14:00")},
		"hai-chau-1/server-1": {iv("2026-03-14 09:00", "2026-03-14 09:45")},
		"thach-thang/door-1":  {iv("2026-02-27 15:00", "2026-03-02 09:00")},
		"binh-thuan/hvac-2":   {iv("2026-03-20 14:20", "2026-03-20 15:30")},
	}
	for _, w := range Wards() {
		for _, d := range officeDevices() {
			key := w.ID + "/" + d.id
			var gaps []reports.Interval
			for range rng.IntN(4) {
				start := ds.From.Add(time.Duration(rng.Int64N(int64(span - 5*time.Hour)))).Truncate(time.Minute)
				gaps = append(gaps, reports.Interval{Start: start, End: start.Add(time.Duration(5+rng.IntN(236)) * time.Minute)})
			}
			gaps = append(gaps, special[key]...)
			if w.ID == "thuan-phuoc" {
				gaps = append(gaps, iv("2026-03-12 09:00", "2026-03-12 10:31"))
			}
			dev := reports.DeviceData{Ward: w.ID, Class: d.class, Device: d.id, Telemetry: continuous(ds.From, ds.To, sortGaps(gaps))}
			switch key {
			case "nam-duong/camera-4":
				dev = reports.DeviceData{Ward: w.ID, Class: d.class, Device: d.id, Inventory: true}
			case "binh-hien/door-2":
				for i := range 10 {
					t0 := At("2026-03-05 09:00").Add(time.Duration(i) * 3 * time.Minute)
					dev.Status = append(dev.Status, reports.Transition{Time: t0, Up: false}, reports.Transition{Time: t0.Add(40 * time.Second), Up: true})
				}
			case "hoa-cuong-nam/hvac-3":
				dev.Telemetry = continuous(At("2026-03-16 08:00"), ds.To, nil)
				dev.Telemetry.Before = time.Time{}
				dev.Status = []reports.Transition{{Time: At("2026-03-16 07:59:58"), Up: true}}
			case "phuoc-ninh/camera-2":
				dev.Telemetry.Last, dev.Telemetry.After = At("2026-03-27 10:00"), time.Time{}
				dev.Status = []reports.Transition{{Time: At("2026-03-27 10:00:30"), Up: false}}
			}
			ds.Devices = append(ds.Devices, dev)
		}
	}
	return ds
}

func sortGaps(g []reports.Interval) []reports.Interval {
	for i := 1; i < len(g); i++ {
		for j := i; j > 0 && g[j].Start.Before(g[j-1].Start); j-- {
			g[j], g[j-1] = g[j-1], g[j]
		}
	}
	// overlapping random gaps are joined, as consecutive readings would be
	var out []reports.Interval
	for _, x := range g {
		if n := len(out); n > 0 && !x.Start.After(out[n-1].End) {
			if x.End.After(out[n-1].End) {
				out[n-1].End = x.End
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// Fleet is a synthetic dataset of wards × perWard devices over p and the
// previous period, with about incidentsPerDevice random outages per
// device in each, a few flapping devices and a collection gap: the load
// of the monthly report benchmark.
func Fleet(wards, perWard int, p reports.Period, incidentsPerDevice int, seed uint64) (*reports.Dataset, reports.Settings) {
	prev := p.Previous()
	ds := &reports.Dataset{From: prev.From, To: p.To, Now: p.To.Add(time.Hour), WardOutages: map[string][]reports.Interval{}}
	ds.Unknown = []reports.Interval{{Start: p.From.Add(100 * time.Hour), End: p.From.Add(101 * time.Hour)}}
	rng := rand.New(rand.NewPCG(seed, 1))
	span := ds.To.Sub(ds.From)
	classes := []string{"door", "hvac", "server", "camera"}
	var offices []reports.Office
	for w := range wards {
		ward := fmt.Sprintf("ward-%02d", w+1)
		offices = append(offices, reports.Office{ID: ward, Name: fmt.Sprintf("Phường %d", w+1)})
		start := p.From.Add(time.Duration(rng.Int64N(int64(p.To.Sub(p.From) - 3*time.Hour))))
		ds.WardOutages[ward] = []reports.Interval{{Start: start, End: start.Add(time.Duration(10+rng.IntN(120)) * time.Minute)}}
		for i := range perWard {
			class := classes[i%len(classes)]
			var gaps []reports.Interval
			for range 2 * incidentsPerDevice {
				s := ds.From.Add(time.Duration(rng.Int64N(int64(span - 5*time.Hour))))
				gaps = append(gaps, reports.Interval{Start: s, End: s.Add(time.Duration(2+rng.IntN(300)) * time.Minute)})
			}
			d := reports.DeviceData{Ward: ward, Class: class, Device: fmt.Sprintf("%s-%d", class, i/len(classes)+1),
				Telemetry: continuous(ds.From, ds.To, sortGaps(gaps))}
			if i%50 == 7 {
				for k := range 20 {
					t0 := p.From.Add(time.Duration(rng.Int64N(int64(p.To.Sub(p.From) - time.Hour)))).Add(time.Duration(k) * time.Second)
					d.Status = append(d.Status, reports.Transition{Time: t0, Up: false}, reports.Transition{Time: t0.Add(30 * time.Second), Up: true})
				}
				sortStatus(d.Status)
			}
			ds.Devices = append(ds.Devices, d)
		}
	}
	s := reports.Settings{Location: Location, Offices: offices, Config: reports.DefaultConfig(), Generated: ds.Now,
		Maintenance: []maintenance.Window{{Name: "patching", Class: "server", Days: "sun", Hours: "22:00-02:00"}}}
	return ds, s
}

func sortStatus(st []reports.Transition) {
	for i := 1; i < len(st); i++ {
		for j := i; j > 0 && st[j].Time.Before(st[j-1].Time); j-- {
			st[j], st[j-1] = st[j-1], st[j]
		}
	}
}
