package config

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

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
	if near := nearest(key, names); near != "" {
		return fmt.Sprintf("unknown key %q: did you mean %q? (known here: %s)", key, near, known)
	}
	return fmt.Sprintf("unknown key %q (known here: %s)", key, known)
}

// nearest is the one name a misspelling of key most likely meant: within
// two edits (a third of the key at most, so short keys are not matched to
// anything), and closer than any other name.
func nearest(key string, names []string) string {
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

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
