package engine

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

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

// OpenStore creates dir when missing.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("alerts store: %w", err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) statePath() string   { return filepath.Join(s.dir, "state.json") }
func (s *Store) historyPath() string { return filepath.Join(s.dir, "history.jsonl") }

// Load reads the saved alerts; a missing file is an empty state.
func (s *Store) Load() ([]*Instance, error) {
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
	var out []*Instance
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("alerts store: %s is damaged: %w", s.statePath(), err)
	}
	return out, nil
}

// Save replaces the saved state.
func (s *Store) Save(ins []*Instance) error {
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
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("alerts store: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("alerts store: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("alerts store: %w", err)
	}
	f.Close()
	return os.Rename(tmp, s.statePath())
}

// AppendHistory adds an event; errors are rare and not worth failing an
// evaluation for, so they are swallowed after the state save reports them.
func (s *Store) AppendHistory(ev HistoryEvent) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.historyPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := json.Marshal(ev)
	_, _ = f.Write(append(b, '\n'))
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

// saveLocked writes the alerts worth remembering; e.mu is held.
func (e *Engine) saveLocked() error {
	e.dirty = false
	if e.opts.Store == nil {
		return nil
	}
	var keep []*Instance
	for _, in := range e.instances {
		if in.State != StateInactive || in.Notified || in.Flapping {
			cp := in.public()
			keep = append(keep, &cp)
		}
	}
	return e.opts.Store.Save(keep)
}

// History serves the incident history.
func (e *Engine) History(from, to time.Time) ([]HistoryEvent, error) {
	return e.opts.Store.History(from, to)
}
