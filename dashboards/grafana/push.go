// Package grafana publishes facmon's dashboards to a Grafana server through
// its HTTP API: the folder, the datasources and each dashboard, created or
// updated in place, with errors that say what the operator must change.
package grafana

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	gapi "github.com/grafana/grafana-api-golang-client"

	"github.com/facmon/facmon/dashboards"
)

// PushOptions say where and how Push sends the dashboards.
type PushOptions struct {
	// URL is Grafana's root URL, with its sub-path if it is served under
	// one (https://host/grafana).
	URL string
	// Token is a service-account token, sent as Authorization: Bearer. It is
	// never written to Progress or to an error.
	Token string
	// Lang is the language of the folder's title (default vi).
	Lang dashboards.Lang
	// Message is the dashboards' version-history message.
	Message string
	// Influx, when set, creates or updates the InfluxDB datasource (uid
	// facmon-influxdb) before the dashboards.
	Influx *InfluxDatasource
	// Prometheus, when set, creates or updates the Prometheus datasource
	// (uid facmon-prometheus) of the "facmon itself" dashboard.
	Prometheus *PrometheusDatasource
	// Client is the HTTP client (default: 30 s timeout).
	Client *http.Client
	// Progress gets one line per folder, datasource and dashboard; nil for
	// none.
	Progress io.Writer
}

// InfluxDatasource is the InfluxDB that Grafana queries in InfluxQL.
type InfluxDatasource struct {
	URL      string // as Grafana's server reaches it
	Database string // InfluxDB 1.8 database, or the DBRP-mapped name on 2.x/3.x
	// Either User and Password (InfluxDB 1.8 with authentication) or Token
	// (2.x/3.x, sent as Authorization: Token …); all empty for none.
	User, Password, Token string
}

// PrometheusDatasource is the Prometheus server that scrapes facmon.
type PrometheusDatasource struct {
	URL string
}

// Names of the datasources Push creates (the provisioning file uses the
// same).
const (
	InfluxDatasourceName     = "facmon InfluxDB"
	PrometheusDatasourceName = "facmon Prometheus"
)

