package dashboards_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/dashboards"
	"github.com/facmon/facmon/internal/config"
)

// -update rewrites the golden files under testdata/ and the exported
// dashboards under deploy/grafana/dashboards/ from the generator.
var update = flag.Bool("update", false, "rewrite testdata/ golden files and deploy/grafana/dashboards/")

// deployDir is where the repository keeps the exported (Vietnamese)
// dashboards that Grafana's file provisioning reads.
const deployDir = "../deploy/grafana/dashboards"

// checkDir compares dir's JSON files with the boards, file for file, or
// rewrites them with -update.
func checkDir(t *testing.T, dir string, boards []dashboards.Board, hint string) {
	t.Helper()
	if *update {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		old, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, f := range old {
			require.NoError(t, os.Remove(f))
		}
		_, err := dashboards.Export(dir, boards)
		require.NoError(t, err)
		return
	}
	var want []string
	for _, b := range boards {
		name := dashboards.FileName(b.UID)
		want = append(want, name)
		got, err := b.JSON()
		require.NoError(t, err)
		file, err := os.ReadFile(filepath.Join(dir, name))
		if !assert.NoError(t, err, "%s (%s)", name, hint) {
			continue
		}
		if !bytes.Equal(got, file) {
			t.Errorf("%s differs from the generator: %s\n%s", filepath.Join(dir, name), hint, firstDifference(file, got))
		}
	}
	have, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range have {
		if !slices.Contains(want, filepath.Base(f)) {
			t.Errorf("%s is not generated any more (%s)", f, hint)
		}
	}
}

// firstDifference shows the first line where two files differ.
func firstDifference(old, new []byte) string {
	a, b := strings.Split(string(old), "\n"), strings.Split(string(new), "\n")
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n  file:      " + x + "\n  generator: " + y
		}
	}
	return ""
}

// TestGolden compares every dashboard, in both languages, with its golden
// file under testdata/<lang>/. After an intended change: go test ./dashboards -update.
func TestGolden(t *testing.T) {
	for _, lang := range []dashboards.Lang{dashboards.Vietnamese, dashboards.English} {
		t.Run(string(lang), func(t *testing.T) {
			boards, err := dashboards.All(dashboards.Options{Lang: lang})
			require.NoError(t, err)
			checkDir(t, filepath.Join("testdata", string(lang)), boards, "run go test ./dashboards -update and review the diff")
		})
	}
}

// TestDeployFilesInSync keeps deploy/grafana/dashboards/ equal to what
// `facmon dashboards export --dir deploy/grafana/dashboards` writes.
func TestDeployFilesInSync(t *testing.T) {
	boards, err := dashboards.All(dashboards.Options{})
	require.NoError(t, err)
	checkDir(t, deployDir, boards, "regenerate with: go run ./cmd/facmon dashboards export --dir deploy/grafana/dashboards (or go test ./dashboards -update)")
}

// TestProvisioningFiles checks that Grafana's provisioning files name the
// datasources, folder and directory the dashboards use.
func TestProvisioningFiles(t *testing.T) {
	var ds struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name      string         `yaml:"name"`
			Type      string         `yaml:"type"`
			UID       string         `yaml:"uid"`
			Access    string         `yaml:"access"`
			URL       string         `yaml:"url"`
			IsDefault bool           `yaml:"isDefault"`
			Editable  bool           `yaml:"editable"`
			JSONData  map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "../deploy/grafana/provisioning/datasources/facmon.yaml", &ds)
	assert.Equal(t, 1, ds.APIVersion)
	byUID := map[string]int{}
	for i, d := range ds.Datasources {
		byUID[d.UID] = i
		assert.Equal(t, "proxy", d.Access, d.Name)
		assert.NotEmpty(t, d.URL, d.Name)
	}
	require.Contains(t, byUID, dashboards.InfluxUID)
	influx := ds.Datasources[byUID[dashboards.InfluxUID]]
	assert.Equal(t, dashboards.InfluxDBType, influx.Type)
	assert.Equal(t, "InfluxQL", influx.JSONData["version"], "the dashboards' queries are InfluxQL")
	assert.Equal(t, "facmon", influx.JSONData["dbName"])
	require.Contains(t, byUID, dashboards.PrometheusUID)
	assert.Equal(t, "prometheus", ds.Datasources[byUID[dashboards.PrometheusUID]].Type)

	var prov struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name      string `yaml:"name"`
			Type      string `yaml:"type"`
			Folder    string `yaml:"folder"`
			FolderUID string `yaml:"folderUid"`
			Options   struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, "../deploy/grafana/provisioning/dashboards/facmon.yaml", &prov)
	assert.Equal(t, 1, prov.APIVersion)
	require.Len(t, prov.Providers, 1)
	p := prov.Providers[0]
	assert.Equal(t, "file", p.Type)
	assert.Equal(t, dashboards.FolderUID, p.FolderUID)
	assert.Equal(t, dashboards.FolderTitle(dashboards.Vietnamese), p.Folder)
	assert.NotEmpty(t, p.Options.Path)
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(raw, v), path)
}

// TestEnglishHasNoVietnamese catches text left untranslated: the English
// dashboards hold no Vietnamese letters except in office names.
func TestEnglishHasNoVietnamese(t *testing.T) {
	boards, err := dashboards.All(dashboards.Options{Lang: dashboards.English})
	require.NoError(t, err)
	var names []string
	for _, o := range config.DefaultOffices() {
		names = append(names, o.Name)
	}
	for _, b := range boards {
		raw, err := b.JSON()
		require.NoError(t, err)
		text := string(raw)
		for _, n := range names {
			text = strings.ReplaceAll(text, n, "")
		}
		for i, line := range strings.Split(text, "\n") {
			if strings.IndexFunc(line, func(r rune) bool { return r > unicode.MaxASCII && r != '·' && r != '—' && r != '°' }) >= 0 {
				t.Errorf("%s line %d: %s", b.UID, i+1, strings.TrimSpace(line))
			}
		}
	}
}

// TestStableUIDs: the same UIDs in both languages, so that a push of one
// replaces the other, and every panel id unique within its dashboard.
func TestStableUIDs(t *testing.T) {
	vi, err := dashboards.All(dashboards.Options{Lang: dashboards.Vietnamese})
	require.NoError(t, err)
	en, err := dashboards.All(dashboards.Options{Lang: dashboards.English})
	require.NoError(t, err)
	require.Len(t, en, len(vi))
	want := []string{"facmon-overview", "facmon-ward", "facmon-class-door", "facmon-class-hvac", "facmon-class-server", "facmon-class-camera", "facmon-apps", "facmon-self"}
	var got []string
	for i := range vi {
		got = append(got, vi[i].UID)
		assert.Equal(t, vi[i].UID, en[i].UID)
		assert.Equal(t, vi[i].UID, *vi[i].Dashboard.Uid)
		assert.LessOrEqual(t, len(vi[i].UID), 40, "Grafana's limit")
		assert.NotEqual(t, vi[i].Title(), en[i].Title())
		ids := map[uint32]bool{}
		for _, p := range vi[i].Dashboard.Panels {
			var id uint32
			if p.Panel != nil {
				id = *p.Panel.Id
			} else {
				id = p.RowPanel.Id
			}
			assert.False(t, ids[id], "%s: panel id %d twice", vi[i].UID, id)
			assert.NotZero(t, id)
			ids[id] = true
		}
	}
	assert.Equal(t, want, got)
}
