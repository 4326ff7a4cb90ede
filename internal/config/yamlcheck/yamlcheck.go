// Package yamlcheck reads a YAML document strictly against the Go types it is
// decoded into, before yaml.v3 decodes it: an unknown key (with the key meant,
// when one is close), a value of the wrong kind or a key given twice is a Problem
// located by file, line and path (mqtt.topics[1].pattern), and every problem is
// reported at once, so the operator fixes the file in one go.
package yamlcheck

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
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
	// KeepFile marks a problem located in an included file.
	KeepFile bool
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

// AsProblems extracts the problem list from an error that holds one.
func AsProblems(err error) (Problems, bool) {
	var ps Problems
	if errors.As(err, &ps) {
		return ps, true
	}
	return nil, false
}

// Under reports whether path is base or lies inside it.
func Under(path, base string) bool {
	return base != "" && (path == base || strings.HasPrefix(path, base+".") || strings.HasPrefix(path, base+"["))
}

// RemovePath deletes the value at path (as walk names it: a.b[2].c) from a
// YAML tree. Map keys may hold dots, so keys are matched against the path
// rather than the path split at its dots.
func RemovePath(n *yaml.Node, path string) bool {
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
		return RemovePath(n.Content[i], rest)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			switch {
			case path == k:
				n.Content = slices.Delete(n.Content, i, i+2)
				return true
			case strings.HasPrefix(path, k+"."):
				return RemovePath(n.Content[i+1], path[len(k)+1:])
			case strings.HasPrefix(path, k+"["):
				return RemovePath(n.Content[i+1], path[len(k):])
			}
		}
	}
	return false
}

// Sorted orders problems by file and line, as a reader goes down the file.
func (ps Problems) Sorted() Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
	return ps
}

// LineOf finds the line of a path, or of its nearest ancestor in the file,
// so a problem with a defaulted field still points near the right place.
func LineOf(lines map[string]int, path string) int {
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

// Opaque reports whether t parses its own scalars (a duration, a size) and
// says itself what is wrong with one.
func Opaque(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(textUnmarshalerType) || p.Implements(yamlUnmarshalerType)
}

// Check walks the YAML tree n against the Go type t and returns what is wrong,
// recording the line of every path in lines.
func Check(n *yaml.Node, t reflect.Type, lines map[string]int) Problems {
	var problems Problems
	walk(n, t, "", lines, &problems)
	return problems
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
	if Opaque(t) || t.Kind() != reflect.Struct && t.Kind() != reflect.Map && t.Kind() != reflect.Slice {
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
			child := Join(path, k.Value)
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
		msg := CleanError(err)
		if Opaque(t) {
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

// ErrorLine is the line a yaml.v3 error names, 0 when it names none.
func ErrorLine(err error) int {
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

// CleanError is a yaml.v3 error without its package and line prefixes, for
// a message that gives the line itself.
func CleanError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.TrimPrefix(s, "unmarshal errors:\n  ")
	if i := strings.Index(s, "line "); i == 0 {
		if j := strings.Index(s, ": "); j > 0 {
			s = s[j+2:]
		}
	}
	return s
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[name] = f
	}
	return out
}

func unknownKeyMsg(key string, fields map[string]reflect.StructField) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	known := strings.Join(names, ", ")
	if near := Nearest(key, names); near != "" {
		return fmt.Sprintf("unknown key %q: did you mean %q? (known here: %s)", key, near, known)
	}
	return fmt.Sprintf("unknown key %q (known here: %s)", key, known)
}

// nearest is the one name a misspelling of key most likely meant: within
// two edits (a third of the key at most, so short keys are not matched to
// anything), and closer than any other name.
func Nearest(key string, names []string) string {
	best, bestD, tie := "", min(len(key)/3, 2)+1, false
	for _, n := range names {
		switch d := editDistance(key, n); {
		case d < bestD:
			best, bestD, tie = n, d, false
		case d == bestD && best != "":
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// editDistance counts the insertions, deletions, substitutions and swaps of
// neighbouring letters that turn a into b (optimal string alignment).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Join is the path of key under path, as Check names it.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
