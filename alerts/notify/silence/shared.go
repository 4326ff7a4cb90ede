package silence

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/facmon/facmon/alerts/notify"
)

// What the instances of a shared group need: each takes on the silences
// the others create, and follows Alertmanager's listing of them.

// Adopt takes on a silence another instance of the group created for an
// alert this one also raises: it is renewed from here too, and expired
// from here when the alert resolves, so the acknowledgement outlives the
// instance that took it. It does not block.
//
// It refuses, reporting false, a silence this instance is expiring or
// expired within the last minute: the listing that showed it active was
// made before.
func (s *Silencer) Adopt(a notify.Alert, by, comment, silenceID string, endsAt time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.items[a.ID]; it != nil && !it.Active && it.SilenceID == silenceID {
		return false
	}
	if at, ok := s.ended[silenceID]; ok && s.opts.Now().Sub(at) < time.Minute {
		return false
	}
	s.items[a.ID] = &silenceItem{AlertID: a.ID, Labels: Labels(a), By: by, Comment: comment, Active: true, SilenceID: silenceID, EndsAt: endsAt}
	s.dirty = true
	s.signal()
	return true
}

// Forget drops an alert's silence without expiring it: someone else did.
func (s *Silencer) Forget(alertID string) {
	s.mu.Lock()
	if _, ok := s.items[alertID]; ok {
		delete(s.items, alertID)
		s.dirty = true
	}
	s.mu.Unlock()
}

// Lister lists Alertmanager's silences.
type Lister interface {
	ListSilences(ctx context.Context) ([]notify.Silence, error)
}

// Listing is Alertmanager's silences as the engine reconciles its
// acknowledgements with them.
type Listing struct {
	active  map[string]notify.Silence // by the key of their exact labels
	expired map[string]bool
}

// NewListing indexes a listing of GET /api/v2/silences.
func NewListing(silences []notify.Silence) Listing {
	l := Listing{active: map[string]notify.Silence{}, expired: map[string]bool{}}
	for _, s := range silences {
		switch s.Status.State {
		case "active":
			if labels, exact := s.ExactLabels(); exact {
				l.active[labelsKey(labels)] = s
			}
		case "expired":
			l.expired[s.ID] = true
		}
	}
	return l
}

// ActiveFor is the active silence of exactly the labels a's silence
// would have.
func (l Listing) ActiveFor(a notify.Alert) (notify.Silence, bool) {
	s, ok := l.active[labelsKey(Labels(a))]
	return s, ok
}

// Expired reports whether the listing shows that silence expired.
func (l Listing) Expired(silenceID string) bool { return l.expired[silenceID] }

func labelsKey(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// Follow lists the silences every interval and hands them to reconcile,
// until ctx ends: the instances of a group see each other's
// acknowledgements through the silences they create. A failed listing is
// counted and tried again at the next interval.
func (s *Silencer) Follow(ctx context.Context, every time.Duration, reconcile func(Listing)) error {
	api, ok := s.api.(Lister)
	if !ok {
		return errors.New("silences: this Alertmanager client cannot list silences")
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, every)
		list, err := api.ListSilences(lctx)
		cancel()
		if err != nil {
			s.errs.Inc()
			s.log.Warn("listing alertmanager silences failed; the group's acknowledgements wait", "err", err)
			continue
		}
		reconcile(NewListing(list))
	}
}
