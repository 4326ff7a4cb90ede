package notify

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/duration"
	"github.com/facmon/facmon/internal/redact"
)

// Config is the notifiers section of facmon's configuration. Zero values
// mean the defaults of DefaultConfig, so an empty section is valid and
// sends nothing.
type Config struct {
	// Alertmanager is enabled by listing at least one URL.
	Alertmanager AlertmanagerConfig `yaml:"alertmanager"`
	// Webhooks are generic JSON receivers, each with its own name.
	Webhooks []WebhookConfig `yaml:"webhooks"`
	// RepostInterval is how often firing alerts are sent to Alertmanager
	// again (its resolve_timeout would end them otherwise); firing posts
	// carry endsAt = now + 4 × RepostInterval. Default 1m.
	RepostInterval Duration `yaml:"repost_interval"`
	// GiveUpAfter is how long a notification is retried before it is
	// dropped with an error log and counted in
	// facmon_notification_failures_total. Default 1h.
	GiveUpAfter Duration `yaml:"give_up_after"`
	// MaxRetryInterval caps the exponential backoff between retries.
	// A receiver's Retry-After is honoured even when longer. Default 1m.
	MaxRetryInterval Duration `yaml:"max_retry_interval"`
	// QueueSize bounds the re-posts waiting per notifier; beyond it the
	// oldest re-post is dropped (first notifications and resolutions are
	// never dropped). Default 10000.
	QueueSize int `yaml:"queue_size"`
	// BatchSize is the most alerts per request. Default 64.
	BatchSize int `yaml:"batch_size"`
	// BatchWait is how long the first alert of a request waits for others
	// to join it. Default 20ms: alerts of one evaluation arrive together.
	BatchWait Duration `yaml:"batch_wait"`
}

// AlertmanagerConfig configures the Alertmanager API v2 notifier.
type AlertmanagerConfig struct {
	// URLs of the Alertmanagers, e.g. http://alertmanager:9093, with the
	// route prefix if there is one. Alerts are posted to every one (an HA
	// cluster deduplicates the notifications); a post succeeds when at
	// least one accepted it.
	URLs []string `yaml:"urls"`
	// Timeout bounds one request. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// BearerTokenFile or BasicAuth authenticate facmon to Alertmanager
	// (or a proxy in front of it); secrets come from files only.
	BearerTokenFile string               `yaml:"bearer_token_file"`
	BasicAuth       clientauth.BasicAuth `yaml:"basic_auth"`
	TLS             clientauth.TLS       `yaml:"tls"`
}

// Enabled reports whether Alertmanager URLs are configured.
func (c AlertmanagerConfig) Enabled() bool { return len(c.URLs) > 0 }

// WebhookConfig configures one generic webhook.
type WebhookConfig struct {
	// Name identifies the webhook in logs and metrics
	// (notifier="webhook:NAME"): lowercase letters, digits, - and _.
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// SecretFile holds the HMAC-SHA256 key: with it, every request carries
	// X-Facmon-Timestamp and X-Facmon-Signature (see VerifySignature).
	SecretFile      string               `yaml:"secret_file"`
	BearerTokenFile string               `yaml:"bearer_token_file"`
	BasicAuth       clientauth.BasicAuth `yaml:"basic_auth"`
	TLS             clientauth.TLS       `yaml:"tls"`
	// Timeout bounds one request. Default 10s.
	Timeout Duration `yaml:"timeout"`
}

// Defaults.
const (
	DefaultRepostInterval   = time.Minute
	DefaultGiveUpAfter      = time.Hour
	DefaultMaxRetryInterval = time.Minute
	DefaultQueueSize        = 10000
	DefaultBatchSize        = 64
	DefaultBatchWait        = 20 * time.Millisecond
	DefaultTimeout          = 10 * time.Second
)

