package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/facmon/facmon/internal/redact"
)

// Alertmanager posts alerts to Alertmanager's API v2 (POST /api/v2/alerts)
// on one or more Alertmanagers. It is a Reposter: the Dispatcher sends
// firing alerts again every RepostInterval.
type Alertmanager struct {
	urls  []string // .../api/v2/alerts
	bases []string // the configured URLs, for the silences API
	c     *httpClient
	log   *slog.Logger
}

// NewAlertmanager creates the notifier; it does not contact Alertmanager.
func NewAlertmanager(cfg AlertmanagerConfig, log *slog.Logger) (*Alertmanager, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("alertmanager: no URL")
	}
	c, err := newHTTPClient(cfg.Timeout.D(), cfg.BearerTokenFile, cfg.BasicAuth, cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("alertmanager: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	am := &Alertmanager{c: c, log: log}
	for _, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("alertmanager: bad URL %q", redact.Endpoint(raw))
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		am.bases = append(am.bases, u.String())
		u.Path += "/api/v2/alerts"
		am.urls = append(am.urls, u.String())
	}
	return am, nil
}

// Name is "alertmanager".
func (am *Alertmanager) Name() string { return "alertmanager" }

// Notify posts alerts without an endsAt for firing ones: Alertmanager then
// resolves them resolve_timeout after the last post. The Dispatcher calls
// NotifyUntil instead.
func (am *Alertmanager) Notify(ctx context.Context, alerts []Alert) error {
	return am.NotifyUntil(ctx, alerts, time.Time{})
}

// PostableAlert is one element of the JSON array that POST /api/v2/alerts
// takes (the postableAlert of Alertmanager's OpenAPI specification).
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// amTime is the date-time format of the API (RFC 3339, UTC, milliseconds).
const amTime = "2006-01-02T15:04:05.000Z07:00"

// Postable converts an alert to Alertmanager's form. Firing alerts get
// endsAt = validUntil (none when zero); resolved ones their EndsAt, never
// before StartsAt (Alertmanager refuses such an alert). Label names that
// are not Prometheus label names are mended ("_" for other characters),
// empty values left out. An acknowledged alert gets the annotations
// acknowledged_by and acknowledged_comment, so that Alertmanager's
// notifications show who is on it.
func Postable(a Alert, validUntil time.Time) PostableAlert {
	p := PostableAlert{
		Labels:       make(map[string]string, len(a.Labels)),
		GeneratorURL: a.GeneratorURL,
	}
	for k, v := range a.Labels {
		if v == "" {
			continue
		}
		p.Labels[labelName(k)] = v
	}
	if len(a.Annotations) > 0 || a.Acknowledged {
		p.Annotations = make(map[string]string, len(a.Annotations)+2)
		for k, v := range a.Annotations {
			if v == "" {
				continue
			}
			p.Annotations[labelName(k)] = v
		}
		if a.Acknowledged {
			if a.AckBy != "" {
				p.Annotations["acknowledged_by"] = a.AckBy
			} else {
				p.Annotations["acknowledged_by"] = "(unknown)"
			}
			if a.AckComment != "" {
				p.Annotations["acknowledged_comment"] = a.AckComment
			}
		}
	}
	if !a.StartsAt.IsZero() {
		p.StartsAt = a.StartsAt.UTC().Format(amTime)
	}
	end := validUntil
	if a.Resolved() {
		end = a.EndsAt
		if !a.StartsAt.IsZero() && end.Before(a.StartsAt) {
			end = a.StartsAt
		}
	}
	if !end.IsZero() {
		// Millisecond precision: never round an end before the start.
		p.EndsAt = end.UTC().Truncate(time.Millisecond).Format(amTime)
		if p.StartsAt != "" && p.EndsAt < p.StartsAt {
			p.EndsAt = p.StartsAt
		}
	}
	return p
}

// labelName mends a label name to [a-zA-Z_][a-zA-Z0-9_]*.
func labelName(s string) string {
	ok := s != ""
	for i := 0; i < len(s) && ok; i++ {
		c := s[i]
		ok = c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9':
			b.WriteRune(r)
		case i == 0 && r >= '0' && r <= '9':
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// NotifyUntil posts alerts to every Alertmanager at once; firing ones with
// endsAt = validUntil. It succeeds when at least one Alertmanager accepted
// them: the members of an HA cluster deduplicate notifications among
// themselves, and one that missed a post gets the next re-post. When all
// fail, the error is retryable if any failure was, with the shortest
// Retry-After given.
func (am *Alertmanager) NotifyUntil(ctx context.Context, alerts []Alert, validUntil time.Time) error {
	if len(alerts) == 0 {
		return nil
	}
	body := make([]PostableAlert, len(alerts))
	for i, a := range alerts {
		body[i] = Postable(a, validUntil)
	}
	data, err := json.Marshal(body)
	if err != nil {
		return Permanent(fmt.Errorf("alertmanager: encode alerts: %w", err))
	}
	if len(am.urls) == 1 {
		return am.c.post(ctx, am.urls[0], data, nil)
	}
	errs := make([]error, len(am.urls))
	var wg sync.WaitGroup
	for i, u := range am.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = am.c.post(ctx, u, data, nil)
		}()
	}
	wg.Wait()
	var failed []error
	for _, e := range errs {
		if e != nil {
			failed = append(failed, e)
		}
	}
	if len(failed) < len(am.urls) {
		for _, e := range failed {
			am.log.Warn("an Alertmanager of the cluster refused or missed a post; the others accepted it", "notifier", am.Name(), "err", e)
		}
		return nil
	}
	return &fanoutError{errs: failed}
}

// fanoutError is the failure of every Alertmanager.
type fanoutError struct{ errs []error }

func (e *fanoutError) Error() string {
	s := make([]string, len(e.errs))
	for i, err := range e.errs {
		s[i] = err.Error()
	}
	return "every Alertmanager failed: " + strings.Join(s, "; ")
}

func (e *fanoutError) Unwrap() []error { return e.errs }

func (e *fanoutError) Retryable() bool {
	for _, err := range e.errs {
		if Retryable(err) {
			return true
		}
	}
	return false
}

func (e *fanoutError) RetryAfterDelay() time.Duration {
	var d time.Duration
	for _, err := range e.errs {
		if !Retryable(err) {
			continue
		}
		r := RetryAfter(err)
		if r == 0 {
			return 0
		}
		if d == 0 || r < d {
			d = r
		}
	}
	return d
}
