package options

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/loader"
	"github.com/facmon/facmon/reports/uptime"
)

// Uptime is what the uptime report generator is built from.
func Uptime(cfg config.Config) (uptime.Options, error) {
	s, err := ReportSettings(cfg)
	if err != nil {
		return uptime.Options{}, err
	}
	classes := classesOf(cfg)
	minHB, maxHB := heartbeatRange(cfg, classes)
	return uptime.Options{
		Influx: storage.InfluxOptions{
			URL: cfg.Influx.URL, Bucket: cfg.Influx.Bucket, Org: cfg.Influx.Org, Timeout: cfg.Influx.Timeout.D(),
		},
		TokenFile:    cfg.Influx.QueryTokenFile(),
		Settings:     s,
		Classes:      classes,
		Fields:       fieldsOf(cfg),
		MinHeartbeat: minHB,
		MaxHeartbeat: maxHB,
		Inventory:    inventoryOf(cfg, classes),
	}, nil
}

// ReportSettings turns the configuration into report settings: offices,
// calendars, heartbeats, maintenance windows and SLA targets.
func ReportSettings(cfg config.Config) (reports.Settings, error) {
	cals, err := cfg.OfficeCalendars()
	if err != nil {
		return reports.Settings{}, err
	}
	if _, err := cfg.MaintenanceSchedule(); err != nil {
		return reports.Settings{}, fmt.Errorf("maintenance%w", err)
	}
	s := reports.Settings{
		Calendars:   map[string]*calendar.Calendar{},
		Heartbeat:   cfg.Liveness.HeartbeatOf,
		Maintenance: cfg.Maintenance,
		Config:      cfg.Reports,
	}
	for _, o := range cfg.Offices {
		s.Offices = append(s.Offices, reports.Office{ID: o.ID, Name: o.Name})
		s.Calendars[o.ID] = cals[o.ID]
	}
	// The report's zone is that of the default calendar (the same as the
	// maintenance windows').
	if len(cfg.Offices) > 0 && cals[cfg.Offices[0].ID] != nil {
		s.Location = cals[cfg.Offices[0].ID].Location()
	}
	if c, ok := cfg.Calendars[config.DefaultCalendar]; ok {
		if loc, err := time.LoadLocation(orDefault(c.Timezone, "Asia/Ho_Chi_Minh")); err == nil {
			s.Location = loc
		}
	}
	return s, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// classesOf lists the device classes of the configuration (its profiles)
// in display order.
// fieldsOf gives each class's profile fields: every reading facmon stores
// has at least one (a payload with none is refused), while seq is
// optional. seq is asked for too, for points written by other means with
// seq alone.
func fieldsOf(cfg config.Config) map[string][]string {
	out := map[string][]string{}
	for c, p := range cfg.Profiles {
		for f := range p.Fields {
			if f != reading.KeySeq {
				out[c] = append(out[c], f)
			}
		}
		slices.Sort(out[c])
		out[c] = append(out[c], reading.KeySeq)
	}
	return out
}

func classesOf(cfg config.Config) []string {
	var out []string
	for _, c := range reports.DefaultClasses {
		if _, ok := cfg.Profiles[c]; ok {
			out = append(out, c)
		}
	}
	var extra []string
	for c := range cfg.Profiles {
		if !slices.Contains(out, c) {
			extra = append(extra, c)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}

// heartbeatRange is the shortest and the longest heartbeat of any device.
func heartbeatRange(cfg config.Config, classes []string) (minHB, maxHB time.Duration) {
	consider := func(d time.Duration) {
		if d <= 0 {
			return
		}
		if minHB == 0 || d < minHB {
			minHB = d
		}
		maxHB = max(maxHB, d)
	}
	for _, c := range classes {
		consider(cfg.Liveness.HeartbeatOf("", c, ""))
	}
	for _, d := range cfg.Liveness.Devices {
		consider(d.D())
	}
	if minHB == 0 {
		minHB = config.DefaultHeartbeat
	}
	return minHB, max(maxHB, minHB)
}

// inventoryOf reads the offices' device lists; a device's class is the
// part of its id before the last "-" ("camera-4"), when it is a class.
func inventoryOf(cfg config.Config, classes []string) []loader.InventoryDevice {
	var out []loader.InventoryDevice
	for _, o := range cfg.Offices {
		for _, d := range o.Devices {
			i := strings.LastIndexByte(d, '-')
			if i <= 0 || !slices.Contains(classes, d[:i]) {
				continue
			}
			out = append(out, loader.InventoryDevice{Ward: o.ID, Class: d[:i], Device: d})
		}
	}
	return out
}