// DefaultConfig is the section with every default filled in and no
// receiver: nothing is sent until Alertmanager URLs or webhooks are given.
func DefaultConfig() Config {
	return Config{
		Alertmanager:     AlertmanagerConfig{Timeout: Duration(DefaultTimeout)},
		RepostInterval:   Duration(DefaultRepostInterval),
		GiveUpAfter:      Duration(DefaultGiveUpAfter),
		MaxRetryInterval: Duration(DefaultMaxRetryInterval),
		QueueSize:        DefaultQueueSize,
		BatchSize:        DefaultBatchSize,
		BatchWait:        Duration(DefaultBatchWait),
	}
}

// Enabled reports whether any receiver is configured.
func (c Config) Enabled() bool { return c.Alertmanager.Enabled() || len(c.Webhooks) > 0 }

// NewNotifiers builds the configured notifiers: the Alertmanager one
// first (named "alertmanager"), then the webhooks ("webhook:NAME"). It
// fails on TLS files that cannot be loaded; secret files are read on
// every request, so that they can be rotated without a restart.
func NewNotifiers(c Config, log *slog.Logger) ([]Notifier, error) {
	var out []Notifier
	if c.Alertmanager.Enabled() {
		am, err := NewAlertmanager(c.Alertmanager, log)
		if err != nil {
			return nil, err
		}
		out = append(out, am)
	}
	for i, w := range c.Webhooks {
		wh, err := NewWebhook(w, log)
		if err != nil {
			return nil, fmt.Errorf("webhooks[%d]: %w", i, err)
		}
		out = append(out, wh)
	}
	return out, nil
}

// FieldError is one problem of the section, located by its path, e.g.
// "notifiers.alertmanager.urls[0]".
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// FieldErrors is every problem found.
type FieldErrors []FieldError

func (es FieldErrors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Err returns es as an error, or nil when there is no problem.
func (es FieldErrors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

var webhookNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate checks the section and returns every problem, with paths
// under prefix (the section's own path in the file, e.g. "notifiers").
// Files named by *_file keys must be readable.
func (c Config) Validate(prefix string) FieldErrors {
	v := &validator{prefix: prefix}
	if c.Alertmanager.Enabled() || c.Alertmanager.BearerTokenFile != "" || c.Alertmanager.BasicAuth.Set() || c.Alertmanager.TLS.Enabled() {
		v.client("alertmanager", c.Alertmanager.URLs, c.Alertmanager.Timeout, c.Alertmanager.BearerTokenFile, c.Alertmanager.BasicAuth, c.Alertmanager.TLS, true)
	}
	names := map[string]int{}
	for i, w := range c.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		switch {
		case w.Name == "":
			v.add(p+".name", "must be set: it names the webhook in logs and metrics")
		case !webhookNameRe.MatchString(w.Name):
			v.add(p+".name", "%q: want lowercase letters, digits, - and _ (up to 63)", w.Name)
		default:
			if j, dup := names[w.Name]; dup {
				v.add(p+".name", "%q is also the name of webhooks[%d]", w.Name, j)
			}
			names[w.Name] = i
		}
		if w.URL == "" {
			v.add(p+".url", "must be set")
		} else {
			v.client(p, []string{w.URL}, w.Timeout, w.BearerTokenFile, w.BasicAuth, w.TLS, false)
		}
		v.readable(p+".secret_file", w.SecretFile)
	}
	v.nonNegative("repost_interval", c.RepostInterval, time.Second)
	v.nonNegative("give_up_after", c.GiveUpAfter, time.Second)
	v.nonNegative("max_retry_interval", c.MaxRetryInterval, 10*time.Millisecond)
	v.nonNegative("batch_wait", c.BatchWait, 0)
	if c.BatchWait.D() > 10*time.Second {
		v.add("batch_wait", "must be at most 10s: it delays every notification")
	}
	if c.QueueSize < 0 {
		v.add("queue_size", "must not be negative")
	}
	if c.BatchSize < 0 || c.BatchSize > 10000 {
		v.add("batch_size", "must be between 1 and 10000 (0: default %d)", DefaultBatchSize)
	}
	rep, give := c.RepostInterval.D(), c.GiveUpAfter.D()
	if rep == 0 {
		rep = DefaultRepostInterval
	}
	if give == 0 {
		give = DefaultGiveUpAfter
	}
	if c.Alertmanager.Enabled() && give < rep {
		v.add("give_up_after", "must be at least repost_interval (%v)", rep)
	}
	return v.errs
}

type validator struct {
	prefix string
	errs   FieldErrors
}

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Path: v.full(path), Msg: fmt.Sprintf(format, args...)})
}

