package dashboards_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/dashboards"
)

// panelQuery is one query of a generated dashboard, read back from its JSON
// (what Grafana receives), with where it comes from.
type panelQuery struct {
	dashboard, panel, refID string
	datasource              string // influxdb or prometheus
	query                   string
	variable                bool // a template variable's query
}

func (q panelQuery) String() string {
	return fmt.Sprintf("%s / %q %s", q.dashboard, q.panel, q.refID)
}

// queriesOf returns every target of every panel (rows included) and every
// variable query of the boards.
func queriesOf(t *testing.T, boards []dashboards.Board) []panelQuery {
	t.Helper()
	var out []panelQuery
	for _, b := range boards {
		raw, err := b.JSON()
		require.NoError(t, err)
		var d struct {
			Panels     []jsonPanel `json:"panels"`
			Templating struct {
				List []struct {
					Name       string `json:"name"`
					Query      any    `json:"query"`
					Datasource struct {
						Type string `json:"type"`
						UID  string `json:"uid"`
					} `json:"datasource"`
				} `json:"list"`
			} `json:"templating"`
		}
		require.NoError(t, json.Unmarshal(raw, &d), b.UID)
		var walk func(ps []jsonPanel)
		walk = func(ps []jsonPanel) {
			for _, p := range ps {
				walk(p.Panels)
				for _, tg := range p.Targets {
					q := panelQuery{dashboard: b.UID, panel: p.Title, refID: tg.RefID, datasource: tg.Datasource.Type}
					switch tg.Datasource.Type {
					case dashboards.InfluxDBType:
						require.Equal(t, dashboards.InfluxUID, tg.Datasource.UID, q.String())
						require.True(t, tg.RawQuery, "%s: raw InfluxQL", q)
						q.query = tg.Query
					case "prometheus":
						require.Equal(t, dashboards.PrometheusUID, tg.Datasource.UID, q.String())
						q.query = tg.Expr
					default:
						t.Fatalf("%s: unexpected datasource %q", q, tg.Datasource.Type)
					}
					require.NotEmpty(t, q.query, q.String())
					out = append(out, q)
				}
			}
		}
		walk(d.Panels)
		for _, v := range d.Templating.List {
			s, _ := v.Query.(string)
			out = append(out, panelQuery{dashboard: b.UID, panel: "$" + v.Name, refID: "variable",
				datasource: v.Datasource.Type, query: s, variable: true})
		}
	}
	return out
}

type jsonPanel struct {
	Title   string      `json:"title"`
	Panels  []jsonPanel `json:"panels"`
	Targets []struct {
		RefID      string `json:"refId"`
		Query      string `json:"query"`
		RawQuery   bool   `json:"rawQuery"`
		Expr       string `json:"expr"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
}

// substitute does what Grafana does before sending an InfluxQL query, with
// a fixed last hour, a 10 s interval and ward as $ward.
func substitute(q, ward string) string {
	return strings.NewReplacer(
		"$__timeFilter", "time > now() - 1h",
		"$__interval_ms", "10000",
		"$__interval", "10s",
		"$ward", ward,
	).Replace(q)
}

var measurementRE = regexp.MustCompile(`FROM "([a-z_]+)"`)

// measurements names the measurements a query reads.
func measurements(q string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range measurementRE.FindAllStringSubmatch(q, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

var metricNameRE = regexp.MustCompile(`\bfacmon_[a-z0-9_]+\b`)
