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
