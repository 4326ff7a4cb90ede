package main

import "testing"

func TestServiceProcs(t *testing.T) {
	for _, tc := range []struct {
		env  string
		cpus int
		want int
		set  bool
	}{
		{"", 1, 1, true},
		{"", 2, 1, true},
		{"", 3, 1, true},
		{"", 8, 4, true},
		{"2", 8, 0, false}, // the operator's GOMAXPROCS wins
	} {
		got, set := serviceProcs(tc.env, tc.cpus)
		if got != tc.want || set != tc.set {
			t.Errorf("serviceProcs(%q, %d) = %d, %v; want %d, %v", tc.env, tc.cpus, got, set, tc.want, tc.set)
		}
	}
}
