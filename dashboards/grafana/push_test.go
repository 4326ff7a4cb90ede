package grafana_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/dashboards"
	"github.com/facmon/facmon/dashboards/grafana"
)

// fakeGrafana answers the part of Grafana's HTTP API that Push uses, the
// way Grafana 11 documents and answers it: folders by uid (GET/POST/PUT
// /api/folders), datasources by uid (GET/PUT /api/datasources/uid/:uid, POST
// /api/datasources) and POST /api/dashboards/db, with a service-account
// token as Authorization: Bearer. It keeps state, so a second push is an
// update, and checks each request; a wrong one fails the test.
type fakeGrafana struct {
	t     *testing.T
	token string

	mu          sync.Mutex
	requests    []string // "METHOD /path"
	folders     map[string]map[string]any
	datasources map[string]map[string]any
	dashboards  map[string]savedDashboard
	nextID      int
	// fail answers a request with an error instead: key "METHOD /path" or
	// "POST /api/dashboards/db <uid>".
	fail map[string]failure
}

type savedDashboard struct {
	model     map[string]any
	folderUID string
	version   int
	message   string
}

type failure struct {
	code int
	body string
}

func newFakeGrafana(t *testing.T, token string) (*fakeGrafana, *httptest.Server) {
	g := &fakeGrafana{t: t, token: token, folders: map[string]map[string]any{},
		datasources: map[string]map[string]any{}, dashboards: map[string]savedDashboard{}, fail: map[string]failure{}}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *fakeGrafana) reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	require.NoError(g.t, json.NewEncoder(w).Encode(body))
}

func (g *fakeGrafana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	g.requests = append(g.requests, key)

	if r.Header.Get("Authorization") != "Bearer "+g.token {
		g.reply(w, 401, map[string]any{"extra": nil, "message": "Unauthorized", "messageId": "auth.unauthorized", "statusCode": 401, "traceID": ""})
		return
	}
	var body map[string]any
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		assert.Equal(g.t, "application/json", r.Header.Get("Content-Type"), key)
		raw, err := io.ReadAll(r.Body)
		require.NoError(g.t, err)
		if err := json.Unmarshal(raw, &body); err != nil {
			g.reply(w, 400, map[string]any{"message": "bad request data"})
			return
		}
	}
	if f, ok := g.fail[key]; ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.code)
		fmt.Fprint(w, f.body)
		return
	}

	const folders, datasources = "/api/folders", "/api/datasources"
	path := r.URL.Path
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(path, folders+"/"):
		f, ok := g.folders[strings.TrimPrefix(path, folders+"/")]
		if !ok {
			g.reply(w, 404, map[string]any{"message": "folder not found", "status": "not-found"})
			return
		}
		g.reply(w, 200, f)

	case r.Method == http.MethodPost && path == folders:
		uid, _ := body["uid"].(string)
		title, _ := body["title"].(string)
		assert.Equal(g.t, dashboards.FolderUID, uid, "POST /api/folders: uid")
		if title == "" {
			g.reply(w, 400, map[string]any{"message": "folder title cannot be empty"})
			return
		}
		if _, ok := g.folders[uid]; ok {
			g.reply(w, 409, map[string]any{"message": "a folder with the same uid already exists"})
			return
		}
		g.nextID++
		g.folders[uid] = map[string]any{"id": g.nextID, "uid": uid, "title": title, "url": "/dashboards/f/" + uid + "/", "version": 1,
			"hasAcl": false, "canSave": true, "canEdit": true, "canAdmin": true}
		g.reply(w, 200, g.folders[uid])

	case r.Method == http.MethodPut && strings.HasPrefix(path, folders+"/"):
		uid := strings.TrimPrefix(path, folders+"/")
		f, ok := g.folders[uid]
		if !ok {
			g.reply(w, 404, map[string]any{"message": "folder not found", "status": "not-found"})
			return
		}
		if newUID, ok := body["uid"]; ok && newUID != uid {
			g.reply(w, 400, map[string]any{"message": "folder UID cannot be changed"})
			return
		}
		if body["overwrite"] != true && body["version"] != f["version"] {
			g.reply(w, 412, map[string]any{"message": "the folder has been changed by someone else", "status": "version-mismatch"})
			return
		}
		f["title"] = body["title"]
		f["version"] = f["version"].(int) + 1
		g.reply(w, 200, f)

	case r.Method == http.MethodGet && strings.HasPrefix(path, datasources+"/uid/"):
		ds, ok := g.datasources[strings.TrimPrefix(path, datasources+"/uid/")]
		if !ok {
			g.reply(w, 404, map[string]any{"message": "Data source not found"})
			return
		}
		g.reply(w, 200, ds)

	case r.Method == http.MethodPost && path == datasources:
		for _, f := range []string{"name", "type", "access", "url", "uid"} {
			if s, _ := body[f].(string); s == "" {
				g.reply(w, 400, map[string]any{"message": "field " + f + " is required"})
				return
			}
		}
		for _, ds := range g.datasources {
			if ds["name"] == body["name"] {
				g.reply(w, 409, map[string]any{"message": "data source with the same name already exists"})
				return
			}
		}
		g.nextID++
		body["id"] = g.nextID
		body["version"] = 1
		g.datasources[body["uid"].(string)] = body
		g.reply(w, 200, map[string]any{"datasource": body, "id": g.nextID, "message": "Datasource added", "name": body["name"]})

	case r.Method == http.MethodPut && strings.HasPrefix(path, datasources+"/uid/"):
		uid := strings.TrimPrefix(path, datasources+"/uid/")
		old, ok := g.datasources[uid]
		if !ok {
			g.reply(w, 404, map[string]any{"message": "Data source not found"})
			return
		}
		assert.Equal(g.t, uid, body["uid"], key)
		body["id"] = old["id"]
		body["version"] = old["version"].(int) + 1
		g.datasources[uid] = body
		g.reply(w, 200, map[string]any{"datasource": body, "id": old["id"], "message": "Datasource updated", "name": body["name"]})

	case r.Method == http.MethodPost && path == "/api/dashboards/db":
		g.saveDashboard(w, body)

	default:
		g.reply(w, 404, map[string]any{"message": "Not found"})
	}
}