// Push creates or updates, through Grafana's HTTP API, the folder (by uid),
// the datasources asked for, and every board with overwrite, in that order.
// Running it again changes nothing but the dashboards' versions. It stops at
// the first error, which names the object and says what to do.
func Push(boards []dashboards.Board, opts PushOptions) error {
	if opts.Lang == "" {
		opts.Lang = dashboards.Vietnamese
	}
	if opts.Message == "" {
		opts.Message = "facmon dashboards push"
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Token == "" {
		return errors.New("no Grafana token: give a service-account token")
	}
	if os.Getenv("GF_LOG") != "" && opts.Influx != nil && (opts.Influx.Password != "" || opts.Influx.Token != "") {
		// The Grafana API client logs every request body when GF_LOG is
		// set, and the datasource's body holds its InfluxDB credentials.
		return errors.New("GF_LOG is set: the Grafana API client would log the datasource's InfluxDB credentials; unset GF_LOG")
	}
	root := strings.TrimRight(opts.URL, "/")
	c, err := gapi.New(root, gapi.Config{APIKey: opts.Token, Client: opts.Client})
	if err != nil {
		return fmt.Errorf("grafana URL %q: %w", opts.URL, err)
	}
	p := pusher{c: c, opts: opts, root: root}
	if err := p.folder(); err != nil {
		return err
	}
	if opts.Influx != nil {
		if err := p.datasource(influxDatasource(*opts.Influx)); err != nil {
			return err
		}
	}
	if opts.Prometheus != nil {
		if err := p.datasource(&gapi.DataSource{
			UID: dashboards.PrometheusUID, Name: PrometheusDatasourceName, Type: "prometheus",
			URL: opts.Prometheus.URL, Access: "proxy",
			JSONData: map[string]any{"httpMethod": "POST", "timeInterval": "15s"},
		}); err != nil {
			return err
		}
	}
	for _, b := range boards {
		if err := p.dashboard(b); err != nil {
			return err
		}
	}
	return nil
}

func influxDatasource(in InfluxDatasource) *gapi.DataSource {
	ds := &gapi.DataSource{
		UID: dashboards.InfluxUID, Name: InfluxDatasourceName, Type: dashboards.InfluxDBType,
		URL: in.URL, Access: "proxy", Database: in.Database,
		JSONData: map[string]any{
			"version":      "InfluxQL",
			"dbName":       in.Database,
			"httpMode":     "GET",
			"timeInterval": "10s",
		},
	}
	switch {
	case in.Token != "":
		ds.JSONData["httpHeaderName1"] = "Authorization"
		ds.SecureJSONData = map[string]any{"httpHeaderValue1": "Token " + in.Token}
	case in.User != "":
		ds.User = in.User
		ds.SecureJSONData = map[string]any{"password": in.Password}
	}
	return ds
}

type pusher struct {
	c    *gapi.Client
	opts PushOptions
	root string
}

func (p pusher) progress(format string, args ...any) {
	if p.opts.Progress != nil {
		fmt.Fprintf(p.opts.Progress, format+"\n", args...)
	}
}

// folder: GET /api/folders/:uid, then POST /api/folders when missing or
// PUT /api/folders/:uid when its title is not ours.
func (p pusher) folder() error {
	title := dashboards.FolderTitle(p.opts.Lang)
	what := "folder " + dashboards.FolderUID
	f, err := p.c.FolderByUID(dashboards.FolderUID)
	var nf gapi.ErrNotFound
	switch {
	case errors.As(err, &nf):
		if _, err := p.c.NewFolder(title, dashboards.FolderUID); err != nil {
			return p.explain("create "+what, err)
		}
		p.progress("%s: created (%s)", what, title)
	case err != nil:
		return p.explain("look up "+what, err)
	case f.Title != title:
		if err := p.c.UpdateFolder(dashboards.FolderUID, title); err != nil {
			return p.explain("rename "+what, err)
		}
		p.progress("%s: renamed to %s", what, title)
	default:
		p.progress("%s: up to date", what)
	}
	return nil
}

// datasource: GET /api/datasources/uid/:uid, then POST /api/datasources
// when missing or PUT /api/datasources/uid/:uid.
func (p pusher) datasource(ds *gapi.DataSource) error {
	what := "datasource " + ds.UID
	_, err := p.c.DataSourceByUID(ds.UID)
	var nf gapi.ErrNotFound
	switch {
	case errors.As(err, &nf):
		if _, err := p.c.NewDataSource(ds); err != nil {
			return p.explain("create "+what, err)
		}
		p.progress("%s: created (%s, %s)", what, ds.Type, ds.URL)
	case err != nil:
		return p.explain("look up "+what, err)
	default:
		if err := p.c.UpdateDataSourceByUID(ds); err != nil {
			return p.explain("update "+what, err)
		}
		p.progress("%s: updated (%s, %s)", what, ds.Type, ds.URL)
	}
	return nil
}

// dashboard: POST /api/dashboards/db with folderUid and overwrite.
func (p pusher) dashboard(b dashboards.Board) error {
	what := fmt.Sprintf("dashboard %s (%q)", b.UID, b.Title())
	model, err := b.Model()
	if err != nil {
		return err
	}
	// No id: Grafana finds the dashboard by uid; an id from another Grafana
	// would be a 404.
	delete(model, "id")
	delete(model, "version")
	res, err := p.c.NewDashboard(gapi.Dashboard{
		Model:     model,
		FolderUID: dashboards.FolderUID,
		Overwrite: true,
		Message:   p.opts.Message,
	})
	if err != nil {
		return p.explain("save "+what, err)
	}
	p.progress("%s: saved, version %d: %s/d/%s", what, res.Version, p.root, b.UID)
	return nil
}

// apiError is an error answer of Grafana's HTTP API.
type apiError struct {
	Code int
	// Message and Status are the body's message and status fields
	// ({"message": "...", "status": "version-mismatch"}).
	Message, Status string
}

// parseAPIError recovers the status code and body from the errors of the
// Grafana API client ("status: 412, body: {...}" and ErrNotFound).
func parseAPIError(err error) (apiError, bool) {
	var body string
	var e apiError
	var nf gapi.ErrNotFound
	if errors.As(err, &nf) {
		e.Code, body = http.StatusNotFound, string(nf.BodyContents)
	} else {
		rest, ok := strings.CutPrefix(err.Error(), "status: ")
		if !ok {
			return e, false
		}
		code, b, ok := strings.Cut(rest, ", body: ")
		n, convErr := strconv.Atoi(code)
		if !ok || convErr != nil {
			return e, false
		}
		e.Code, body = n, b
	}
	var fields struct{ Message, Status string }
	if json.Unmarshal([]byte(body), &fields) == nil {
		e.Message, e.Status = fields.Message, fields.Status
	} else {
		e.Message = strings.TrimSpace(body)
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return e, true
}

// explain turns an API error into one that says what failed, what Grafana
// answered and what to do about it.
func (p pusher) explain(action string, err error) error {
	e, ok := parseAPIError(err)
	if !ok {
		return fmt.Errorf("%s: cannot talk to Grafana at %s: %w", action, p.root, err)
	}
	said := strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
	if e.Message != "" {
		said += ": " + e.Message
	}
	if e.Status != "" {
		said += " (" + e.Status + ")"
	}
	var todo string
	switch {
	case e.Code == http.StatusUnauthorized:
		todo = "the token is missing, wrong, expired or revoked: create a service-account token in Grafana (Administration → Users and access → Service accounts) and give it with --token-file or GRAFANA_TOKEN"
	case e.Code == http.StatusForbidden && strings.Contains(strings.ToLower(e.Message), "read-only"):
		todo = "the datasource is provisioned from a file on the Grafana server: change it there (deploy/grafana/provisioning/datasources/facmon.yaml) or push without --with-datasource"
	case e.Code == http.StatusForbidden:
		todo = "the service account may not do this: give it the Editor role (Admin for --with-datasource), or write permission on folder " + dashboards.FolderUID
	case e.Code == http.StatusNotFound && strings.Contains(strings.ToLower(e.Message), "folder"):
		todo = "folder " + dashboards.FolderUID + " disappeared during the push: run the push again"
	case e.Code == http.StatusNotFound:
		todo = "check that --grafana-url is Grafana's root URL, with its sub-path if it is served under one (https://host/grafana)"
	case e.Code == http.StatusPreconditionFailed && e.Status == "plugin-dashboard":
		todo = "a plugin owns a dashboard with this uid or title: remove it in Grafana, then push again"
	case e.Code == http.StatusPreconditionFailed:
		todo = "another dashboard with the same title exists in folder " + dashboards.FolderUID + " (name-exists) or the dashboard changed meanwhile (version-mismatch): rename or delete the other dashboard in Grafana, then push again"
	case e.Code == http.StatusBadRequest && strings.Contains(strings.ToLower(e.Message), "provisioned"):
		todo = "it is provisioned from files on the Grafana server: update those files (facmon dashboards export) instead of pushing, or remove the provisioning"
	case e.Code == http.StatusConflict:
		todo = "an object with the same name but another uid exists: rename or delete it in Grafana, then push again"
	default:
		todo = "see Grafana's log"
	}
	return fmt.Errorf("%s: Grafana answered %s; %s", action, said, todo)
}
