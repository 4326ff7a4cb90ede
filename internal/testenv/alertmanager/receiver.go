package alertmanager

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receiver is a webhook receiver for Alertmanager's notifications (and for
// facmon's own webhook, whose payload has the same shape): an HTTP test server
// that decodes every POST and keeps it for assertions.
type Receiver struct {
	URL string

	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	notes  []Notification
	errs   []string
	status int
	notify chan struct{}
}

// Notification is one webhook request: Alertmanager's webhook payload
// (version "4"), or facmon's (version "1", alerts with an id).
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // firing or resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []ReceivedAlert   `json:"alerts"`

	// Set by the Receiver.
	Received time.Time   `json:"-"`
	Header   http.Header `json:"-"`
	Body     []byte      `json:"-"`
}

// ReceivedAlert is one alert of a Notification.
type ReceivedAlert struct {
	Status       string            `json:"status"` // firing or resolved
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"` // Alertmanager's
	ID           string            `json:"id"`          // facmon's webhook
}

// Matches reports whether the alert has status (any when "") and every label of
// labels.
func (a ReceivedAlert) Matches(status string, labels map[string]string) bool {
	if status != "" && a.Status != status {
		return false
	}
	for k, v := range labels {
		if a.Labels[k] != v {
			return false
		}
	}
	return true
}

// WebhookReceiver starts a Receiver; it is closed when the test ends, and the
// test fails if a request could not be decoded.
func WebhookReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{t: t, status: http.StatusOK, notify: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(func() {
		r.srv.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.errs {
			t.Errorf("testenv: webhook receiver: %s", e)
		}
	})
	return r
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.Method != http.MethodPost {
		r.fail(fmt.Sprintf("%s %s: want POST", req.Method, req.URL.Path))
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		r.fail(fmt.Sprintf("undecodable notification (%v): %.500s", err, body))
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.Received, n.Header, n.Body = time.Now(), req.Header.Clone(), body
	r.mu.Lock()
	status := r.status
	if status >= 200 && status < 300 {
		r.notes = append(r.notes, n)
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
	w.WriteHeader(status)
}

func (r *Receiver) fail(msg string) {
	r.mu.Lock()
	r.errs = append(r.errs, msg)
	r.mu.Unlock()
}

// SetStatus makes the receiver answer every request with code from now on
// (200 at start). Requests answered with anything but 2xx are not recorded.
func (r *Receiver) SetStatus(code int) {
	r.mu.Lock()
	r.status = code
	r.mu.Unlock()
}

// Notifications returns the notifications received so far, oldest first.
func (r *Receiver) Notifications() []Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.notes...)
}

// Alerts returns every alert of every notification, in order of arrival.
func (r *Receiver) Alerts() []ReceivedAlert {
	return AlertsOf(r.Notifications())
}

// AlertsOf flattens the alerts of notifications.
func AlertsOf(ns []Notification) []ReceivedAlert {
	var out []ReceivedAlert
	for _, n := range ns {
		out = append(out, n.Alerts...)
	}
	return out
}

// Count returns how many received alerts match status and labels (see
// ReceivedAlert.Matches).
func (r *Receiver) Count(status string, labels map[string]string) int {
	return CountAlerts(r.Notifications(), status, labels)
}

// CountAlerts counts the alerts of notifications that match status and labels.
func CountAlerts(ns []Notification, status string, labels map[string]string) int {
	n := 0
	for _, a := range AlertsOf(ns) {
		if a.Matches(status, labels) {
			n++
		}
	}
	return n
}

// Reset forgets the notifications received so far.
func (r *Receiver) Reset() {
	r.mu.Lock()
	r.notes = nil
	r.mu.Unlock()
}

// WaitFor waits until cond, given every notification received so far, reports
// true, and returns those notifications. It fails the test after timeout,
// listing what did arrive.
func (r *Receiver) WaitFor(t testing.TB, timeout time.Duration, cond func([]Notification) bool) []Notification {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		ns := r.Notifications()
		if cond(ns) {
			return ns
		}
		select {
		case <-r.notify:
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("testenv: webhook receiver: condition not met after %v; received:\n%s", timeout, Describe(r.Notifications()))
			return nil
		}
	}
}

// Describe lists notifications one alert a line, for failure messages.
func Describe(ns []Notification) string {
	if len(ns) == 0 {
		return "  (nothing)"
	}
	var b strings.Builder
	for i, n := range ns {
		fmt.Fprintf(&b, "  #%d %s %s (%d alerts) at %s\n", i+1, n.Receiver, n.Status, len(n.Alerts), n.Received.Format("15:04:05.000"))
		for _, a := range n.Alerts {
			keys := make([]string, 0, len(a.Labels))
			for k := range a.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for j, k := range keys {
				parts[j] = k + "=" + strconv.Quote(a.Labels[k])
			}
			fmt.Fprintf(&b, "      %s {%s}\n", a.Status, strings.Join(parts, ", "))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
