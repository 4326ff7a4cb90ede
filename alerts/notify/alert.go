package notify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Alert is one alert as notifiers see it.
type Alert struct {
	// ID is stable per alert instance (rule + ward/class/device): the
	// dispatcher keys its state by it, and the webhook sends it as "id".
	ID string
	// Labels always hold alertname and severity; ward, class and device
	// when known; the rule's labels; "escalation"="1" on escalation
	// re-notifications. Names must be Prometheus label names
	// ([a-zA-Z_][a-zA-Z0-9_]*); the Alertmanager notifier replaces other
	// characters with "_" and leaves out empty values, as Alertmanager
	// would drop them.
	Labels map[string]string
	// Annotations: summary_vi, summary_en, description_vi, description_en,
	// runbook_url (optional).
	Annotations  map[string]string
	StartsAt     time.Time
	EndsAt       time.Time // zero while firing; set when resolved
	GeneratorURL string    // facmon's page for the alert

	Acknowledged bool
	AckBy        string
	AckComment   string
}

// Resolved reports whether the alert has ended.
func (a Alert) Resolved() bool { return !a.EndsAt.IsZero() }

// Name is the alertname label, for logs.
func (a Alert) Name() string { return a.Labels["alertname"] }

// Notifier delivers alerts to one receiver. Notify is called by the
// Dispatcher's worker for that notifier only, one call at a time, with at
// most DispatcherOptions.BatchSize alerts; it returns nil when the
// receiver accepted them. Errors are retried unless they say otherwise
// (see Retryable); an *HTTPError carries the status and Retry-After.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, alerts []Alert) error
}

// Reposter is a Notifier whose receiver resolves a firing alert by itself
// unless it hears about it again in time — Alertmanager, which resolves an
// alert at its endsAt, or resolve_timeout after the last post when endsAt
// is not given. The Dispatcher keeps the firing alerts of a Reposter and
// sends them again every RepostInterval, calling NotifyUntil with
// validUntil = now + 4 × RepostInterval: the receiver is to hold firing
// alerts active until then, so that they end by themselves if facmon
// stops, and survive up to three lost re-posts meanwhile.
type Reposter interface {
	Notifier
	NotifyUntil(ctx context.Context, alerts []Alert, validUntil time.Time) error
}

// HTTPError is a receiver's answer other than 2xx.
type HTTPError struct {
	URL        string // without credentials
	StatusCode int
	// RetryAfter is the receiver's Retry-After (429, 503), or 0.
	RetryAfter time.Duration
	Body       string // start of the response body
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s: %d %s", e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Retryable reports whether the request may succeed when sent again:
// 408, 429 and 5xx. Any other status (400: the receiver refused the
// alerts; 401/403: wrong credentials) is final for these alerts.
func (e *HTTPError) Retryable() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// RetryAfterDelay is the wait the receiver asked for.
func (e *HTTPError) RetryAfterDelay() time.Duration { return e.RetryAfter }

// retryHint is what the dispatcher asks an error: HTTPError, the
// Alertmanager notifier's fan-out error and permanentError implement it.
type retryHint interface {
	Retryable() bool
	RetryAfterDelay() time.Duration
}

// Retryable reports whether the Dispatcher retries after err: network
// errors, timeouts and unclassified errors are retried, as are HTTP 408,
// 429 and 5xx; other HTTP statuses and Permanent errors are not.
func Retryable(err error) bool {
	var h retryHint
	if errors.As(err, &h) {
		return h.Retryable()
	}
	return true
}

// RetryAfter returns the delay a receiver asked for in err, or 0.
func RetryAfter(err error) time.Duration {
	var h retryHint
	if errors.As(err, &h) {
		return h.RetryAfterDelay()
	}
	return 0
}

type permanentError struct{ err error }

func (e permanentError) Error() string                  { return e.err.Error() }
func (e permanentError) Unwrap() error                  { return e.err }
func (e permanentError) Retryable() bool                { return false }
func (e permanentError) RetryAfterDelay() time.Duration { return 0 }

// Permanent marks err as not worth retrying (a Notifier's own bug, an
// alert that cannot be encoded).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// LabelsKey is a canonical form of a label set: two alerts with the same
// key are the same alert to Alertmanager.
func LabelsKey(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(ls[k]))
		b.WriteByte(',')
	}
	return b.String()
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Clone copies the maps, so that the caller may reuse its Alert.
func (a Alert) Clone() Alert {
	a.Labels = cloneMap(a.Labels)
	a.Annotations = cloneMap(a.Annotations)
	return a
}
