package storage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Quarantine keeps the points InfluxDB refused for good (400/422) in a
// line-protocol file, one comment line of why before each point, so an
// operator can read them and, once the cause is fixed, replay them with
// `facmon quarantine replay`.
type Quarantine struct {
	path string
	mu   sync.Mutex
}

// NewQuarantine appends to path (created with its directory on first use).
func NewQuarantine(path string) *Quarantine { return &Quarantine{path: path} }

// Path is the quarantine file.
func (q *Quarantine) Path() string { return q.path }

// Poison records one refused point durably. It returns an error when the
// point is not on disk (a full disk, a read-only directory): the caller
// then keeps it where it was and tries again. A write that fails part of
// the way is cut off again, so the retry leaves no half record.
func (q *Quarantine) Poison(line []byte, status int, msg string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(q.path), 0o750); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	f, err := os.OpenFile(q.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	msg = strings.Join(strings.Fields(msg), " ") // one comment line, whatever the server said
	rec := fmt.Appendf(nil, "# %s status=%d %s\n%s\n", time.Now().UTC().Format(time.RFC3339), status, msg, bytes.TrimRight(line, "\n"))
	if _, err = f.Write(rec); err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Truncate(st.Size())
		return fmt.Errorf("quarantine: write %s: %w", q.path, err)
	}
	return nil
}

// Replay sends every quarantined point to c again. Points refused again
// go back into a fresh quarantine file through c's poison handler; the
// old file is renamed aside first so nothing is lost if the replay stops.
func (q *Quarantine) Replay(ctx context.Context, c Committer) (replayed int, err error) {
	q.mu.Lock()
	aside := q.path + "." + time.Now().UTC().Format("20060102T150405") + ".replaying"
	err = os.Rename(q.path, aside)
	q.mu.Unlock()
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("quarantine: %w", err)
	}
	f, err := os.Open(aside)
	if err != nil {
		return 0, fmt.Errorf("quarantine: %w", err)
	}
	defer f.Close()
	defer func() {
		if err != nil {
			// Put the file back so a later replay finds it; points already
			// replayed are written again harmlessly.
			if _, statErr := os.Stat(q.path); os.IsNotExist(statErr) {
				_ = os.Rename(aside, q.path)
			} else {
				err = fmt.Errorf("%w (the points are kept in %s)", err, aside)
			}
		}
	}()
	var batch bytes.Buffer
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		if err := c.Commit(ctx, batch.Bytes(), n); err != nil {
			return err
		}
		replayed += n
		batch.Reset()
		n = 0
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		batch.Write(line)
		batch.WriteByte('\n')
		if n++; n >= 1000 {
			if err := flush(); err != nil {
				return replayed, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return replayed, fmt.Errorf("quarantine: read %s: %w", aside, err)
	}
	if err := flush(); err != nil {
		return replayed, err
	}
	return replayed, os.Remove(aside)
}