// saveDashboard is POST /api/dashboards/db: {dashboard, folderUid,
// overwrite, message}.
func (g *fakeGrafana) saveDashboard(w http.ResponseWriter, body map[string]any) {
	model, ok := body["dashboard"].(map[string]any)
	if !ok {
		g.reply(w, 400, map[string]any{"message": "bad request data"})
		return
	}
	uid, _ := model["uid"].(string)
	title, _ := model["title"].(string)
	assert.NotEmpty(g.t, uid, "dashboard.uid")
	assert.LessOrEqual(g.t, len(uid), 40, "dashboard.uid")
	assert.NotEmpty(g.t, title, "dashboard.title")
	assert.Nil(g.t, model["id"], "%s: no id, Grafana finds it by uid", uid)
	assert.NotNil(g.t, model["panels"], uid)
	assert.Equal(g.t, true, body["overwrite"], "%s: overwrite", uid)
	assert.NotEmpty(g.t, body["message"], "%s: message", uid)
	folderUID, _ := body["folderUid"].(string)
	assert.Equal(g.t, dashboards.FolderUID, folderUID, "%s: folderUid", uid)
	if f, ok := g.fail["POST /api/dashboards/db "+uid]; ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.code)
		fmt.Fprint(w, f.body)
		return
	}
	if _, ok := g.folders[folderUID]; !ok {
		g.reply(w, 404, map[string]any{"message": "folder not found", "status": "not-found"})
		return
	}
	old, exists := g.dashboards[uid]
	if exists && body["overwrite"] != true && model["version"] != float64(old.version) {
		g.reply(w, 412, map[string]any{"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
		return
	}
	g.nextID++
	saved := savedDashboard{model: model, folderUID: folderUID, version: old.version + 1, message: body["message"].(string)}
	g.dashboards[uid] = saved
	g.reply(w, 200, map[string]any{"id": g.nextID, "uid": uid, "url": "/d/" + uid + "/x", "status": "success", "version": saved.version, "slug": "x"})
}

func (g *fakeGrafana) takeRequests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.requests
	g.requests = nil
	return r
}

