package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration, located so the operator
// can go straight to it.
type Problem struct {
	File string
	Line int    // 0 when the field was not in the file (a default or a flag)
	Path string // e.g. mqtt.topics[1].pattern
	Msg  string
	// keepFile marks a problem located in an included file.
	keepFile bool
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found; config check shows them all at once
// rather than making the operator fix them one run at a time.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// AsProblems extracts the problem list from an error returned by Load or
// Validate.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	if errors.As(err, &ps) {
		return ps, true
	}
	return nil, false
}

// Load reads a configuration file over the defaults, applies the
// command-line overrides and validates the result. Every problem found is
// returned together as Problems. An empty path means defaults only.
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
	var problems Problems

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return finish(name, cfg, lines, o)
		}
		return Config{}, Problems{{File: name, Line: yamlErrorLine(err), Msg: "not valid YAML: " + cleanYAMLError(err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return Config{}, Problems{{File: name, Line: extra.Line, Msg: "more than one YAML document; facmon reads one"}}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return finish(name, cfg, lines, o)
	}
	walk(doc, reflect.TypeOf(cfg), "", lines, &problems)
	for i := range problems {
		problems[i].File = name
	}
	if len(problems) > 0 {
		return Config{}, append(problems, checkRest(name, doc, problems, lines, o)...).sorted()
	}
	if err := doc.Decode(&cfg); err != nil {
		return Config{}, Problems{{File: name, Line: yamlErrorLine(err), Msg: cleanYAMLError(err)}}
	}
	if ps := cfg.loadIncludes(name); len(ps) > 0 {
		for i := range ps {
			if ps[i].File == "" {
				ps[i].File = name
				ps[i].Line = lineOf(lines, ps[i].Path)
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
func checkRest(name string, doc *yaml.Node, unreadable Problems, lines map[string]int, o Overrides) Problems {
	for _, p := range unreadable {
		if p.Path != "" {
			removePath(doc, p.Path)
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
	ps, _ := AsProblems(err)
	var out Problems
	for _, p := range ps {
		if !slices.ContainsFunc(unreadable, func(u Problem) bool { return under(p.Path, u.Path) }) {
			out = append(out, p)
		}
	}
	return out
}

// under reports whether path is base or lies inside it.
func under(path, base string) bool {
	return base != "" && (path == base || strings.HasPrefix(path, base+".") || strings.HasPrefix(path, base+"["))
}

// removePath deletes the value at path (as walk names it: a.b[2].c) from a
// YAML tree. Map keys may hold dots, so keys are matched against the path
// rather than the path split at its dots.
func removePath(n *yaml.Node, path string) bool {
	for n.Kind == yaml.AliasNode || n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		if n.Kind == yaml.AliasNode {
			n = n.Alias
		} else {
			n = n.Content[0]
		}
	}
	switch n.Kind {
	case yaml.SequenceNode:
		if !strings.HasPrefix(path, "[") {
			return false
		}
		end := strings.IndexByte(path, ']')
		i, err := strconv.Atoi(path[1:max(end, 1)])
		if end < 0 || err != nil || i < 0 || i >= len(n.Content) {
			return false
		}
		rest := strings.TrimPrefix(path[end+1:], ".")
		if rest == "" {
			n.Content = slices.Delete(n.Content, i, i+1)
			return true
		}
		return removePath(n.Content[i], rest)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			switch {
			case path == k:
				n.Content = slices.Delete(n.Content, i, i+2)
				return true
			case strings.HasPrefix(path, k+"."):
				return removePath(n.Content[i+1], path[len(k)+1:])
			case strings.HasPrefix(path, k+"["):
				return removePath(n.Content[i+1], path[len(k):])
			}
		}
	}
	return false
}

// sorted orders problems by file and line, as a reader goes down the file.
func (ps Problems) sorted() Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return ps
}

// finish applies the overrides and validates. A problem in a value a flag
// set names the flag instead of a file line the flag replaced.
func finish(name string, cfg Config, lines map[string]int, o Overrides) (Config, error) {
	set := o.Apply(&cfg)
	err := cfg.Validate()
	if err == nil {
		return cfg, nil
	}
	ps, ok := AsProblems(err)
	if !ok {
		return Config{}, err
	}
	for i := range ps {
		if ps[i].keepFile {
			continue
		}
		if flag := flagFor(ps[i].Path, set); flag != "" {
			ps[i].Msg += " (from " + flag + ")"
			continue
		}
		ps[i].File = name
		ps[i].Line = lineOf(lines, ps[i].Path)
	}
	return Config{}, ps
}

// lineOf finds the line of a path, or of its nearest ancestor in the file,
// so a problem with a defaulted field still points near the right place.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

var (
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
	yamlUnmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
)

// opaque types parse their own scalars and say what is wrong themselves.
func opaque(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(textUnmarshalerType) || p.Implements(yamlUnmarshalerType)
}

// walk checks the YAML tree against the Go types before decoding, because
// yaml.v3 neither names the path of a bad value nor, without KnownFields,
// refuses unknown keys. It records the line of every path on the way.
func walk(n *yaml.Node, t reflect.Type, path string, lines map[string]int, problems *Problems) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	lines[path] = n.Line
	if t.Kind() == reflect.Pointer {
		if isNull(n) {
			return
		}
		t = t.Elem()
	}
	if opaque(t) || t.Kind() != reflect.Struct && t.Kind() != reflect.Map && t.Kind() != reflect.Slice {
		checkScalar(n, t, path, problems)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if isNull(n) {
				return
			}
			*problems = append(*problems, Problem{Line: n.Line, Path: path, Msg: "want a mapping of keys to values"})
			return
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := join(path, k.Value)
			if seen[k.Value] {
				*problems = append(*problems, Problem{Line: k.Line, Path: child, Msg: "key given twice"})
				continue
			}
			seen[k.Value] = true
			f, ok := fields[k.Value]
			if !ok {
				*problems = append(*problems, Problem{Line: k.Line, Path: child, Msg: unknownKeyMsg(k.Value, fields)})
				continue
			}
			lines[child] = k.Line
			walk(v, f.Type, child, lines, problems)
			lines[child] = k.Line
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if isNull(n) {
				return
			}
			*problems = append(*problems, Problem{Line: n.Line, Path: path, Msg: "want a mapping"})
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			child := path + "." + k.Value
			walk(v, t.Elem(), child, lines, problems)
			lines[child] = k.Line
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if isNull(n) {
				return
			}
			*problems = append(*problems, Problem{Line: n.Line, Path: path, Msg: "want a list"})
			return
		}
		for i, item := range n.Content {
			walk(item, t.Elem(), path+"["+strconv.Itoa(i)+"]", lines, problems)
		}
	}
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func checkScalar(n *yaml.Node, t reflect.Type, path string, problems *Problems) {
	if n.Kind != yaml.ScalarNode {
		*problems = append(*problems, Problem{Line: n.Line, Path: path, Msg: "want a single value, not a list or mapping"})
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		msg := cleanYAMLError(err)
		if opaque(t) {
			*problems = append(*problems, Problem{Line: n.Line, Path: path, Msg: msg})
			return
		}
		switch t.Kind() {
		case reflect.Int, reflect.Int64:
			msg = fmt.Sprintf("want a whole number, got %q", n.Value)
		case reflect.Float64:
			msg = fmt.Sprintf("want a number, got %q", n.Value)
		case reflect.Bool:
			msg = fmt.Sprintf("want true or false, got %q", n.Value)
		case reflect.String:
			msg = fmt.Sprintf("want a string, got %q", n.Value)
		}
		*problems = append(*problems, Problem{Line: n.Line, Path: path, Msg: msg})
	}
}

func yamlErrorLine(err error) int {
	s := err.Error()
	i := strings.Index(s, "line ")
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range s[i+5:] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n  ")
	if i := strings.Index(s, "line "); i == 0 {
		if j := strings.Index(s, ": "); j > 0 {
			s = s[j+2:]
		}
	}
	return s
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
