// Package logging builds facmon's one logger: JSON or text, a level, and
// values written for the people who read the logs.
package logging

import (
	"io"
	"log/slog"
	"time"
)

// New returns the logger of the given level ("debug", "info", "warn",
// "error"; anything else is info) and format ("text", else JSON).
func New(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: HumanDurations}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// HumanDurations writes durations as Go duration text ("2s", "1m30s"): the
// JSON handler would write nanoseconds (2000000000), which nobody reading a
// log line at night should have to divide. Configuration durations (a named
// type with a D method) are treated the same.
func HumanDurations(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindDuration:
		a.Value = slog.StringValue(a.Value.Duration().String())
	case slog.KindAny:
		if d, ok := a.Value.Any().(interface{ D() time.Duration }); ok {
			a.Value = slog.StringValue(d.D().String())
		}
	}
	return a
}
