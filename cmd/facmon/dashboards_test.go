package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDashboardsExport(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCLI("dashboards", "export", "--dir", dir)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "8 dashboards written to "+dir)
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	require.Len(t, files, 8)
	for _, f := range files {
		got, err := os.ReadFile(f)
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join("../../deploy/grafana/dashboards", filepath.Base(f)))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "the repository's copy is what export writes: %s", f)
	}
	code, _, _ = runCLI("dashboards", "export", "--dir", dir, "--lang", "en")
	assert.Equal(t, 0, code)
	overview, _ := os.ReadFile(filepath.Join(dir, "facmon-overview.json"))
	assert.Contains(t, string(overview), "District overview")

	for _, args := range [][]string{
		{"dashboards", "export"},
		{"dashboards", "export", "--dir", dir, "--lang", "fr"},
		{"dashboards", "export", "--dir", dir, "--config", "testdata/bad.yaml"},
		{"dashboards"},
		{"dashboards", "import"},
	} {
		code, _, _ := runCLI(args...)
		assert.Equal(t, 2, code, "%v", args)
	}
	code, out, _ = runCLI("dashboards", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "export")
}

func TestDashboardsPush(t *testing.T) {
	var mu sync.Mutex
	var reqs []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer tok3n" {
			w.WriteHeader(401)
			io.WriteString(w, `{"message":"Unauthorized"}`)
			return
		}
		switch {
		case r.Method == "GET":
			w.WriteHeader(404)
			io.WriteString(w, `{"message":"not found"}`)
		case r.URL.Path == "/api/datasources":
			var ds map[string]any
			require.NoError(t, json.NewDecoder(r.Body).Decode(&ds))
			assert.Equal(t, "http://influx:8086", ds["url"])
			assert.Equal(t, "facmon", ds["database"])
			assert.Equal(t, "grafana", ds["user"])
			io.WriteString(w, `{"id":1,"message":"Datasource added"}`)
		default:
			io.WriteString(w, `{"id":1,"uid":"x","status":"success","version":1}`)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("tok3n\n"), 0o600))
	credFile := filepath.Join(dir, "influx")
	require.NoError(t, os.WriteFile(credFile, []byte("grafana:pw\n"), 0o600))

	code, out, errs := runCLI("dashboards", "push", "--grafana-url", srv.URL, "--token-file", tokenFile,
		"--with-datasource", "--influx-url", "http://influx:8086", "--influx-token-file", credFile)
	require.Equal(t, 0, code, errs)
	assert.Contains(t, out, "8 dashboards pushed")
	assert.Len(t, reqs, 4+8)

	t.Setenv("GRAFANA_TOKEN", "glsa_bad")
	code, _, errs = runCLI("dashboards", "push", "--grafana-url", srv.URL)
	assert.Equal(t, 1, code)
	assert.Contains(t, errs, "401 Unauthorized")
	assert.NotContains(t, errs, "glsa_bad")

	t.Setenv("GRAFANA_TOKEN", "")
	code, _, errs = runCLI("dashboards", "push", "--grafana-url", srv.URL)
	assert.Equal(t, 2, code)
	assert.Contains(t, errs, "GRAFANA_TOKEN")
	code, _, _ = runCLI("dashboards", "push", "--token-file", tokenFile)
	assert.Equal(t, 2, code, "--grafana-url is required")
	code, _, errs = runCLI("dashboards", "push", "--grafana-url", srv.URL, "--token-file", tokenFile, "--influx-url", "x")
	assert.Equal(t, 2, code)
	assert.True(t, strings.Contains(errs, "--with-datasource"), errs)
}
