// Package dashboards generates facmon's Grafana dashboards as code: typed Go
// built on the Grafana foundation SDK, exported as JSON for provisioning
// (deploy/grafana/) or pushed through Grafana's HTTP API (Push).
//
// Every equipment and app panel is a raw InfluxQL query on the InfluxDB
// datasource with uid facmon-influxdb (InfluxQL works on InfluxDB 1.8, on 2.x
// with a DBRP mapping and on 3.x); the "facmon itself" dashboard queries a
// Prometheus datasource with uid facmon-prometheus that scrapes facmon's
// /metrics. Dashboards have stable UIDs that do not depend on the language, so
// pushing the English build replaces the Vietnamese one and the reverse.
//
// The measurements read are the ones facmon writes: door, hvac, server, camera
// (tags ward, class, device), device_status and device_availability (field up),
// alert_event (state, summary_vi, summary_en, value; tags alertname, severity,
// ward, class, device) and the scraped app metrics (Telegraf's prometheus
// format: fields counter, gauge, sum and count), plus scrape (up,
// duration_seconds, samples).
package dashboards

//lint:file-ignore SA1019 the SDK deprecates its v1 dashboard model for dashboardv2, but v1 (the classic JSON model) is what Grafana 11's POST /api/dashboards/db and file provisioning take; v2 needs Grafana 12's /apis API.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/facmon/facmon/internal/config"
)

// Identifiers shared by the dashboards, the provisioning files and Push.
const (
	FolderUID     = "facmon"
	InfluxUID     = "facmon-influxdb"
	PrometheusUID = "facmon-prometheus"
	// Tag is on every dashboard; the dashboards' link menu lists the ones
	// that carry it.
	Tag = "facmon"
)

// The dashboards' UIDs. A class dashboard is ClassUIDPrefix + class.
const (
	OverviewUID    = "facmon-overview"
	WardUID        = "facmon-ward"
	ClassUIDPrefix = "facmon-class-"
	AppsUID        = "facmon-apps"
	SelfUID        = "facmon-self"
)

// Lang is the language of the dashboards' text.
type Lang string

// The languages of the dashboards. Vietnamese is the default.
const (
	Vietnamese Lang = "vi"
	English    Lang = "en"
)

// ParseLang accepts vi and en.
func ParseLang(s string) (Lang, error) {
	switch Lang(s) {
	case Vietnamese, English:
		return Lang(s), nil
	}
	return "", fmt.Errorf("unknown language %q: want vi or en", s)
}

// Options shape the generated dashboards.
type Options struct {
	// Lang is the language of titles, descriptions and legends (default vi).
	Lang Lang
	// Offices are the ward offices: one tile each on the overview, and their
	// display names replace the ids in legends and tables (default:
	// config.DefaultOffices()).
	Offices []config.Office
	// Timezone of the dashboards, which is where "today" and "this month"
	// begin (default Asia/Ho_Chi_Minh).
	Timezone string
	// MinInterval is the smallest $__interval of telemetry panels: at least
	// the devices' reporting period, so that GROUP BY time($__interval) has
	// no empty buckets between two readings (default 1m).
	MinInterval string
}

func (o Options) withDefaults() Options {
	if o.Lang == "" {
		o.Lang = Vietnamese
	}
	if o.Offices == nil {
		o.Offices = config.DefaultOffices()
	}
	if o.Timezone == "" {
		o.Timezone = "Asia/Ho_Chi_Minh"
	}
	if o.MinInterval == "" {
		o.MinInterval = "1m"
	}
	return o
}

// Board is one generated dashboard.
type Board struct {
	UID       string
	Dashboard dashboard.Dashboard
}

// Title is the dashboard's title.
func (b Board) Title() string { return deref(b.Dashboard.Title) }

// JSON is the dashboard model as Grafana imports it (and as provisioning
// reads it): indented, with a final newline, identical for identical input.
func (b Board) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep <, > and & of the queries readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(b.Dashboard); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", b.UID, err)
	}
	return unescapeHTML(buf.Bytes()), nil
}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes that
// encoding/json writes for <, > and & (also inside the SDK's own
// MarshalJSON methods, which SetEscapeHTML does not reach) back into the
// characters, so that the queries in the files read as written. An escaped
// backslash followed by "u0026" is left alone.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if b[i+1] == 'u' && i+6 <= len(b) {
			switch string(b[i+2 : i+6]) {
			case "003c":
				out = append(out, '<')
				i += 5
				continue
			case "003e":
				out = append(out, '>')
				i += 5
				continue
			case "0026":
				out = append(out, '&')
				i += 5
				continue
			}
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// Model is the dashboard as a generic JSON object, the form Grafana's HTTP API
// takes.
func (b Board) Model() (map[string]any, error) {
	raw, err := b.JSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", b.UID, err)
	}
	return m, nil
}

// Classes are the device classes that get a dashboard each, in order.
func Classes() []string { return []string{"door", "hvac", "server", "camera"} }

// FolderTitle is the title of the folder that holds the dashboards.
func FolderTitle(lang Lang) string {
	if lang == English {
		return "facmon — one-stop offices"
	}
	return "facmon — Một cửa điện tử"
}

// All builds every dashboard: the district overview, the ward detail, one per
// device class, the service apps and facmon itself.
func All(opts Options) ([]Board, error) {
	opts = opts.withDefaults()
	if _, err := ParseLang(string(opts.Lang)); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, o := range opts.Offices {
		if o.ID == "" || strings.ContainsAny(o.ID, "'\\/\n\"") {
			return nil, fmt.Errorf("office id %q cannot be used in a query", o.ID)
		}
		if seen[o.ID] {
			return nil, fmt.Errorf("office %q listed twice", o.ID)
		}
		seen[o.ID] = true
	}
	g := &gen{Options: opts}
	builders := []func() (string, *dashboard.DashboardBuilder){g.overview, g.ward}
	for _, c := range Classes() {
		builders = append(builders, func() (string, *dashboard.DashboardBuilder) { return g.class(c) })
	}
	builders = append(builders, g.apps, g.self)
	var boards []Board
	for _, build := range builders {
		uid, b := build()
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", uid, err)
		}
		numberPanels(&d)
		boards = append(boards, Board{UID: uid, Dashboard: d})
	}
	return boards, nil
}

// numberPanels gives every panel and row an id unique within its dashboard,
// in layout order, so that links to a panel (viewPanel=N) stay stable.
func numberPanels(d *dashboard.Dashboard) {
	var id uint32
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			id++
			p.Panel.Id = ptr(id)
		case p.RowPanel != nil:
			id++
			p.RowPanel.Id = id
			for i := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[i].Id = ptr(id)
			}
		}
	}
}