const testToken = "glsa_s3cr3t-t0ken_0123456789"

func TestPushCreatesThenUpdates(t *testing.T) {
	g, srv := newFakeGrafana(t, testToken)
	vi, err := dashboards.All(dashboards.Options{})
	require.NoError(t, err)
	var progress bytes.Buffer
	opts := grafana.PushOptions{
		URL: srv.URL, Token: testToken, Message: "facmon v1.2",
		Influx:     &grafana.InfluxDatasource{URL: "http://influxdb:8086", Database: "facmon", Token: "influx-token"},
		Prometheus: &grafana.PrometheusDatasource{URL: "http://prometheus:9090"},
		Progress:   &progress,
	}
	require.NoError(t, grafana.Push(vi, opts))

	want := []string{
		"GET /api/folders/facmon", "POST /api/folders",
		"GET /api/datasources/uid/facmon-influxdb", "POST /api/datasources",
		"GET /api/datasources/uid/facmon-prometheus", "POST /api/datasources",
	}
	for range vi {
		want = append(want, "POST /api/dashboards/db")
	}
	assert.Equal(t, want, g.takeRequests())
	require.Len(t, g.dashboards, len(vi))
	for _, b := range vi {
		d := g.dashboards[b.UID]
		assert.Equal(t, 1, d.version, b.UID)
		assert.Equal(t, "facmon v1.2", d.message)
		assert.Equal(t, b.Title(), d.model["title"])
	}
	assert.Equal(t, dashboards.FolderTitle(dashboards.Vietnamese), g.folders["facmon"]["title"])
	influx := g.datasources[dashboards.InfluxUID]
	assert.Equal(t, "influxdb", influx["type"])
	assert.Equal(t, "http://influxdb:8086", influx["url"])
	assert.Equal(t, "proxy", influx["access"])
	assert.Equal(t, map[string]any{"version": "InfluxQL", "dbName": "facmon", "httpMode": "GET", "timeInterval": "10s", "httpHeaderName1": "Authorization"}, influx["jsonData"])
	assert.Equal(t, map[string]any{"httpHeaderValue1": "Token influx-token"}, influx["secureJsonData"])
	assert.Equal(t, "prometheus", g.datasources[dashboards.PrometheusUID]["type"])
	assert.Contains(t, progress.String(), "folder facmon: created")
	assert.Contains(t, progress.String(), srv.URL+"/d/facmon-overview")
	assert.NotContains(t, progress.String(), testToken)
	assert.NotContains(t, progress.String(), "influx-token")

	// The English build: same UIDs, so the folder is renamed and every
	// dashboard replaced, nothing added.
	en, err := dashboards.All(dashboards.Options{Lang: dashboards.English})
	require.NoError(t, err)
	opts.Lang = dashboards.English
	require.NoError(t, grafana.Push(en, opts))
	want = []string{
		"GET /api/folders/facmon", "PUT /api/folders/facmon",
		"GET /api/datasources/uid/facmon-influxdb", "PUT /api/datasources/uid/facmon-influxdb",
		"GET /api/datasources/uid/facmon-prometheus", "PUT /api/datasources/uid/facmon-prometheus",
	}
	for range en {
		want = append(want, "POST /api/dashboards/db")
	}
	assert.Equal(t, want, g.takeRequests())
	require.Len(t, g.dashboards, len(en))
	assert.Equal(t, 2, g.dashboards[dashboards.OverviewUID].version)
	assert.Equal(t, en[0].Title(), g.dashboards[dashboards.OverviewUID].model["title"])
	assert.Equal(t, dashboards.FolderTitle(dashboards.English), g.folders["facmon"]["title"])
	assert.Len(t, g.folders, 1)
	assert.Len(t, g.datasources, 2)

	// Once more, without datasources: the folder is left alone.
	opts.Influx, opts.Prometheus = nil, nil
	require.NoError(t, grafana.Push(en, opts))
	reqs := g.takeRequests()
	assert.Equal(t, "GET /api/folders/facmon", reqs[0])
	assert.Len(t, reqs, 1+len(en))
	assert.Equal(t, 3, g.dashboards[dashboards.WardUID].version)
}

