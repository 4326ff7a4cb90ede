package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/facmon/facmon/internal/config/credentials"
	"github.com/facmon/facmon/internal/config/yamlcheck"
	"gopkg.in/yaml.v3"
)

// Load reads a configuration file over the defaults, applies the
// command-line overrides and validates the result. Every problem found is
// returned together as yamlcheck.Problems. An empty path means defaults only.
func Load(path string, o Overrides) (Config, error) {
	if path == "" {
		return Parse("", nil, o)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data, o)
}

// Parse is Load on bytes already read; name is used in messages.
func Parse(name string, data []byte, o Overrides) (Config, error) {
	cfg := Default()
	lines := map[string]int{}
	var problems yamlcheck.Problems

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return finish(name, cfg, lines, o)
		}
		return Config{}, yamlcheck.Problems{{File: name, Line: yamlcheck.ErrorLine(err), Msg: "not valid YAML: " + yamlcheck.CleanError(err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Config{}, yamlcheck.Problems{{File: name, Line: extra.Line, Msg: "more than one YAML document; facmon reads one"}}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return finish(name, cfg, lines, o)
	}
	problems = yamlcheck.Check(doc, reflect.TypeOf(cfg), lines)
	for i := range problems {
		problems[i].File = name
	}
	if len(problems) > 0 {
		return Config{}, append(problems, checkRest(name, doc, problems, lines, o)...).Sorted()
	}
	if err := doc.Decode(&cfg); err != nil {
		return Config{}, yamlcheck.Problems{{File: name, Line: yamlcheck.ErrorLine(err), Msg: yamlcheck.CleanError(err)}}
	}
	if ps := cfg.loadIncludes(name); len(ps) > 0 {
		for i := range ps {
			if ps[i].File == "" {
				ps[i].File = name
				ps[i].Line = yamlcheck.LineOf(lines, ps[i].Path)
			}
		}
		return Config{}, ps
	}
	return finish(name, cfg, lines, o)
}

// checkRest validates what the file says apart from the values that could
// not be read, so one run of `config check` lists a semantic problem (a
// field not in its class profile) together with a misspelled key or a bad
// duration instead of hiding it until those are fixed. A problem under a
// removed value is left out: it would be about the default standing in.
func checkRest(name string, doc *yaml.Node, unreadable yamlcheck.Problems, lines map[string]int, o Overrides) yamlcheck.Problems {
	for _, p := range unreadable {
		if p.Path != "" {
			yamlcheck.RemovePath(doc, p.Path)
		}
	}
	cfg := Default()
	if err := doc.Decode(&cfg); err != nil {
		return nil
	}
	if ps := cfg.loadIncludes(name); len(ps) > 0 {
		return nil
	}
	_, err := finish(name, cfg, lines, o)
	ps, _ := yamlcheck.AsProblems(err)
	var out yamlcheck.Problems
	for _, p := range ps {
		if !slices.ContainsFunc(unreadable, func(u yamlcheck.Problem) bool { return yamlcheck.Under(p.Path, u.Path) }) {
			out = append(out, p)
		}
	}
	return out
}

// finish applies the overrides and validates. A problem in a value a flag
// set names the flag instead of a file line the flag replaced.
func finish(name string, cfg Config, lines map[string]int, o Overrides) (Config, error) {
	set := o.Apply(&cfg)
	creds := credentials.Expand(&cfg, os.LookupEnv)
	err := cfg.Validate()
	if err == nil && len(creds) == 0 {
		return cfg, nil
	}
	ps, ok := yamlcheck.AsProblems(err)
	if err != nil && !ok {
		return Config{}, err
	}
	// A key naming an unset $CREDENTIALS_DIRECTORY is reported once, not
	// also as a file that cannot be read.
	ps = slices.DeleteFunc(ps, func(p yamlcheck.Problem) bool {
		return slices.ContainsFunc(creds, func(c yamlcheck.Problem) bool { return c.Path == p.Path })
	})
	ps = append(ps, creds...)
	for i := range ps {
		if ps[i].KeepFile {
			continue
		}
		if flag := flagFor(ps[i].Path, set); flag != "" {
			ps[i].Msg += " (from " + flag + ")"
			continue
		}
		ps[i].File = name
		ps[i].Line = yamlcheck.LineOf(lines, ps[i].Path)
	}
	return Config{}, ps
}

// ParseByteSize reads "1GiB", "64KiB", "512MB" or a plain byte count.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad size %q: want a number of bytes or a value such as 64KiB, 512MiB, 1GiB", s)
	}
	return v * mult, nil
}

func typeOf(v any) reflect.Type { return reflect.TypeOf(v).Elem() }
