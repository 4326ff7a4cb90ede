package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/engine"
)

type fake struct {
	from, to time.Time
	acked    []string
}

func (f *fake) Active() []engine.Instance { return nil }
func (f *fake) History(from, to time.Time) ([]engine.HistoryEvent, error) {
	f.from, f.to = from, to
	return nil, nil
}
func (f *fake) Ack(id, by, comment string) (engine.Instance, error) {
	if id != "a1" {
		return engine.Instance{}, engine.ErrNotFiring
	}
	f.acked = append(f.acked, by)
	return engine.Instance{ID: id, Acked: true, AckBy: by}, nil
}

func serve(t *testing.T, token string) (*fake, *httptest.Server) {
	f := &fake{}
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
