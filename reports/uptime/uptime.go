// Package uptime makes the uptime report of `facmon report uptime` and of
// GET /reports/uptime from facmon's configuration: it reads the data from
// InfluxDB (loader.Loader), computes the report (reports.Build) and
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

	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/loader"
	"github.com/facmon/facmon/reports/render"
)

// Loader reads a dataset; *loader.Loader is the InfluxDB one.
type Loader interface {
	Load(ctx context.Context, req loader.Request, progress loader.Progress) (*reports.Dataset, error)
}

// Generator makes uptime reports. It is safe for concurrent use.
type Generator struct {
	loader       Loader
	settings     reports.Settings
	minHB, maxHB time.Duration
	inventory    []loader.InventoryDevice
	now          func() time.Time
	busy         chan struct{} // one report at a time: each reads a lot from InfluxDB
}

// MaxPeriod is the longest period a report covers (with its previous
// period, twice that is read).
const MaxPeriod = 400 * 24 * time.Hour

// Options is what the generator is built from: where the data is, what
// the offices are, and what the devices are expected to send.
type Options struct {
	Influx storage.InfluxOptions
	// TokenFile holds the InfluxDB token; left empty, FACMON_INFLUX_TOKEN
	// is the token.
	TokenFile string
	Settings  reports.Settings
	// Classes are the device classes in display order; Fields gives each
	// class's fields, every one of which a stored reading may carry.
	Classes []string
	Fields  map[string][]string
	// MinHeartbeat and MaxHeartbeat are the shortest and the longest
	// heartbeat of any device: how finely and how far back to read.
	MinHeartbeat, MaxHeartbeat time.Duration
	// Inventory lists the devices the offices declare, so one that never
	// sent is reported as never seen.
	Inventory []loader.InventoryDevice
}

// New builds a generator. It reads the token file but does not contact
// InfluxDB.
func New(o Options) (*Generator, error) {
	o.Influx.Token = os.Getenv("FACMON_INFLUX_TOKEN")
	if o.TokenFile != "" {
		t, err := clientauth.ReadSecret(o.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("influx.token_file: %w", err)
		}
		o.Influx.Token = t
	}
	// A month of readings takes InfluxDB longer than a write.
	o.Influx.Timeout = max(o.Influx.Timeout, 2*time.Minute)
	q := storage.NewInfluxQL(o.Influx)
	g := NewWith(loader.New(q, loader.Options{Classes: o.Classes, Fields: o.Fields}), o.Settings)
	if o.MinHeartbeat > 0 {
		g.minHB, g.maxHB = o.MinHeartbeat, max(o.MaxHeartbeat, o.MinHeartbeat)
	}
	g.inventory = o.Inventory
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
func (g *Generator) Report(ctx context.Context, req Request, progress loader.Progress) (*reports.Report, error) {
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
	ds, err := g.loader.Load(ctx, loader.Request{
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
func (g *Generator) Write(ctx context.Context, w io.Writer, req Request, progress loader.Progress) error {
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
