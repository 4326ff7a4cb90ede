package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/engine/store"

	"github.com/facmon/facmon/alerts/view"

	"github.com/facmon/facmon/alerts/engine/lifecycle"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/api"
	"github.com/facmon/facmon/alerts/engine"
)

type fakeEngine struct {
	active []view.Alert
	acks   []string
}

func (f *fakeEngine) Alerts(q view.Query) (view.Page, error) { return view.PageOf(f.active, q) }
func (f *fakeEngine) History(from, to time.Time) ([]store.HistoryEvent, error) {
	return []store.HistoryEvent{{Time: from.Add(time.Hour), ID: "a1", Rule: "DoorStuckOpen", Ward: "thanh-binh", Device: "door-1", State: "firing", SummaryVI: "Cửa mở"}}, nil
}
func (f *fakeEngine) Ack(id, by, comment string) (view.Alert, error) {
	for i := range f.active {
		if f.active[i].ID == id {
			f.acks = append(f.acks, by+": "+comment)
			f.active[i].Acked, f.active[i].AckBy = true, by
			return f.active[i], nil
		}
	}
	return view.Alert{}, engine.ErrNotFiring
}

func (f *fakeEngine) Unack(id, by string) (view.Alert, error) {
	for i := range f.active {
		if f.active[i].ID == id {
			if !f.active[i].Acked {
				return view.Alert{}, engine.ErrNotAcked
			}
			f.acks = append(f.acks, "unack by "+by)
			f.active[i].Acked, f.active[i].AckBy, f.active[i].SilenceID = false, "", ""
			return f.active[i], nil
		}
	}
	return view.Alert{}, engine.ErrNotFiring
}

func TestAlertsCommand(t *testing.T) {
	eng := &fakeEngine{active: []view.Alert{{ID: "a1", Rule: "DoorStuckOpen", Severity: "warning", Ward: "thanh-binh", Device: "door-1", State: lifecycle.StateFiring, FiringSince: time.Now(), SummaryVI: "Cửa tự động door-1 mở"}}}
	mux := http.NewServeMux()
	api.New(eng, "s3cret").Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(token, []byte("s3cret\n"), 0o600))

	code, out, errs := runCLI("alerts", "list", "--url", srv.URL)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "a1")
	assert.Contains(t, out, "Cửa tự động door-1 mở")

	code, out, errs = runCLI("alerts", "history", "--url", srv.URL, "--from", "2026-11-01", "--to", "2026-11-28")
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "DoorStuckOpen")

	code, _, errs = runCLI("alerts", "ack", "a1", "--url", srv.URL, "--by", "An")
	assert.Equal(t, 2, code, "no token: usage error")
	assert.Contains(t, errs, "needs the API token")

	bad := filepath.Join(t.TempDir(), "bad")
	require.NoError(t, os.WriteFile(bad, []byte("nope"), 0o600))
	code, _, errs = runCLI("alerts", "ack", "a1", "--url", srv.URL, "--by", "An", "--token-file", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "401")

	code, out, errs = runCLI("alerts", "ack", "a1", "--url", srv.URL, "--by", "Lê Văn Bình", "--comment", "đang xử lý", "--token-file", token)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "acknowledged a1")
	assert.Equal(t, []string{"Lê Văn Bình: đang xử lý"}, eng.acks)

	code, _, errs = runCLI("alerts", "ack", "zzz", "--url", srv.URL, "--by", "An", "--token-file", token)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "404")

	eng.active[0].SilenceID = "7d9f-silence"
	code, out, errs = runCLI("alerts", "list", "--url", srv.URL)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "Lê Văn Bình [silence 7d9f-silence]", "the list shows who acknowledged and the silence")

	code, out, errs = runCLI("alerts", "unack", "a1", "--url", srv.URL, "--by", "An", "--token-file", token)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "acknowledgement withdrawn: a1")
	assert.Equal(t, "unack by An", eng.acks[len(eng.acks)-1])
	code, _, errs = runCLI("alerts", "unack", "a1", "--url", srv.URL, "--by", "An", "--token-file", token)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "409", "withdrawing twice")

	code, out, _ = runCLI("alerts", "rules")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "WardUnreachable")
	assert.Contains(t, out, "DoorStuckOpen")
}

// list walks every page: 2,500 alerts come in three.
func TestAlertsListWalksThePages(t *testing.T) {
	eng := &fakeEngine{}
	for i := range 2500 {
		ward := "thanh-binh"
		if i%2 == 1 {
			ward = "nam-duong"
		}
		eng.active = append(eng.active, view.Alert{ID: fmt.Sprintf("a%04d", i), Rule: "DeviceOffline", Severity: "warning", Ward: ward,
			Class: "camera", Device: fmt.Sprintf("camera-%04d", i), State: lifecycle.StateFiring, FiringSince: time.Now()})
	}
	var queries []string
	mux := http.NewServeMux()
	api.New(eng, "").Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	code, out, errs := runCLI("alerts", "list", "--url", srv.URL, "--json")
	require.Equal(t, 0, code, errs)
	var got struct{ Alerts []view.Alert }
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	ids := map[string]bool{}
	for _, a := range got.Alerts {
		ids[a.ID] = true
	}
	assert.Len(t, got.Alerts, 2500)
	assert.Len(t, ids, 2500, "each once")
	assert.Len(t, queries, 3)

	queries = nil
	code, out, errs = runCLI("alerts", "list", "--url", srv.URL, "--ward", "nam-duong", "--state", "firing")
	require.Equal(t, 0, code, errs)
	assert.Equal(t, 1+1250, strings.Count(out, "\n"), "a header and the ward's alerts")
	assert.NotContains(t, out, "thanh-binh")
	assert.Contains(t, queries[0], "ward=nam-duong")
}
