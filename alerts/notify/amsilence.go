package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// PostableSilence is the body of POST /api/v2/silences (the postableSilence
// of Alertmanager's OpenAPI specification). With ID set it updates.
type PostableSilence struct {
	ID        string           `json:"id,omitempty"`
	Matchers  []SilenceMatcher `json:"matchers"`
	StartsAt  string           `json:"startsAt"`
	EndsAt    string           `json:"endsAt"`
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
}

// SilenceMatcher is one equality matcher of a silence.
type SilenceMatcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex"`
	IsEqual bool   `json:"isEqual"`
}

// NewSilence is the silence of exactly labels (an equality matcher each, in
// name order) from start to end, created by by with comment.
func NewSilence(labels map[string]string, by, comment string, start, end time.Time) PostableSilence {
	s := PostableSilence{StartsAt: start.UTC().Format(amTime), EndsAt: end.UTC().Format(amTime), CreatedBy: by, Comment: comment}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		s.Matchers = append(s.Matchers, SilenceMatcher{Name: k, Value: labels[k], IsEqual: true})
	}
	return s
}

// CreateSilence creates (or, with s.ID, updates) a silence on the first
// Alertmanager that accepts it; the cluster gossips it to the others. It
// returns the silence id.
func (am *Alertmanager) CreateSilence(ctx context.Context, s PostableSilence) (string, error) {
	body, err := json.Marshal(s)
	if err != nil {
		return "", Permanent(fmt.Errorf("alertmanager: encode silence: %w", err))
	}
	var errs []error
	for _, base := range am.bases {
		answer, err := am.c.do(ctx, http.MethodPost, base+"/api/v2/silences", body, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var got struct {
			SilenceID string `json:"silenceID"`
		}
		if err := json.Unmarshal(answer, &got); err != nil || got.SilenceID == "" {
			errs = append(errs, fmt.Errorf("alertmanager: silence answer without silenceID: %.200q", answer))
			continue
		}
		return got.SilenceID, nil
	}
	return "", errors.Join(errs...)
}

// ExpireSilence expires a silence. One Alertmanager that expires it is
// enough; a silence none of them knows (404) counts as expired.
func (am *Alertmanager) ExpireSilence(ctx context.Context, id string) error {
	var errs []error
	for _, base := range am.bases {
		_, err := am.c.do(ctx, http.MethodDelete, base+"/api/v2/silence/"+url.PathEscape(id), nil, nil)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	for _, err := range errs {
		var he *HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
			return errors.Join(errs...)
		}
	}
	return nil
}

// Silence is a silence as GET /api/v2/silences lists it (the
// gettableSilence of the OpenAPI specification).
type Silence struct {
	ID     string `json:"id"`
	Status struct {
		State string `json:"state"` // active, pending or expired
	} `json:"status"`
	Matchers  []SilenceMatcher `json:"matchers"`
	StartsAt  time.Time        `json:"startsAt"`
	EndsAt    time.Time        `json:"endsAt"`
	CreatedBy string           `json:"createdBy"`
	Comment   string           `json:"comment"`
}

// ExactLabels are the labels a silence of exactly one label set matches
// (every matcher an equality, as NewSilence makes them); ok is false for
// any other silence.
func (s Silence) ExactLabels() (labels map[string]string, ok bool) {
	labels = make(map[string]string, len(s.Matchers))
	for _, m := range s.Matchers {
		if m.IsRegex || !m.IsEqual {
			return nil, false
		}
		labels[m.Name] = m.Value
	}
	return labels, len(labels) > 0
}

// ListSilences lists the silences of the first Alertmanager that answers;
// the cluster gossips them, so any one has them all.
func (am *Alertmanager) ListSilences(ctx context.Context) ([]Silence, error) {
	var errs []error
	for _, base := range am.bases {
		answer, err := am.c.do(ctx, http.MethodGet, base+"/api/v2/silences", nil, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var out []Silence
		if err := json.Unmarshal(answer, &out); err != nil {
			errs = append(errs, fmt.Errorf("alertmanager: silences answer: %w", err))
			continue
		}
		return out, nil
	}
	return nil, errors.Join(errs...)
}
