package engine

import (
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/store"
)

// Store is where the engine keeps its state and incident history across
// restarts: a *store.Store, or in tests one that hangs like a dead disk.
type Store interface {
	Load() ([]*store.Record, error)
	Save(records []*store.Record) error
	AppendHistory(evs ...store.HistoryEvent) error
	History(from, to time.Time) ([]store.HistoryEvent, error)
}

// stateSnapshot is the alerts worth remembering at one moment, copied
// under e.mu and written after it is released: an fsync on a slow or full
// disk must never hold up evaluation, ingest or the pages.
type stateSnapshot struct {
	gen     uint64
	records []*store.Record
}

// snapshotLocked copies the state to save; nil without a store. e.mu is
// held.
func (e *Engine) snapshotLocked() *stateSnapshot {
	e.dirty = false
	if e.opts.Store == nil {
		return nil
	}
	var keep []*store.Record
	for _, in := range e.instances {
		if in.State != lifecycle.StateInactive || in.Notified || in.Flapping {
			cp := in.Record
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
func (e *Engine) recordHistory(ev store.HistoryEvent) {
	if e.opts.Store != nil {
		e.history.Push(ev)
	}
}

// History serves the incident history: the store's, and the lines still
// waiting to be written (a full disk), which are the newest.
func (e *Engine) History(from, to time.Time) ([]store.HistoryEvent, error) {
	// Between reading the file and the queue, no line may move from one
	// to the other.
	var out []store.HistoryEvent
	var err error
	e.history.Settled(func(queued []store.HistoryEvent) {
		out, err = e.opts.Store.History(from, to)
		for _, ev := range queued {
			if !ev.Time.Before(from) && ev.Time.Before(to) {
				out = append(out, ev)
			}
		}
	})
	return out, err
}
