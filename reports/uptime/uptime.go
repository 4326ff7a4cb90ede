// Package uptime makes the uptime report of `facmon report uptime` and of
// GET /reports/uptime from facmon's configuration: it reads the data from
// InfluxDB (reports.Loader), computes the report (reports.Build) and
// renders it (reports/render).
package uptime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/render"
)

// Loader reads a dataset; *reports.Loader is the InfluxDB one.
type Loader interface {
	Load(ctx context.Context, req reports.LoadRequest, progress reports.Progress) (*reports.Dataset, error)
}

// Generator makes uptime reports. It is safe for concurrent use.
type Generator struct {
	loader       Loader
	settings     reports.Settings
	minHB, maxHB time.Duration
	inventory    []reports.InventoryDevice
	now          func() time.Time
	busy         chan struct{} // one report at a time: each reads a lot from InfluxDB
}

// MaxPeriod is the longest period a report covers (with its previous
// period, twice that is read).
const MaxPeriod = 400 * 24 * time.Hour

// New builds a generator from the configuration and its reports section.
// It does not contact InfluxDB.
func New(cfg config.Config, rc reports.Config) (*Generator, error) {
	token := os.Getenv("FACMON_INFLUX_TOKEN")
	if cfg.Influx.TokenFile != "" {
		t, err := clientauth.ReadSecret(cfg.Influx.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("influx.token_file: %w", err)
		}
		token = t
	}
	q := storage.NewInfluxQL(storage.InfluxOptions{
		URL: cfg.Influx.URL, Bucket: cfg.Influx.Bucket, Org: cfg.Influx.Org, Token: token,
		// A month of readings takes InfluxDB longer than a write.
		Timeout: max(cfg.Influx.Timeout.D(), 2*time.Minute),
	})
	s, err := Settings(cfg, rc)
	if err != nil {
		return nil, err
	}
	classes := classesOf(cfg)
	g := NewWith(reports.NewLoader(q, reports.LoaderOptions{Classes: classes, Fields: fieldsOf(cfg)}), s)
	g.minHB, g.maxHB = heartbeatRange(cfg, classes)
	g.inventory = inventoryOf(cfg, classes)
	return g, nil
}

// NewWith builds a generator over any loader, e.g. a fixed dataset.
func NewWith(l Loader, s reports.Settings) *Generator {
	return &Generator{loader: l, settings: s, minHB: time.Minute, maxHB: time.Minute, now: time.Now, busy: make(chan struct{}, 1)}
}

// SetClock replaces time.Now (tests, demos of a fixed dataset).
func (g *Generator) SetClock(now func() time.Time) { g.now = now }

// Location is the offices' time zone.
func (g *Generator) Location() *time.Location { return g.settings.Location }

// Settings turns the configuration into report settings: offices,
// calendars, heartbeats, maintenance windows and SLA targets.
func Settings(cfg config.Config, rc reports.Config) (reports.Settings, error) {
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
		Config:      rc,
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
func inventoryOf(cfg config.Config, classes []string) []reports.InventoryDevice {
	var out []reports.InventoryDevice
	for _, o := range cfg.Offices {
		for _, d := range o.Devices {
			i := strings.LastIndexByte(d, '-')
			if i <= 0 || !slices.Contains(classes, d[:i]) {
				continue
			}
			out = append(out, reports.InventoryDevice{Ward: o.ID, Class: d[:i], Device: d})
		}
	}
	return out
}

// Request is one report to make.
type Request struct {
	Period reports.Period
	// Ward limits the report to one office; empty means all.
	Ward string
	// Format is html, csv or xlsx.
	Format string
	Lang   i18n.Lang
	// AlwaysOpen counts 24/7 instead of office hours.
	AlwaysOpen bool
}

// RequestError is a bad request: a bad date, an unknown ward, …
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }

func badRequest(format string, args ...any) error {
	return &RequestError{Msg: fmt.Sprintf(format, args...)}
}

