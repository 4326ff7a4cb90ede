// Package view is what facmon shows of its alerts: the Alert the API, the status
// page and the pages' stand-ins read, and the pure views over a set of them — a
// page of a Query with a cursor that walks changing sets exactly once (Select), the
// per-ward, per-rule Overview, and the Active list. The engine hands its alerts in
// under its lock; nothing here locks or keeps them.
package view

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"iter"
	"slices"
	"sort"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
)

// Alert is what the API and the pages show of one alert: a rule applied
// to one device (or ward).
type Alert struct {
	ID       string            `json:"id"`
	Rule     string            `json:"rule"`
	Severity string            `json:"severity"`
	Ward     string            `json:"ward,omitempty"`
	Class    string            `json:"class,omitempty"`
	Device   string            `json:"device,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	State    lifecycle.State   `json:"state"`
	// PendingSince / FiringSince: when the condition started to hold and
	// when the alert fired.
	PendingSince time.Time `json:"pending_since,omitzero"`
	FiringSince  time.Time `json:"firing_since,omitzero"`
	Value        float64   `json:"value"`
	SummaryVI    string    `json:"summary_vi,omitempty"`
	SummaryEN    string    `json:"summary_en,omitempty"`
	// Acknowledgement.
	Acked      bool      `json:"acked"`
	AckBy      string    `json:"ack_by,omitempty"`
	AckComment string    `json:"ack_comment,omitempty"`
	AckAt      time.Time `json:"ack_at,omitzero"`
	// SilenceID is the Alertmanager silence of the acknowledgement, once
	// Alertmanager has it.
	SilenceID string `json:"silence_id,omitempty"`
	// Notified is true once the firing notification went out; a restart
	// keeps it so nobody is notified twice.
	Notified  bool `json:"notified"`
	Escalated bool `json:"escalated"`
	// Suppressed says why a firing alert is not notified: "maintenance"
	// or "ward_unreachable".
	Suppressed string `json:"suppressed,omitempty"`
	// Flapping alerts hold their notifications.
	Flapping bool `json:"flapping"`
}

// Query selects a page of alerts.
type Query struct {
	// Ward and Rule, when set, keep only the alerts of that ward or rule.
	Ward, Rule string
	// State is StateFiring or StatePending; "" keeps both.
	State lifecycle.State
	// Limit is the most alerts in the page (at least 1).
	Limit int
	// After is the previous page's Next; "" starts from the beginning.
	After string
}

// Page is one page of alerts.
type Page struct {
	Alerts []Alert
	// Total is how many alerts match the query's filters, on every page.
	Total int
	// Next is the cursor of the following page; "" on the last.
	Next string
}

// ErrBadCursor is returned for a cursor that no page gave out.
var ErrBadCursor = errors.New("not a cursor this API gave out")

// pageKey orders the pages: most severe first, then by ward, rule, class
// and device. None of these changes during an alert's life and no two
// alerts share them, so a walk from page to page meets every alert that
// lasts through it exactly once, however many others come and go.
type pageKey struct {
	Rank                      int
	Ward, Rule, Class, Device string
}

func keyOf(in *Alert) pageKey {
	return pageKey{severityRank(in.Severity), in.Ward, in.Rule, in.Class, in.Device}
}

func (a pageKey) compare(b pageKey) int {
	return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.Ward, b.Ward), cmp.Compare(a.Rule, b.Rule),
		cmp.Compare(a.Class, b.Class), cmp.Compare(a.Device, b.Device))
}

func (a pageKey) cursor() string {
	b, _ := json.Marshal([]any{a.Rank, a.Ward, a.Rule, a.Class, a.Device})
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseCursor(s string) (pageKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageKey{}, ErrBadCursor
	}
	var k pageKey
	parts := []any{&k.Rank, &k.Ward, &k.Rule, &k.Class, &k.Device}
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) != 5 {
		return pageKey{}, ErrBadCursor
	}
	return k, nil
}

func severityRank(s string) int {
	switch s {
	case "critical":
		return 0
	case "warning":
		return 1
	case "info":
		return 2
	}
	return 3
}

// PageOf is the page of q among alerts: for stand-ins of the engine in tests.
func PageOf(alerts []Alert, q Query) (Page, error) {
	return Select(func(yield func(*Alert) bool) {
		for i := range alerts {
			if !yield(&alerts[i]) {
				return
			}
		}
	}, q)
}

// Select is the page of q among all.
func Select(all iter.Seq[*Alert], q Query) (Page, error) {
	var after pageKey
	if q.After != "" {
		var err error
		if after, err = parseCursor(q.After); err != nil {
			return Page{}, err
		}
	}
	limit := max(q.Limit, 1)
	var page Page
	// The limit+1 first alerts after the cursor, kept sorted: one more
	// than the page says whether another page follows.
	var first []*Alert
	var firstKeys []pageKey
	for in := range all {
		if !q.matches(in) {
			continue
		}
		page.Total++
		k := keyOf(in)
		if q.After != "" && k.compare(after) <= 0 {
			continue
		}
		if len(first) == limit+1 && k.compare(firstKeys[limit]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(firstKeys, k, pageKey.compare)
		if len(first) == limit+1 {
			first, firstKeys = first[:limit], firstKeys[:limit]
		}
		first, firstKeys = slices.Insert(first, i, in), slices.Insert(firstKeys, i, k)
	}
	if len(first) > limit {
		first = first[:limit]
		page.Next = firstKeys[limit-1].cursor()
	}
	page.Alerts = make([]Alert, len(first))
	for i, in := range first {
		page.Alerts[i] = *in
	}
	return page, nil
}

func (q Query) matches(in *Alert) bool {
	if q.State == "" {
		if in.State != lifecycle.StateFiring && in.State != lifecycle.StatePending {
			return false
		}
	} else if in.State != q.State {
		return false
	}
	return (q.Ward == "" || in.Ward == q.Ward) && (q.Rule == "" || in.Rule == q.Rule)
}

// Group is the firing alerts of one rule in one ward.
type Group struct {
	Ward, Rule, Severity string
	Firing, Acked        int
	// Since is when its oldest alert fired.
	Since time.Time
	// Alerts are its first alerts in full (GroupOrder), for the first
	// groups of an Overview only.
	Alerts []Alert
}

// Overview groups the firing alerts of all per ward and rule, in GroupOrder.
// The first maxGroups groups carry up to perGroup of their alerts in full,
// the others only their counts. It ranges over all twice.
func Overview(all iter.Seq[*Alert], maxGroups, perGroup int) []Group {
	type gk struct{ ward, rule string }
	byKey := map[gk]*Group{}
	for in := range all {
		if in.State != lifecycle.StateFiring {
			continue
		}
		g := byKey[gk{in.Ward, in.Rule}]
		if g == nil {
			g = &Group{Ward: in.Ward, Rule: in.Rule, Severity: in.Severity, Since: in.FiringSince}
			byKey[gk{in.Ward, in.Rule}] = g
		}
		g.Firing++
		if in.Acked {
			g.Acked++
		}
		if in.FiringSince.Before(g.Since) {
			g.Since = in.FiringSince
		}
	}
	groups := make([]*Group, 0, len(byKey))
	for _, g := range byKey {
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *Group) int { return GroupOrder(*a, *b) })
	full := map[gk][]*Alert{}
	for _, g := range groups[:min(maxGroups, len(groups))] {
		full[gk{g.Ward, g.Rule}] = make([]*Alert, 0, min(perGroup, g.Firing))
	}
	for in := range all {
		list, ok := full[gk{in.Ward, in.Rule}]
		if !ok || in.State != lifecycle.StateFiring || perGroup <= 0 {
			continue
		}
		a := in
		if len(list) == perGroup && AlertOrder(*a, *list[perGroup-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(list, a, func(a, b *Alert) int { return AlertOrder(*a, *b) })
		if len(list) == perGroup {
			list = list[:perGroup-1]
		}
		full[gk{in.Ward, in.Rule}] = slices.Insert(list, i, a)
	}
	out := make([]Group, len(groups))
	for i, g := range groups {
		out[i] = *g
		for _, in := range full[gk{g.Ward, g.Rule}] {
			out[i].Alerts = append(out[i].Alerts, *in)
		}
	}
	return out
}

// GroupOrder puts the most urgent group first: the most severe, then one
// with an unacknowledged alert, then the one firing longest; ward and
// rule break ties, so the page does not reshuffle between refreshes.
func GroupOrder(a, b Group) int {
	return cmp.Or(cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
		-cmp.Compare(min(a.Firing-a.Acked, 1), min(b.Firing-b.Acked, 1)),
		a.Since.Compare(b.Since), cmp.Compare(a.Ward, b.Ward), cmp.Compare(a.Rule, b.Rule))
}

// AlertOrder orders the alerts of a group: unacknowledged first, then
// the oldest, then by class and device.
func AlertOrder(a, b Alert) int {
	ack := func(in Alert) int {
		if in.Acked {
			return 1
		}
		return 0
	}
	return cmp.Or(cmp.Compare(ack(a), ack(b)), a.FiringSince.Compare(b.FiringSince),
		cmp.Compare(a.Class, b.Class), cmp.Compare(a.Device, b.Device))
}

// Active is the firing and pending alerts of all, firing first, then the most
// severe and the oldest.
func Active(all iter.Seq[*Alert]) []Alert {
	var out []Alert
	for in := range all {
		if in.State == lifecycle.StateFiring || in.State == lifecycle.StatePending {
			out = append(out, *in)
		}
	}
	rank := map[string]int{"critical": 0, "warning": 1, "info": 2}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.State == lifecycle.StateFiring) != (b.State == lifecycle.StateFiring) {
			return a.State == lifecycle.StateFiring
		}
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		if !a.FiringSince.Equal(b.FiringSince) {
			return a.FiringSince.Before(b.FiringSince)
		}
		return a.ID < b.ID
	})
	return out
}