func TestPushUnderSubPath(t *testing.T) {
	g, _ := newFakeGrafana(t, testToken)
	mux := http.NewServeMux()
	mux.Handle("/grafana/", http.StripPrefix("/grafana", g))
	sub := httptest.NewServer(mux)
	defer sub.Close()
	boards, err := dashboards.All(dashboards.Options{})
	require.NoError(t, err)
	require.NoError(t, grafana.Push(boards[:1], grafana.PushOptions{URL: sub.URL + "/grafana/", Token: testToken}))
	assert.Equal(t, []string{"GET /api/folders/facmon", "POST /api/folders", "POST /api/dashboards/db"}, g.takeRequests())
}

// TestPushErrors: each error Grafana answers is explained with what failed
// and what to do, the push stops there, and the token is in no message.
func TestPushErrors(t *testing.T) {
	boards, err := dashboards.All(dashboards.Options{})
	require.NoError(t, err)
	cases := []struct {
		name      string
		token     string // default testToken
		path      string // appended to the server URL
		fail      map[string]failure
		influx    bool
		want      []string
		lastCall  string // the request after which the push stopped
		dashboard int    // dashboards saved before the error
		noFolder  bool   // the folder does not exist yet
		readOnly  bool   // the InfluxDB datasource exists, provisioned
	}{
		{
			name: "401 bad token", token: "glsa_wrong", noFolder: true,
			want:     []string{"look up folder facmon", "401 Unauthorized", "--token-file or GRAFANA_TOKEN"},
			lastCall: "GET /api/folders/facmon",
		},
		{
			name: "403 viewer cannot create the folder", noFolder: true,
			fail:     map[string]failure{"POST /api/folders": {403, `{"message":"Access denied to save folder","status":"access-denied"}`}},
			want:     []string{"create folder facmon", "403 Forbidden", "Access denied to save folder", "Editor role"},
			lastCall: "POST /api/folders",
		},
		{
			name:     "403 on one dashboard",
			fail:     map[string]failure{"POST /api/dashboards/db facmon-apps": {403, `{"message":"Access denied to save dashboard","status":"access-denied"}`}},
			want:     []string{`save dashboard facmon-apps ("facmon · Ứng dụng dịch vụ công")`, "403 Forbidden", "Editor role"},
			lastCall: "POST /api/dashboards/db", dashboard: 6,
		},
		{
			name: "403 read-only datasource", influx: true, readOnly: true,
			fail:     map[string]failure{"PUT /api/datasources/uid/facmon-influxdb": {403, `{"message":"Cannot update read-only data source"}`}},
			want:     []string{"update datasource facmon-influxdb", "403 Forbidden", "provisioned", "without --with-datasource"},
			lastCall: "PUT /api/datasources/uid/facmon-influxdb",
		},
		{
			name: "404 not Grafana's root URL", path: "/nothing-here", noFolder: true,
			// The 404 of the lookup reads as "no such folder"; creating it
			// gets a 404 too.
			want:     []string{"create folder facmon", "404 Not Found", "--grafana-url is Grafana's root URL"},
			lastCall: "POST /nothing-here/api/folders",
		},
		{
			name:     "404 folder deleted during the push",
			fail:     map[string]failure{"POST /api/dashboards/db facmon-ward": {404, `{"message":"folder not found","status":"not-found"}`}},
			want:     []string{`save dashboard facmon-ward ("facmon · Chi tiết phường")`, "404 Not Found", "folder not found", "run the push again"},
			lastCall: "POST /api/dashboards/db", dashboard: 1,
		},
		{
			name:     "412 same title in the folder",
			fail:     map[string]failure{"POST /api/dashboards/db facmon-class-hvac": {412, `{"message":"A dashboard with the same name in the folder already exists","status":"name-exists"}`}},
			want:     []string{"save dashboard facmon-class-hvac", "412 Precondition Failed", "(name-exists)", "rename or delete the other dashboard"},
			lastCall: "POST /api/dashboards/db", dashboard: 3,
		},
		{
			name:     "412 plugin dashboard",
			fail:     map[string]failure{"POST /api/dashboards/db facmon-self": {412, `{"message":"The dashboard belongs to plugin Foo.","status":"plugin-dashboard"}`}},
			want:     []string{"save dashboard facmon-self", "412 Precondition Failed", "plugin"},
			lastCall: "POST /api/dashboards/db", dashboard: 7,
		},
		{
			name:     "400 provisioned dashboard",
			fail:     map[string]failure{"POST /api/dashboards/db facmon-overview": {400, `{"message":"Cannot save provisioned dashboard"}`}},
			want:     []string{"save dashboard facmon-overview", "400 Bad Request", "provisioned from files", "facmon dashboards export"},
			lastCall: "POST /api/dashboards/db",
		},
		{
			name: "409 datasource name taken", influx: true, noFolder: true,
			fail:     map[string]failure{"POST /api/datasources": {409, `{"message":"data source with the same name already exists"}`}},
			want:     []string{"create datasource facmon-influxdb", "409 Conflict", "rename or delete it"},
			lastCall: "POST /api/datasources",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, srv := newFakeGrafana(t, testToken)
			if c.readOnly {
				g.datasources[dashboards.InfluxUID] = map[string]any{"uid": dashboards.InfluxUID, "name": "facmon InfluxDB", "readOnly": true, "id": 1, "version": 1}
			}
			if !c.noFolder {
				g.folders["facmon"] = map[string]any{"id": 1, "uid": "facmon", "title": dashboards.FolderTitle(dashboards.Vietnamese), "version": 1}
			}
			for k, v := range c.fail {
				g.fail[k] = v
			}
			token := testToken
			if c.token != "" {
				token = c.token
			}
			opts := grafana.PushOptions{URL: srv.URL + c.path, Token: token}
			if c.influx {
				opts.Influx = &grafana.InfluxDatasource{URL: "http://influxdb:8086", Database: "facmon", User: "grafana", Password: "pa55word"}
			}
			err := grafana.Push(boards, opts)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), token)
			assert.NotContains(t, err.Error(), "pa55word")
			reqs := g.takeRequests()
			assert.Equal(t, c.lastCall, reqs[len(reqs)-1], "the push stops at the error")
			assert.Len(t, g.dashboards, c.dashboard, "dashboards saved before the error")
		})
	}
}

func TestPushNeedsToken(t *testing.T) {
	err := grafana.Push(nil, grafana.PushOptions{URL: "http://127.0.0.1:1"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "token")
}

func TestPushRefusesToLogSecrets(t *testing.T) {
	t.Setenv("GF_LOG", "1")
	err := grafana.Push(nil, grafana.PushOptions{URL: "http://127.0.0.1:1", Token: testToken,
		Influx: &grafana.InfluxDatasource{URL: "http://influxdb:8086", Database: "facmon", Token: "influx-token"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unset GF_LOG")
}

func TestPushUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	err := grafana.Push(nil, grafana.PushOptions{URL: url, Token: testToken})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot talk to Grafana at "+url)
	assert.NotContains(t, err.Error(), testToken)
}
