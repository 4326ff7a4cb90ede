package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/config/yamlcheck"
)

// TestExampleFileStatesEveryDefault compares values; a key left out of the
// file would still load its default and pass. So the file is also walked
// against the types: a key with a default must be written out, and a key
// without one (a secret file, TLS, an optional list) must at least be named
// in a comment of its section, so the file can say it lists every key.
func TestExampleFileNamesEveryKey(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "facmon.example.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	def := Default()
	if def.Alerts.Rules == nil {
		def.Alerts.Rules = rule.Defaults()
	}
	ex := exampleWalker{lines: strings.Split(string(raw), "\n"), root: doc.Content[0]}
	ex.walk(reflect.ValueOf(def), ex.root, "")
	sort.Strings(ex.missing)
	for _, m := range ex.missing {
		t.Errorf("deploy/facmon.example.yaml: %s", m)
	}
}

type exampleWalker struct {
	lines   []string
	root    *yaml.Node
	missing []string
}

func (w *exampleWalker) walk(v reflect.Value, n *yaml.Node, path string) {
	if v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			w.leaf(v, n, path)
			return
		}
		v = v.Elem()
	}
	if yamlcheck.Opaque(v.Type()) {
		w.leaf(v, n, path)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			w.walk(v.Field(i), child(n, name), yamlcheck.Join(path, name))
		}
	case reflect.Map:
		if n == nil {
			w.leaf(v, n, path)
			return
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			key := fmt.Sprint(k.Interface())
			w.walk(v.MapIndex(k), child(n, key), path+"."+key)
		}
	default:
		// Lists are loaded whole, not merged with their default, so
		// the value comparison already covers their entries.
		w.leaf(v, n, path)
	}
}

// leaf wants a key with a default written out, and one without a default
// named in a comment of its top-level section.
func (w *exampleWalker) leaf(v reflect.Value, n *yaml.Node, path string) {
	if n != nil {
		return
	}
	if !v.IsZero() {
		w.missing = append(w.missing, fmt.Sprintf("%s is not written out (its default: %v)", path, yamlText(v)))
		return
	}
	key := path[strings.LastIndexAny(path, ".")+1:]
	from, to := w.sectionLines(strings.SplitN(path, ".", 2)[0])
	named := regexp.MustCompile(`#.*\b` + regexp.QuoteMeta(key) + `:`)
	for _, l := range w.lines[from:to] {
		if named.MatchString(l) {
			return
		}
	}
	w.missing = append(w.missing, fmt.Sprintf("%s (no default) is not named, not even in a comment of its section", path))
}

// sectionLines is the range of lines (0-based, end excluded) from a
// top-level key to the next one, or the whole file for a missing section.
func (w *exampleWalker) sectionLines(section string) (int, int) {
	c := w.root.Content
	for i := 0; i+1 < len(c); i += 2 {
		if c[i].Value != section {
			continue
		}
		end := len(w.lines)
		if i+2 < len(c) {
			end = c[i+2].Line - 1
		}
		return c[i].Line - 1, end
	}
	return 0, len(w.lines)
}

func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func yamlText(v reflect.Value) string {
	b, err := yaml.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return strings.TrimSpace(string(b))
}
