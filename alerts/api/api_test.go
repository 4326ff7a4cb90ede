package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/engine/store"

	"github.com/facmon/facmon/alerts/view"

	"github.com/facmon/facmon/alerts/engine/lifecycle"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/engine"
)

type fake struct {
	from, to time.Time
	acked    []string
	unacked  []string
	alerts   []view.Alert
}

func (f *fake) Alerts(q view.Query) (view.Page, error) { return view.PageOf(f.alerts, q) }
func (f *fake) History(from, to time.Time) ([]store.HistoryEvent, error) {
	f.from, f.to = from, to
	return nil, nil
}
func (f *fake) Ack(id, by, comment string) (view.Alert, error) {
	if id != "a1" {
		return view.Alert{}, engine.ErrNotFiring
	}
	f.acked = append(f.acked, by)
	return view.Alert{ID: id, Acked: true, AckBy: by}, nil
}

func (f *fake) Unack(id, by string) (view.Alert, error) {
	switch id {
	case "a1":
		f.unacked = append(f.unacked, by)
		return view.Alert{ID: id}, nil
	case "a2":
		return view.Alert{}, engine.ErrNotAcked
	}
	return view.Alert{}, engine.ErrNotFiring
}

func serve(t *testing.T, token string, alerts ...view.Alert) (*fake, *httptest.Server) {
	f := &fake{alerts: alerts}
	mux := http.NewServeMux()
	New(f, token).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func do(t *testing.T, method, url, token, body string) (int, map[string]any) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestActiveIsAnEmptyListNotNull(t *testing.T) {
	_, srv := serve(t, "tok")
	code, out := do(t, "GET", srv.URL+"/api/alerts", "", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, []any{}, out["alerts"])
}

func TestHistoryRange(t *testing.T) {
	f, srv := serve(t, "tok")
	code, _ := do(t, "GET", srv.URL+"/api/alerts/history?from=2026-11-01&to=2026-11-28T09:00:00%2B07:00", "", "")
	require.Equal(t, 200, code)
	assert.Equal(t, "2026-11-28T02:00:00Z", f.to.UTC().Format(time.RFC3339))
	for _, q := range []string{"from=yesterday", "to=soon", "from=2026-11-28&to=2026-11-01"} {
		code, out := do(t, "GET", srv.URL+"/api/alerts/history?"+q, "", "")
		assert.Equal(t, 400, code, q)
		assert.NotEmpty(t, out["error"], q)
	}
}

func TestAckNeedsTokenAndName(t *testing.T) {
	f, srv := serve(t, "tok")
	url := srv.URL + "/api/alerts/a1/ack"
	code, _ := do(t, "POST", url, "", `{"by":"An"}`)
	assert.Equal(t, 401, code)
	code, _ = do(t, "POST", url, "tokX", `{"by":"An"}`)
	assert.Equal(t, 401, code)
	code, _ = do(t, "POST", url, "tok", `{"comment":"no name"}`)
	assert.Equal(t, 400, code)
	code, _ = do(t, "POST", url, "tok", `not json`)
	assert.Equal(t, 400, code)
	code, _ = do(t, "POST", srv.URL+"/api/alerts/zz/ack", "tok", `{"by":"An"}`)
	assert.Equal(t, 404, code)
	code, out := do(t, "POST", url, "tok", `{"by":"An","comment":"đang xử lý"}`)
	assert.Equal(t, 200, code)
	assert.Equal(t, true, out["acked"])
	assert.Equal(t, []string{"An"}, f.acked)

	// Without a configured token acknowledging is refused, never open.
	_, open := serve(t, "")
	code, _ = do(t, "POST", open.URL+"/api/alerts/a1/ack", "", `{"by":"An"}`)
	assert.Equal(t, 401, code)
}

// RFC 7235: the auth scheme is case-insensitive, and one or more spaces
// may separate it from the token.
func TestBearerSchemeInAnyCase(t *testing.T) {
	_, srv := serve(t, "tok")
	cases := []struct {
		header string
		want   int
	}{
		{"Bearer tok", 200},
		{"bearer tok", 200},
		{"BEARER tok", 200},
		{"bEaReR   tok", 200},
		{"Basic tok", 401},
		{"Bearertok", 401},
		{"Bearer", 401},
		{"tok", 401},
		{"Bearer TOK", 401},
	}
	for _, c := range cases {
		req, err := http.NewRequest("POST", srv.URL+"/api/alerts/a1/ack", strings.NewReader(`{"by":"An"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", c.header)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, c.want, resp.StatusCode, "Authorization: %s", c.header)
	}
}

// A body too large is 413 with the limit, not a "want JSON" 400.
func TestAckBodyTooLarge(t *testing.T) {
	_, srv := serve(t, "tok")
	body := `{"by":"An","comment":"` + strings.Repeat("x", 20<<10) + `"}`
	code, out := do(t, "POST", srv.URL+"/api/alerts/a1/ack", "tok", body)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Equal(t, "request body too large: at most 16384 bytes", out["error"])
}

func fleetAlerts(n int) []view.Alert {
	out := make([]view.Alert, n)
	for i := range out {
		sev, rule := "warning", "DeviceOffline"
		if i%10 == 0 {
			sev, rule = "critical", "ACRoomTooHot"
		}
		out[i] = view.Alert{ID: fmt.Sprintf("a%05d", i), Rule: rule, Severity: sev, Ward: fmt.Sprintf("ward-%d", i%13),
			Class: "camera", Device: fmt.Sprintf("camera-%d", i), State: lifecycle.StateFiring, FiringSince: time.Now(),
			SummaryVI: "Thiết bị mất kết nối", SummaryEN: "Device offline"}
		if i%7 == 0 {
			out[i].State = lifecycle.StatePending
		}
	}
	return out
}

func getPage(t *testing.T, url string) (int, AlertsPage, int) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var p AlertsPage
	if resp.StatusCode == 200 {
		require.NoError(t, json.Unmarshal(b, &p))
	}
	return resp.StatusCode, p, len(b)
}

// Walking the pages with the cursor returns every alert once; the
// filters narrow it; a page stays small however many alerts fire.
func TestAlertsPages(t *testing.T) {
	all := fleetAlerts(50_000)
	_, srv := serve(t, "tok", all...)

	code, p, size := getPage(t, srv.URL+"/api/alerts")
	require.Equal(t, 200, code)
	assert.Len(t, p.Alerts, DefaultLimit, "a default limit")
	assert.Equal(t, 50_000, p.Total)
	assert.NotEmpty(t, p.NextCursor)
	assert.Equal(t, "critical", p.Alerts[0].Severity, "most severe first")
	assert.Less(t, size, 100<<10, "the default page of 50,000 alerts")
	t.Logf("default page of 50,000 alerts: %d bytes", size)

	seen := map[string]int{}
	url := srv.URL + "/api/alerts?limit=1000&ward=ward-4"
	pages := 0
	for {
		code, p, size := getPage(t, url)
		require.Equal(t, 200, code)
		assert.Less(t, size, 1<<20, "a page of 1,000")
		pages++
		for _, a := range p.Alerts {
			assert.Equal(t, "ward-4", a.Ward)
			seen[a.ID]++
		}
		if p.NextCursor == "" {
			break
		}
		url = srv.URL + "/api/alerts?limit=1000&ward=ward-4&cursor=" + p.NextCursor
	}
	want := 0
	for _, a := range all {
		if a.Ward == "ward-4" {
			want++
			assert.Equal(t, 1, seen[a.ID], a.ID)
		}
	}
	assert.Len(t, seen, want)
	assert.Equal(t, (want+999)/1000, pages)

	for _, c := range []struct {
		query string
		keep  func(view.Alert) bool
	}{
		{"rule=ACRoomTooHot", func(a view.Alert) bool { return a.Rule == "ACRoomTooHot" }},
		{"state=pending", func(a view.Alert) bool { return a.State == lifecycle.StatePending }},
		{"state=firing&rule=DeviceOffline&ward=ward-0", func(a view.Alert) bool {
			return a.State == lifecycle.StateFiring && a.Rule == "DeviceOffline" && a.Ward == "ward-0"
		}},
	} {
		code, p, _ := getPage(t, srv.URL+"/api/alerts?limit=1&"+c.query)
		require.Equal(t, 200, code, c.query)
		n := 0
		for _, a := range all {
			if c.keep(a) {
				n++
			}
		}
		assert.Equal(t, n, p.Total, c.query)
		require.Len(t, p.Alerts, 1, c.query)
		assert.True(t, c.keep(p.Alerts[0]), c.query)
	}

	for _, q := range []string{"limit=0", "limit=1001", "limit=ten", "state=inactive", "state=resolved", "cursor=garbage!"} {
		code, out := do(t, "GET", srv.URL+"/api/alerts?"+q, "", "")
		assert.Equal(t, 400, code, q)
		assert.NotEmpty(t, out["error"], q)
	}
}

func TestUnack(t *testing.T) {
	f, srv := serve(t, "tok")
	code, _ := do(t, "DELETE", srv.URL+"/api/alerts/a1/ack?by=lan", "", "")
	assert.Equal(t, 401, code, "withdrawing an ack needs the token too")
	code, out := do(t, "DELETE", srv.URL+"/api/alerts/a1/ack?by=lan", "tok", "")
	assert.Equal(t, 200, code, out)
	assert.Equal(t, []string{"lan"}, f.unacked)
	code, out = do(t, "DELETE", srv.URL+"/api/alerts/a2/ack", "tok", "")
	assert.Equal(t, 409, code, "an alert nobody acknowledged")
	assert.Contains(t, out["error"], "not acknowledged")
	code, _ = do(t, "DELETE", srv.URL+"/api/alerts/zz/ack", "tok", "")
	assert.Equal(t, 404, code)
}