// ParsePeriod reads --from and --to: dates YYYY-MM-DD (to inclusive),
// months YYYY-MM (from the first to the last day), or RFC 3339 times
// (to exclusive), in the offices' time zone.
func ParsePeriod(from, to string, loc *time.Location) (reports.Period, error) {
	if loc == nil {
		loc = time.Local
	}
	a, err := parseDate(from, loc, false)
	if err != nil {
		return reports.Period{}, badRequest("from: %v", err)
	}
	b, err := parseDate(to, loc, true)
	if err != nil {
		return reports.Period{}, badRequest("to: %v", err)
	}
	if !b.After(a) {
		return reports.Period{}, badRequest("the period ends (%s) before it starts (%s)", to, from)
	}
	if b.Sub(a) > MaxPeriod {
		return reports.Period{}, badRequest("the period is longer than %d days", int(MaxPeriod.Hours()/24))
	}
	return reports.Period{From: a, To: b}, nil
}

func parseDate(s string, loc *time.Location, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("missing: want a date YYYY-MM-DD")
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01", s, loc); err == nil {
		if end {
			t = t.AddDate(0, 1, 0)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want a date YYYY-MM-DD, a month YYYY-MM or an RFC 3339 time", s)
}

// ThisMonth is the period of the current month (up to now).
func (g *Generator) ThisMonth() reports.Period {
	now := g.now().In(g.Location())
	from := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, g.Location())
	return reports.Period{From: from, To: from.AddDate(0, 1, 0)}
}

// Check validates a request before any query.
func (g *Generator) Check(req Request) error {
	if req.Ward != "" && !slices.ContainsFunc(g.settings.Offices, func(o reports.Office) bool { return o.ID == req.Ward }) {
		return badRequest("unknown ward %q (see offices in the configuration)", req.Ward)
	}
	if !slices.Contains(render.Formats, req.Format) {
		return badRequest("unknown format %q (want html, csv or xlsx)", req.Format)
	}
	if !req.Period.To.After(req.Period.From) {
		return badRequest("the period ends before it starts")
	}
	if req.Period.From.After(g.now()) {
		return badRequest("the period starts in the future")
	}
	return nil
}

// Report reads the data of req and computes the report. progress may be
// nil. Only one report is made at a time; others wait their turn.
func (g *Generator) Report(ctx context.Context, req Request, progress reports.Progress) (*reports.Report, error) {
	if err := g.Check(req); err != nil {
		return nil, err
	}
	select {
	case g.busy <- struct{}{}:
		defer func() { <-g.busy }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	now := g.now()
	prev := req.Period.In(g.Location()).Previous()
	ds, err := g.loader.Load(ctx, reports.LoadRequest{
		From: prev.From, To: req.Period.To, Now: now, Ward: req.Ward,
		MinHeartbeat: g.minHB, MaxHeartbeat: g.maxHB, Inventory: g.inventory,
	}, progress)
	if err != nil {
		return nil, err
	}
	s := g.settings
	s.Ward = req.Ward
	s.AlwaysOpen = req.AlwaysOpen
	s.Generated = now
	return reports.Build(ds, req.Period, s)
}

// Write makes the report of req and renders it to w. Nothing is written
// when the report fails.
func (g *Generator) Write(ctx context.Context, w io.Writer, req Request, progress reports.Progress) error {
	r, err := g.Report(ctx, req, progress)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := render.Write(&buf, r, req.Format, req.Lang); err != nil {
		return err
	}
	_, err = buf.WriteTo(w)
	return err
}

// FileName is a download name for the report of req.
func (g *Generator) FileName(req Request) string {
	loc := g.Location()
	last := req.Period.To.In(loc).Add(-time.Nanosecond)
	name := "facmon-uptime-" + req.Period.From.In(loc).Format("2006-01-02") + "_" + last.Format("2006-01-02")
	if req.Ward != "" {
		name += "-" + req.Ward
	}
	if req.AlwaysOpen {
		name += "-24x7"
	}
	return name + "." + req.Format
}
