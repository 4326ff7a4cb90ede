// Package silence carries acknowledgements to Alertmanager, or it keeps notifying
// the on-call technician at every repeat interval: the Silencer turns each ack into
// an Alertmanager silence of exactly that alert's labels, renews it while the ack
// holds, and expires it when the alert resolves or the ack is withdrawn. Work that
// fails (Alertmanager down) is retried until it lands, and is kept in a state file
// so that a restart does not forget a silence to create or expire.
package silence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/prometheus/client_golang/prometheus"
)

// SilenceAPI is what the Silencer needs of Alertmanager.
type API interface {
	CreateSilence(ctx context.Context, s notify.PostableSilence) (string, error)
	ExpireSilence(ctx context.Context, id string) error
}

// SilencerOptions tunes the Silencer; zero values take the defaults.
type Options struct {
	// StateFile keeps the silences across restarts; empty keeps none.
	StateFile string
	// Lifetime of a silence; it is renewed while the ack holds, so a
	// silence facmon can no longer expire (facmon removed) ends by itself.
	// Default 24h.
	Lifetime time.Duration
	// RetryMin and RetryMax bound the backoff after a failure (1s, 1m).
	RetryMin, RetryMax time.Duration
	// OnChange is told the silence id of an alert once it is created, and
	// "" once it is expired: the engine shows it with the alert.
	OnChange func(alertID, silenceID string)
	Now      func() time.Time
}

// Silencer keeps one Alertmanager silence per acknowledged alert.
type Silencer struct {
	api  API
	opts Options
	log  *slog.Logger
	errs prometheus.Counter

	mu    sync.Mutex
	items map[string]*silenceItem // by alert ID
	// ended are the silences this instance expired, by id, and when: a
	// listing of the group's silences made before does not bring them
	// back.
	ended map[string]time.Time
	dirty bool
	wake  chan struct{}
}

// silenceItem is one ack's silence: wanted (Active) or to expire.
type silenceItem struct {
	AlertID   string            `json:"alert_id"`
	Labels    map[string]string `json:"labels"`
	By        string            `json:"by"`
	Comment   string            `json:"comment"`
	Active    bool              `json:"active"` // false: to expire
	SilenceID string            `json:"silence_id,omitempty"`
	EndsAt    time.Time         `json:"ends_at,omitzero"`

	failures int
	nextTry  time.Time
}

// NewSilencer loads the state file, if any; Run does the work.
func New(api API, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Silencer, error) {
	if opts.Lifetime <= 0 {
		opts.Lifetime = 24 * time.Hour
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = time.Second
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(time.Minute, opts.RetryMin)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Silencer{api: api, opts: opts, log: log.With("component", "silencer"), items: map[string]*silenceItem{}, ended: map[string]time.Time{}, wake: make(chan struct{}, 1),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_alert_silence_errors_total",
			Help: "Failed attempts to create, renew, expire or list the Alertmanager silences of acknowledged alerts; each is retried.",
		})}
	if reg != nil {
		reg.MustRegister(s.errs)
	}
	if opts.StateFile != "" {
		data, err := os.ReadFile(opts.StateFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("silences: %w", err)
		default:
			var items []*silenceItem
			if err := json.Unmarshal(data, &items); err != nil {
				return nil, fmt.Errorf("silences: %s: %w", opts.StateFile, err)
			}
			for _, it := range items {
				s.items[it.AlertID] = it
			}
		}
	}
	return s, nil
}

// Silence asks for a silence of a's labels (without the escalation label,
// so the escalated copy is silenced too). It does not block.
func (s *Silencer) Silence(a notify.Alert, by, comment string) {
	labels := Labels(a)
	if by == "" {
		by = "facmon"
	}
	if comment == "" {
		comment = "acknowledged in facmon"
	}
	s.mu.Lock()
	it := s.items[a.ID]
	if it == nil {
		it = &silenceItem{AlertID: a.ID}
		s.items[a.ID] = it
	}
	if !maps.Equal(it.Labels, labels) {
		it.EndsAt = time.Time{} // a new silence: matchers cannot be updated
	}
	it.Labels, it.By, it.Comment, it.Active = labels, by, comment, true
	it.failures, it.nextTry = 0, time.Time{}
	s.dirty = true
	s.mu.Unlock()
	s.signal()
}

// Labels are the labels the silence of an alert matches: the alert's,
// without the escalation label.
func Labels(a notify.Alert) map[string]string {
	labels := notify.Postable(a, time.Time{}).Labels
	delete(labels, "escalation")
	return labels
}

// Expire asks for the silence of an alert to end. It does not block.
func (s *Silencer) Expire(alertID string) {
	s.mu.Lock()
	if it := s.items[alertID]; it != nil {
		if it.SilenceID == "" {
			delete(s.items, alertID)
		} else {
			it.Active, it.failures, it.nextTry = false, 0, time.Time{}
		}
		s.dirty = true
	}
	s.mu.Unlock()
	s.signal()
}

// SilenceID is the silence of an alert, "" while there is none.
func (s *Silencer) SilenceID(alertID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.items[alertID]; it != nil && it.Active {
		return it.SilenceID
	}
	return ""
}

