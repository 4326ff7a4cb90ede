// Package api serves the alert API: active alerts, incident history and
// acknowledgement. Reading is open; acknowledging needs the bearer token.
package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facmon/facmon/alerts/engine/store"

	"github.com/facmon/facmon/alerts/view"

	"github.com/facmon/facmon/alerts/engine/lifecycle"

	"github.com/facmon/facmon/alerts/engine"
)

// Engine is what the API needs of the alert engine.
type Engine interface {
	Alerts(q view.Query) (view.Page, error)
	History(from, to time.Time) ([]store.HistoryEvent, error)
	Ack(id, by, comment string) (view.Alert, error)
	Unack(id, by string) (view.Alert, error)
}

// Handler serves /api/alerts.
type Handler struct {
	eng   Engine
	token string // empty: acknowledgement is refused, never open
	now   func() time.Time
}

// New returns the API; token is the bearer token for acknowledgements.
func New(eng Engine, token string) *Handler { return &Handler{eng: eng, token: token, now: time.Now} }

// Register mounts the routes on mux.
func (h *Handler) Register(mux interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}) {
	mux.HandleFunc("GET /api/alerts", h.active)
	mux.HandleFunc("GET /api/alerts/history", h.history)
	mux.HandleFunc("POST /api/alerts/{id}/ack", h.ack)
	mux.HandleFunc("DELETE /api/alerts/{id}/ack", h.unack)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

type apiError struct {
	Error string `json:"error"`
}

// Page sizes of GET /api/alerts: a page is a bounded answer however many
// alerts fire.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// AlertsPage is the answer of GET /api/alerts.
type AlertsPage struct {
	Alerts []view.Alert `json:"alerts"`
	// Total is how many alerts match the filters, over all pages.
	Total int `json:"total"`
	// NextCursor, passed as cursor, gives the next page; absent on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

// active serves a page of the firing and pending alerts, most severe
// first (then by ward, rule, class and device), filtered by ward, rule and
// state.
func (h *Handler) active(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	q := view.Query{Ward: qs.Get("ward"), Rule: qs.Get("rule"), Limit: DefaultLimit, After: qs.Get("cursor")}
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("limit: want a number from 1 to %d, got %q", MaxLimit, s)})
			return
		}
		q.Limit = n
	}
	switch s := lifecycle.State(qs.Get("state")); s {
	case "", lifecycle.StateFiring, lifecycle.StatePending:
		q.State = s
	default:
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("state: want firing or pending, got %q", s)})
		return
	}
	page, err := h.eng.Alerts(q)
	if errors.Is(err, view.ErrBadCursor) {
		writeJSON(w, http.StatusBadRequest, apiError{"cursor: " + err.Error() + " (pass next_cursor of the previous page)"})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	if page.Alerts == nil {
		page.Alerts = []view.Alert{}
	}
	writeJSON(w, http.StatusOK, AlertsPage{Alerts: page.Alerts, Total: page.Total, NextCursor: page.Next})
}

// history takes from and to as RFC 3339 or YYYY-MM-DD; default the last 7 days.
func (h *Handler) history(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	from, to := now.Add(-7*24*time.Hour), now.Add(time.Second)
	var err error
	if s := r.URL.Query().Get("from"); s != "" {
		if from, err = parseWhen(s); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"from: " + err.Error()})
			return
		}
	}
	if s := r.URL.Query().Get("to"); s != "" {
		if to, err = parseWhen(s); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{"to: " + err.Error()})
			return
		}
	}
	if !to.After(from) {
		writeJSON(w, http.StatusBadRequest, apiError{"to must be after from"})
		return
	}
	events, err := h.eng.History(from, to)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{"history: " + err.Error()})
		return
	}
	if events == nil {
		events = []store.HistoryEvent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "events": events})
}

func parseWhen(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want RFC 3339 (2026-11-28T09:00:00+07:00) or a date (2026-11-28)")
}

// AckRequest is the body of POST /api/alerts/{id}/ack.
type AckRequest struct {
	By      string `json:"by"`
	Comment string `json:"comment"`
}

func (h *Handler) ack(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="facmon"`)
		writeJSON(w, http.StatusUnauthorized, apiError{"a valid bearer token is required (alerts.api_token_file)"})
		return
	}
	var req AckRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAckBody)).Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeJSON(w, http.StatusRequestEntityTooLarge, apiError{fmt.Sprintf("request body too large: at most %d bytes", tooLarge.Limit)})
			return
		}
		writeJSON(w, http.StatusBadRequest, apiError{"body: want JSON {\"by\": \"name\", \"comment\": \"...\"}"})
		return
	}
	req.By = strings.TrimSpace(req.By)
	if req.By == "" || len(req.By) > 100 || len(req.Comment) > 2000 {
		writeJSON(w, http.StatusBadRequest, apiError{"by is required (who acknowledges, up to 100 characters); comment up to 2000"})
		return
	}
	in, err := h.eng.Ack(r.PathValue("id"), req.By, req.Comment)
	if errors.Is(err, engine.ErrNotFiring) {
		writeJSON(w, http.StatusNotFound, apiError{"no firing alert with id " + r.PathValue("id")})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, in)
}

// unack withdraws an acknowledgement; ?by= names who did (optional). The
// Alertmanager silence of the ack is expired.
func (h *Handler) unack(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="facmon"`)
		writeJSON(w, http.StatusUnauthorized, apiError{"a valid bearer token is required (alerts.api_token_file)"})
		return
	}
	by := strings.TrimSpace(r.URL.Query().Get("by"))
	if len(by) > 100 {
		writeJSON(w, http.StatusBadRequest, apiError{"by: up to 100 characters"})
		return
	}
	in, err := h.eng.Unack(r.PathValue("id"), by)
	switch {
	case errors.Is(err, engine.ErrNotFiring):
		writeJSON(w, http.StatusNotFound, apiError{"no firing alert with id " + r.PathValue("id")})
	case errors.Is(err, engine.ErrNotAcked):
		writeJSON(w, http.StatusConflict, apiError{"alert " + r.PathValue("id") + " is not acknowledged"})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
	default:
		writeJSON(w, http.StatusOK, in)
	}
}

func (h *Handler) authorized(r *http.Request) bool {
	if h.token == "" {
		return false
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	// The scheme is case-insensitive (RFC 7235 section 2.1), the token is not.
	got = strings.TrimLeft(got, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && got != "" &&
		subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) == 1
}

// maxAckBody bounds an acknowledgement: a name of 100 characters and a
// comment of 2000 fit even with every character escaped as \uXXXX.
const maxAckBody = 16 << 10
