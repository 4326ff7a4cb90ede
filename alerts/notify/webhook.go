package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/clientauth"
)

// Webhook headers.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with the
	// webhook's secret, of the timestamp header's value, a ".", and the
	// body: sha256=hex(HMAC(secret, TIMESTAMP + "." + BODY)).
	HeaderSignature = "X-Facmon-Signature"
	// HeaderTimestamp is the time of signing in Unix seconds.
	HeaderTimestamp = "X-Facmon-Timestamp"
)

// WebhookVersion is the "version" of the payload.
const WebhookVersion = "1"

// WebhookPayload is the JSON body the webhook posts.
type WebhookPayload struct {
	Version string `json:"version"`
	// Status is "firing" when any alert of the request fires, else
	// "resolved"; every alert carries its own status too.
	Status string         `json:"status"`
	Alerts []WebhookAlert `json:"alerts"`
}

// WebhookAlert is one alert of a WebhookPayload.
type WebhookAlert struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"` // firing or resolved
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    string            `json:"startsAt"`         // RFC 3339
	EndsAt      string            `json:"endsAt,omitempty"` // RFC 3339, when resolved
	// GeneratorURL is facmon's page for the alert.
	GeneratorURL string `json:"generatorURL,omitempty"`
	Acknowledged bool   `json:"acknowledged"`
	AckBy        string `json:"ackBy,omitempty"`
	AckComment   string `json:"ackComment,omitempty"`
}

// Webhook posts WebhookPayloads to one URL. It gets each firing and
// resolved transition once, plus escalations (the Dispatcher does not
// re-post to it); like any HTTP delivery with retries it is
// at-least-once, so receivers should deduplicate on id, status and the
// escalation label.
type Webhook struct {
	name       string
	url        string
	secretFile string
	c          *httpClient
	now        func() time.Time
}

// NewWebhook creates the notifier; it does not contact the receiver.
func NewWebhook(cfg WebhookConfig, log *slog.Logger) (*Webhook, error) {
	if cfg.URL == "" {
		return nil, errors.New("webhook: no URL")
	}
	c, err := newHTTPClient(cfg.Timeout.D(), cfg.BearerTokenFile, cfg.BasicAuth, cfg.TLS)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", cfg.Name, err)
	}
	name := cfg.Name
	if name == "" {
		name = "default"
	}
	return &Webhook{name: "webhook:" + name, url: cfg.URL, secretFile: cfg.SecretFile, c: c, now: time.Now}, nil
}

// Name is "webhook:" and the configured name.
func (w *Webhook) Name() string { return w.name }

// Payload builds the body for alerts.
func Payload(alerts []Alert) WebhookPayload {
	p := WebhookPayload{Version: WebhookVersion, Status: "resolved", Alerts: make([]WebhookAlert, len(alerts))}
	for i, a := range alerts {
		wa := WebhookAlert{
			ID:           a.ID,
			Status:       "firing",
			Labels:       a.Labels,
			Annotations:  a.Annotations,
			GeneratorURL: a.GeneratorURL,
			Acknowledged: a.Acknowledged,
			AckBy:        a.AckBy,
			AckComment:   a.AckComment,
		}
		if wa.Labels == nil {
			wa.Labels = map[string]string{}
		}
		if wa.Annotations == nil {
			wa.Annotations = map[string]string{}
		}
		if !a.StartsAt.IsZero() {
			wa.StartsAt = a.StartsAt.UTC().Format(time.RFC3339Nano)
		}
		if a.Resolved() {
			wa.Status = "resolved"
			wa.EndsAt = a.EndsAt.UTC().Format(time.RFC3339Nano)
		} else {
			p.Status = "firing"
		}
		p.Alerts[i] = wa
	}
	return p
}

// Notify posts one payload with all alerts.
func (w *Webhook) Notify(ctx context.Context, alerts []Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	body, err := json.Marshal(Payload(alerts))
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode alerts: %w", w.name, err))
	}
	var h http.Header
	if w.secretFile != "" {
		secret, err := clientauth.ReadSecret(w.secretFile)
		if err != nil {
			return err
		}
		ts := strconv.FormatInt(w.now().Unix(), 10)
		h = http.Header{}
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign([]byte(secret), ts, body))
	}
	return w.c.post(ctx, w.url, body, h)
}

// Sign returns the X-Facmon-Signature value for a body sent at timestamp
// (the X-Facmon-Timestamp value).
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Errors of VerifySignature.
var (
	ErrNoSignature  = errors.New("webhook: no " + HeaderSignature + " or " + HeaderTimestamp + " header")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: timestamp too far from now")
)

// VerifySignature is what a receiver written in Go does with a request
// (see the package documentation for other languages): it recomputes the
// HMAC over the timestamp header, ".", and the raw body exactly as
// received, compares it in constant time, and refuses a timestamp more
// than maxSkew from now, so that a captured request cannot be replayed
// later. maxSkew 0 means 5 minutes.
func VerifySignature(secret []byte, header http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	ts, sig := header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return ErrNoSignature
	}
	if maxSkew <= 0 {
		maxSkew = 5 * time.Minute
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: bad %s %q", HeaderTimestamp, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return ErrStale
	}
	if !strings.HasPrefix(sig, "sha256=") {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}
