// Package ratelog limits repeated log lines, so a device flooding bad
// messages cannot flood the log (or the disk) with them.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter logs at most one line per key per interval and reports how many
// were suppressed in between.
type Limiter struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu   sync.Mutex
	keys map[string]*entry
}

type entry struct {
	last       time.Time
	suppressed int
}

// New returns a limiter; interval is per key.
func New(log *slog.Logger, interval time.Duration) *Limiter {
	return &Limiter{log: log, interval: interval, now: time.Now, keys: map[string]*entry{}}
}

// Log writes msg at level unless a line with the same key was written
// within the interval.
func (l *Limiter) Log(level slog.Level, key, msg string, args ...any) {
	now := l.now()
	l.mu.Lock()
	e, ok := l.keys[key]
	if !ok {
		// The key set is closed (reasons, not topics), so the map stays small.
		e = &entry{}
		l.keys[key] = e
	}
	if !e.last.IsZero() && now.Sub(e.last) < l.interval {
		e.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := e.suppressed
	e.suppressed = 0
	e.last = now
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	l.log.Log(context.Background(), level, msg, args...)
}
