// Package duration is the one duration type of facmon's YAML files: Go
// duration strings ("10s", "1h30m") and whole or fractional days ("3d"),
// shared by the main configuration, alert rules and notifier settings so
// that a duration means the same everywhere.
package duration

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written as "10s", "5m" or "3d" in YAML.
type Duration time.Duration

// D returns the standard library value.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Parse reads a Go duration or a number of days ("3d", "0.5d").
func Parse(s string) (Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.ParseFloat(days, 64); err == nil {
			return Duration(time.Duration(n * float64(24*time.Hour))), nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a value such as 30s, 5m, 1h30m or 3d", s)
	}
	return Duration(v), nil
}

// UnmarshalYAML accepts what Parse accepts.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("want a duration such as 10s or 5m")
	}
	return d.UnmarshalText([]byte(s))
}

// UnmarshalText accepts what Parse accepts.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }
