// Package store keeps the alert engine's memory in its state directory: the
// Record of every alert worth remembering (state.json, replaced atomically) and the
// incident history (history.jsonl, appended all or nothing), so a restart neither
// re-notifies firing alerts nor forgets them, and the history API works while
// InfluxDB is down.
package store

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/facmon/facmon/alerts/view"
)

// Record is an alert as the state file keeps it across a restart: what
// is shown, and the recent transitions that tell whether it flaps.
type Record struct {
	view.Alert
	Transitions []time.Time `json:"transitions,omitempty"`
}

// HistoryEvent is one line of the incident history.
type HistoryEvent struct {
	Time       time.Time `json:"time"`
	ID         string    `json:"id"`
	Rule       string    `json:"rule"`
	Severity   string    `json:"severity"`
	Ward       string    `json:"ward,omitempty"`
	Class      string    `json:"class,omitempty"`
	Device     string    `json:"device,omitempty"`
	State      string    `json:"state"` // firing, resolved, acknowledged
	Value      float64   `json:"value"`
	Since      time.Time `json:"since,omitzero"` // on resolved: when it fired
	SummaryVI  string    `json:"summary_vi,omitempty"`
	SummaryEN  string    `json:"summary_en,omitempty"`
	AckBy      string    `json:"ack_by,omitempty"`
	AckComment string    `json:"ack_comment,omitempty"`
	Suppressed string    `json:"suppressed,omitempty"`
}

// Store keeps alert state (state.json, rewritten atomically on change) and
// the incident history (history.jsonl, appended) in a directory, so a
// restart neither re-notifies firing alerts nor forgets them. The history
// is also written to InfluxDB as alert_event points; the local file is
// what the API serves, so it works while InfluxDB is down.
type Store struct {
	dir string
	mu  sync.Mutex
}

// Open opens the store in dir, which it creates when missing.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("alerts store: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) statePath() string   { return filepath.Join(s.dir, "state.json") }
func (s *Store) historyPath() string { return filepath.Join(s.dir, "history.jsonl") }

// Load reads the saved alerts; a missing file is an empty state.
func (s *Store) Load() ([]*Record, error) {
	if s == nil {
		return nil, nil
	}
	b, err := os.ReadFile(s.statePath())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("alerts store: %w", err)
	}
	var out []*Record
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("alerts store: %s is damaged: %w", s.statePath(), err)
	}
	return out, nil
}

// Save replaces the saved state.
func (s *Store) Save(ins []*Record) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sort.Slice(ins, func(i, j int) bool { return ins[i].ID < ins[j].ID })
	b, err := json.MarshalIndent(ins, "", " ")
	if err != nil {
		return err
	}
	tmp := s.statePath() + ".tmp"
	if err := writeSynced(tmp, b); err != nil {
		os.Remove(tmp) // a full disk leaves it empty; the old state stays
		return fmt.Errorf("alerts store: %w", err)
	}
	return os.Rename(tmp, s.statePath())
}

func writeSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// AppendHistory adds events, all or none: a write the disk refuses part
// of the way is cut off again, so a retry neither repeats the events that
// got through nor leaves half a line for the next one to join.
func (s *Store) AppendHistory(evs ...HistoryEvent) error {
	if s == nil || len(evs) == 0 {
		return nil
	}
	var b []byte
	for _, ev := range evs {
		line, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("alerts history: %w", err)
		}
		b = append(append(b, line...), '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.historyPath(), os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("alerts history: %w", err)
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("alerts history: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Truncate(end)
		return fmt.Errorf("alerts history: %w", err)
	}
	return nil
}

// History returns the events within [from, to), oldest first.
func (s *Store) History(from, to time.Time) ([]HistoryEvent, error) {
	if s == nil {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Open(s.historyPath())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []HistoryEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var ev HistoryEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue // a torn last line after a crash
		}
		if !ev.Time.Before(from) && ev.Time.Before(to) {
			out = append(out, ev)
		}
	}
	return out, sc.Err()
}