// Pending counts the silences still to create or expire.
func (s *Silencer) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, it := range s.items {
		if !it.Active || it.SilenceID == "" {
			n++
		}
	}
	return n
}

func (s *Silencer) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends.
func (s *Silencer) Run(ctx context.Context) error {
	for {
		next := s.work(ctx)
		wait := time.Until(next)
		if next.IsZero() {
			wait = time.Hour
		}
		t := time.NewTimer(max(wait, 10*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			s.save()
			return nil
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// work does what is due and returns when the next thing is.
func (s *Silencer) work(ctx context.Context) time.Time {
	now := s.opts.Now()
	s.mu.Lock()
	var due []silenceItem
	for _, it := range s.items {
		if s.needs(it, now) && !it.nextTry.After(now) {
			due = append(due, *it)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(due, func(a, b silenceItem) int { return cmpString(a.AlertID, b.AlertID) })
	for _, it := range due {
		s.do(ctx, it, now)
	}
	s.save()
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for _, it := range s.items {
		var at time.Time
		switch {
		case s.needs(it, now):
			at = it.nextTry
		case it.Active:
			at = s.renewAt(it)
		default:
			continue
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// renewAt is half way through a silence's life.
func (s *Silencer) renewAt(it *silenceItem) time.Time { return it.EndsAt.Add(-s.opts.Lifetime / 2) }

func (s *Silencer) needs(it *silenceItem, now time.Time) bool {
	if !it.Active {
		return true
	}
	return it.SilenceID == "" || it.EndsAt.IsZero() || !now.Before(s.renewAt(it))
}

// do performs one item's work (a copy: the lock is not held over I/O).
func (s *Silencer) do(ctx context.Context, it silenceItem, now time.Time) {
	var err error
	var id string
	ends := now.Add(s.opts.Lifetime)
	if it.Active {
		sil := notify.NewSilence(it.Labels, it.By, it.Comment, now, ends)
		if !it.EndsAt.IsZero() {
			sil.ID = it.SilenceID // a renewal keeps its id
		}
		id, err = s.api.CreateSilence(ctx, sil)
	} else {
		err = s.api.ExpireSilence(ctx, it.SilenceID)
	}
	s.mu.Lock()
	cur := s.items[it.AlertID]
	changed := cur != nil && (cur.Active != it.Active || !maps.Equal(cur.Labels, it.Labels))
	var notify func()
	switch {
	case cur == nil && err == nil && it.Active:
		// The ack was withdrawn while its silence was being created: the
		// silence exists now and must go.
		s.items[it.AlertID] = &silenceItem{AlertID: it.AlertID, Labels: it.Labels, SilenceID: id}
	case cur == nil:
	case changed:
		// Asked otherwise meanwhile: the next round does the new work,
		// on the silence just created if there is one.
		if err == nil && it.Active {
			cur.SilenceID = id
		}
	case err != nil:
		cur.failures++
		cur.nextTry = now.Add(min(s.opts.RetryMin<<min(cur.failures-1, 16), s.opts.RetryMax))
	case it.Active:
		prev := cur.SilenceID
		cur.SilenceID, cur.EndsAt, cur.failures, cur.nextTry = id, ends, 0, time.Time{}
		if prev != id && s.opts.OnChange != nil {
			f, aid := s.opts.OnChange, it.AlertID
			notify = func() { f(aid, id) }
		}
	default:
		delete(s.items, it.AlertID)
		for id, at := range s.ended {
			if now.Sub(at) > time.Minute {
				delete(s.ended, id)
			}
		}
		s.ended[it.SilenceID] = now
		if s.opts.OnChange != nil {
			f, aid := s.opts.OnChange, it.AlertID
			notify = func() { f(aid, "") }
		}
	}
	s.dirty = true
	s.mu.Unlock()
	if err != nil {
		s.errs.Inc()
		what := "create"
		if !it.Active {
			what = "expire"
		}
		s.log.Warn("alertmanager silence failed; retrying", "op", what, "alert", it.AlertID, "err", err)
	} else if it.Active {
		s.log.Info("alert silenced in alertmanager", "alert", it.AlertID, "silence", id, "by", it.By)
	} else {
		s.log.Info("alertmanager silence expired", "alert", it.AlertID, "silence", it.SilenceID)
	}
	if notify != nil {
		notify()
	}
}

// save writes the state file when something changed (temp file, rename).
func (s *Silencer) save() {
	if s.opts.StateFile == "" {
		return
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return
	}
	items := make([]silenceItem, 0, len(s.items))
	for _, it := range s.items {
		items = append(items, *it)
	}
	s.dirty = false
	s.mu.Unlock()
	slices.SortFunc(items, func(a, b silenceItem) int { return cmpString(a.AlertID, b.AlertID) })
	data, err := json.MarshalIndent(items, "", "  ")
	if err == nil {
		tmp := s.opts.StateFile + ".tmp"
		if err = os.MkdirAll(filepath.Dir(tmp), 0o755); err == nil {
			if err = os.WriteFile(tmp, data, 0o600); err == nil {
				err = os.Rename(tmp, s.opts.StateFile)
			}
		}
	}
	if err != nil {
		s.mu.Lock()
		s.dirty = true // try again next round
		s.mu.Unlock()
		s.log.Warn("silences: state file not written; kept in memory", "err", err)
	}
}
