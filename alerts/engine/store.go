package engine

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

	"github.com/facmon/facmon/alerts/engine/lifecycle"
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
func (s *Store) Load() ([]*record, error) {
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
	var out []*record
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("alerts store: %s is damaged: %w", s.statePath(), err)
	}
	return out, nil
}

// Save replaces the saved state.
func (s *Store) Save(ins []*record) error {
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

// stateSnapshot is the alerts worth remembering at one moment, copied
// under e.mu and written after it is released: an fsync on a slow or full
// disk must never hold up evaluation, ingest or the pages.
type stateSnapshot struct {
	gen     uint64
	records []*record
}

// snapshotLocked copies the state to save; nil without a store. e.mu is
// held.
func (e *Engine) snapshotLocked() *stateSnapshot {
	e.dirty = false
	if e.opts.Store == nil {
		return nil
	}
	var keep []*record
	for _, in := range e.instances {
		if in.State != lifecycle.StateInactive || in.Notified || in.Flapping {
			cp := in.record
			cp.Transitions = append([]time.Time(nil), in.Transitions...)
			keep = append(keep, &cp)
		}
	}
	e.saveGen++
	return &stateSnapshot{gen: e.saveGen, records: keep}
}

// writeState writes a snapshot, without e.mu. Writers are serialised and
// a snapshot older than the one on disk is skipped, so the file only
// moves forward. A state that could not be written is marked dirty again,
// and the next tick tries again: a full disk must not make a restart
// forget the alerts that fired during it.
func (e *Engine) writeState(snap *stateSnapshot) error {
	if snap == nil {
		return nil
	}
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	if snap.gen <= e.savedGen {
		return nil
	}
	err := e.opts.Store.Save(snap.records)
	switch {
	case err != nil:
		e.m.saveErrors.Inc()
		e.mu.Lock()
		e.dirty = true
		e.mu.Unlock()
		if !e.saveFailing {
			e.saveFailing = true
			e.log.Error("alerts: could not save state; retried at every tick", "err", err)
		}
		return err
	case e.saveFailing:
		e.saveFailing = false
		e.log.Info("alerts: state saved again")
	}
	e.savedGen = snap.gen
	return nil
}

// recordHistory queues an incident history line for the store.
func (e *Engine) recordHistory(ev HistoryEvent) {
	if e.opts.Store != nil {
		e.history.Push(ev)
	}
}

// History serves the incident history: the store's, and the lines still
// waiting to be written (a full disk), which are the newest.
func (e *Engine) History(from, to time.Time) ([]HistoryEvent, error) {
	// Between reading the file and the queue, no line may move from one
	// to the other.
	var out []HistoryEvent
	var err error
	e.history.Settled(func(queued []HistoryEvent) {
		out, err = e.opts.Store.History(from, to)
		for _, ev := range queued {
			if !ev.Time.Before(from) && ev.Time.Before(to) {
				out = append(out, ev)
			}
		}
	})
	return out, err
}
