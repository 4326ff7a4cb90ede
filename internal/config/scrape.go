package config

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/redact"
)

// ScrapeTarget is one service application whose Prometheus metrics facmon
// scrapes into InfluxDB next to the equipment telemetry.
type ScrapeTarget struct {
	URL  string `yaml:"url"`
	Ward string `yaml:"ward"`
	// App names the application; it is the device tag of its points
	// (class "app"), so "onestop" at two wards are two devices.
	App string `yaml:"app"`
	// Interval and Timeout default to DefaultScrapeInterval and
	// DefaultScrapeTimeout; the timeout covers the request, reading the
	// body and parsing it.
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
	// Labels are extra tags added to every point of the target.
	Labels map[string]string `yaml:"labels"`
	// BearerTokenFile or BasicAuth authenticate the scrape; secrets come
	// from files only, read again on every scrape so a rotated secret is
	// picked up without a restart.
	BearerTokenFile string                `yaml:"bearer_token_file"`
	BasicAuth       *clientauth.BasicAuth `yaml:"basic_auth"`
	TLS             clientauth.TLS        `yaml:"tls"`
	// MaxSeries caps the series taken from one scrape; the rest are
	// dropped and counted, so one misbehaving app cannot flood InfluxDB.
	// Default DefaultScrapeMaxSeries.
	MaxSeries int `yaml:"max_series"`
}

// Scrape defaults, applied by ScrapeTarget.WithDefaults and nowhere else.
const (
	DefaultScrapeInterval  = 15 * time.Second
	DefaultScrapeTimeout   = 5 * time.Second
	DefaultScrapeMaxSeries = 10000
)

// Scrape limits the validation enforces.
const (
	MinScrapeInterval = time.Second
	MaxScrapeSeries   = 1000000
)

// WithDefaults returns t with its unset interval, timeout and max_series
// given their defaults. The collector and the validation both call it, so
// the defaults live here only.
func (t ScrapeTarget) WithDefaults() ScrapeTarget {
	if t.Interval == 0 {
		t.Interval = Duration(DefaultScrapeInterval)
	}
	if t.Timeout == 0 {
		t.Timeout = Duration(min(DefaultScrapeTimeout, t.Interval.D()))
	}
	if t.MaxSeries == 0 {
		t.MaxSeries = DefaultScrapeMaxSeries
	}
	return t
}

// labelNameRe is a Prometheus label name; target labels follow it so they
// read like the labels they sit next to.
var labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// ReservedScrapeLabels are tag keys a target's labels may not use: facmon
// sets class, device and ward itself, le and quantile become field names,
// and InfluxDB refuses "time" as a tag key (and 2.x the _-prefixed ones).
var ReservedScrapeLabels = []string{"class", "device", "ward", "le", "quantile", "time", "_field", "_measurement"}

// validateScrape checks the scrape targets; problems name their field
// path, e.g. scrape[2].url.
func (cfg Config) validateScrape(c *checker) {
	offices := map[string]bool{}
	for _, o := range cfg.Offices {
		offices[o.ID] = true
	}
	seen := map[string]int{}
	for i, raw := range cfg.Scrape {
		path := "scrape[" + strconv.Itoa(i) + "]"
		t := raw.WithDefaults()
		u, err := url.Parse(t.URL)
		switch {
		case t.URL == "":
			c.add(path+".url", "must be set, e.g. http://10.0.1.5:9100/metrics")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			c.add(path+".url", "want an http:// or https:// URL, got %q", redact.URL(t.URL))
		case u.User != nil:
			c.add(path+".url", "must not carry credentials; use basic_auth or bearer_token_file")
		case u.Scheme == "http" && t.TLS.Enabled():
			c.add(path+".tls", "set, but the url is http://")
		}
		switch {
		case t.Ward == "":
			c.add(path+".ward", "must be set: the office whose app this is")
		case !offices[t.Ward]:
			c.add(path+".ward", "no office has id %q", t.Ward)
		}
		if !reading.ValidID(t.App) {
			c.add(path+".app", "%q is not a valid app id (letters, digits, - _ . : up to 64)", t.App)
		}
		key := t.Ward + "/" + t.App
		if prev, dup := seen[key]; dup && t.Ward != "" && t.App != "" {
			c.add(path+".app", "ward %s already has an app %q (scrape[%d]); their points would overwrite each other", t.Ward, t.App, prev)
		} else {
			seen[key] = i
		}
		if t.Interval < Duration(MinScrapeInterval) {
			c.add(path+".interval", "must be at least %v", MinScrapeInterval)
		}
		switch {
		case t.Timeout <= 0:
			c.add(path+".timeout", "must be positive")
		case t.Timeout > t.Interval:
			c.add(path+".timeout", "%v is longer than the interval %v", t.Timeout.D(), t.Interval.D())
		}
		if t.MaxSeries < 1 || t.MaxSeries > MaxScrapeSeries {
			c.add(path+".max_series", "must be between 1 and %d, got %d", MaxScrapeSeries, t.MaxSeries)
		}
		for _, k := range sortedKeys(t.Labels) {
			switch {
			case !labelNameRe.MatchString(k):
				c.add(path+".labels."+k, "not a label name (letters, digits and _, not starting with a digit)")
			case slices.Contains(ReservedScrapeLabels, k):
				c.add(path+".labels."+k, "reserved (class, device, ward, le, quantile, time, _field and _measurement are not target labels)")
			case !reading.SafeLabel(t.Labels[k]):
				c.add(path+".labels."+k, "value must be 1 to %d bytes of printable UTF-8, not ending in a backslash", reading.MaxLabelBytes)
			}
		}
		if t.BearerTokenFile != "" && t.BasicAuth != nil {
			c.add(path, "bearer_token_file and basic_auth exclude each other")
		}
		checkReadable(c, path+".bearer_token_file", t.BearerTokenFile)
		if ba := t.BasicAuth; ba != nil {
			if ba.Username == "" {
				c.add(path+".basic_auth.username", "must be set")
			}
			if ba.PasswordFile == "" {
				c.add(path+".basic_auth.password_file", "must be set (the password comes from a file only)")
			}
			checkReadable(c, path+".basic_auth.password_file", ba.PasswordFile)
		}
		checkReadable(c, path+".tls.ca_file", t.TLS.CAFile)
		checkReadable(c, path+".tls.cert_file", t.TLS.CertFile)
		checkReadable(c, path+".tls.key_file", t.TLS.KeyFile)
		if (t.TLS.CertFile == "") != (t.TLS.KeyFile == "") {
			c.add(path+".tls", "cert_file and key_file go together")
		}
	}
}
