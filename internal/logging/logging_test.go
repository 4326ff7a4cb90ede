package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/duration"
)

func TestDurationsAreHuman(t *testing.T) {
	cases := []struct {
		format string
		want   []string
	}{
		{"json", []string{`"timeout":"2s"`, `"backoff":"1m30s"`, `"heartbeat":"5m0s"`, `"retry":{"after":"250ms"}`}},
		{"text", []string{`timeout=2s`, `backoff=1m30s`, `heartbeat=5m0s`, `retry.after=250ms`}},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			var buf bytes.Buffer
			log := New(&buf, "info", c.format)
			log.Info("waiting", "timeout", 2*time.Second, slog.Duration("backoff", 90*time.Second),
				"heartbeat", duration.Duration(5*time.Minute), slog.Group("retry", "after", 250*time.Millisecond))
			out := buf.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("log line %s lacks %s", out, w)
				}
			}
			if strings.Contains(out, "2000000000") {
				t.Errorf("log line %s has a duration in nanoseconds", out)
			}
		})
	}
}

func TestLevel(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "warn", "json")
	log.Info("hidden")
	log.Warn("shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("level warn wrote %q", buf.String())
	}
}