// full is path under the prefix, for messages that name another field.
func (v *validator) full(path string) string {
	if v.prefix != "" {
		return v.prefix + "." + path
	}
	return path
}

func (v *validator) nonNegative(path string, d Duration, least time.Duration) {
	switch {
	case d < 0:
		v.add(path, "must not be negative")
	case d > 0 && d.D() < least:
		v.add(path, "must be at least %v (0: the default)", least)
	}
}

func (v *validator) readable(path, file string) {
	if err := CheckReadable(file); err != nil {
		v.add(path, "%v", err)
	}
}

// CheckReadable says why a secret or certificate file cannot be read (nil
// for an empty name), naming the file but never its content. The main
// configuration checks its own *_file keys with it too.
func CheckReadable(file string) error {
	if file == "" {
		return nil
	}
	f, err := os.Open(file)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		return fmt.Errorf("cannot read %s: %v", file, err)
	}
	return f.Close()
}

// client checks the settings shared by the HTTP notifiers.
func (v *validator) client(p string, urls []string, timeout Duration, tokenFile string, ba clientauth.BasicAuth, tc clientauth.TLS, multi bool) {
	if multi && len(urls) == 0 {
		v.add(p+".urls", "must list at least one URL when %s settings are given", p)
	}
	seen := map[string]int{}
	https := false
	for i, raw := range urls {
		path := p + ".url"
		if multi {
			path = fmt.Sprintf("%s.urls[%d]", p, i)
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			v.add(path, "want an http:// or https:// URL, got %q", redact.Endpoint(raw))
			continue
		case u.User != nil:
			v.add(path, "must not carry credentials; use %s.basic_auth or %s.bearer_token_file", v.full(p), v.full(p))
		case u.RawQuery != "" || u.Fragment != "":
			if multi {
				v.add(path, "must not have a query or fragment")
			}
		}
		if u.Scheme == "https" {
			https = true
		}
		norm := strings.TrimRight(u.String(), "/")
		if j, dup := seen[norm]; dup && multi {
			v.add(path, "same URL as %s.urls[%d]", v.full(p), j)
		}
		seen[norm] = i
	}
	if timeout < 0 {
		v.add(p+".timeout", "must not be negative")
	} else if timeout > 0 && timeout.D() < 100*time.Millisecond {
		v.add(p+".timeout", "must be at least 100ms (0: the default %v)", DefaultTimeout)
	}
	if tokenFile != "" && ba.Set() {
		v.add(p+".bearer_token_file", "give bearer_token_file or basic_auth, not both")
	}
	v.readable(p+".bearer_token_file", tokenFile)
	if ba.Set() {
		if ba.Username == "" {
			v.add(p+".basic_auth.username", "must be set with basic_auth.password_file")
		}
		if ba.PasswordFile == "" {
			v.add(p+".basic_auth.password_file", "must be set with basic_auth.username")
		}
		v.readable(p+".basic_auth.password_file", ba.PasswordFile)
	}
	if tc.Enabled() {
		if !https && len(urls) > 0 {
			v.add(p+".tls", "is set but no URL uses https")
		}
		if (tc.CertFile == "") != (tc.KeyFile == "") {
			v.add(p+".tls", "cert_file and key_file go together")
		}
		v.readable(p+".tls.ca_file", tc.CAFile)
		v.readable(p+".tls.cert_file", tc.CertFile)
		v.readable(p+".tls.key_file", tc.KeyFile)
	}
}

// Duration is facmon's YAML duration ("10s", "5m", "3d").
type Duration = duration.Duration
