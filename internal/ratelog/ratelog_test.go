package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLimiterSuppressesAndCounts(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 10*time.Second)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for range 5 {
		l.Log(slog.LevelWarn, "malformed_json", "reading rejected")
	}
	l.Log(slog.LevelWarn, "wrong_type", "reading rejected")
	assert.Equal(t, 2, strings.Count(buf.String(), "\n"), "one line per key within the interval")
	now = now.Add(11 * time.Second)
	l.Log(slog.LevelWarn, "malformed_json", "reading rejected")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	assert.Len(t, lines, 3)
	assert.Contains(t, lines[2], "suppressed_since_last=4")
}
