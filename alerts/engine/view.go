package engine

import (
	"iter"

	"github.com/facmon/facmon/alerts/view"
)

// all yields the alerts under evaluation, for the views; call it under e.mu.
func (e *Engine) all() iter.Seq[*view.Alert] {
	return func(yield func(*view.Alert) bool) {
		for _, in := range e.instances {
			if !yield(&in.Alert) {
				return
			}
		}
	}
}

// Alerts returns a page of the firing and pending alerts. Each view is one
// pass over the alerts under the engine's lock that copies only what it
// returns, so a page costs the same whether 5 or 50,000 alerts fire.
func (e *Engine) Alerts(q view.Query) (view.Page, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return view.Select(e.all(), q)
}

// Overview is view.Overview of the engine's alerts.
func (e *Engine) Overview(maxGroups, perGroup int) []view.Group {
	e.mu.Lock()
	defer e.mu.Unlock()
	return view.Overview(e.all(), maxGroups, perGroup)
}

// Active returns the firing and pending alerts, firing first, then the most
// severe and the oldest.
func (e *Engine) Active() []view.Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	return view.Active(e.all())
}

// public is the alert as the API shows it, a copy the caller may keep.
func (in *instance) public() view.Alert { return in.Alert }
