package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/clientauth"
)

func TestScrapeDefaults(t *testing.T) {
	d := ScrapeTarget{URL: "http://x/metrics"}.WithDefaults()
	assert.Equal(t, DefaultScrapeInterval, d.Interval.D())
	assert.Equal(t, DefaultScrapeTimeout, d.Timeout.D())
	assert.Equal(t, DefaultScrapeMaxSeries, d.MaxSeries)
	// A short interval gets a timeout that fits in it.
	d = ScrapeTarget{Interval: Duration(2 * time.Second)}.WithDefaults()
	assert.Equal(t, 2*time.Second, d.Timeout.D())
	// Values given are kept.
	d = ScrapeTarget{Interval: Duration(time.Minute), Timeout: Duration(20 * time.Second), MaxSeries: 7}.WithDefaults()
	assert.Equal(t, ScrapeTarget{Interval: Duration(time.Minute), Timeout: Duration(20 * time.Second), MaxSeries: 7}, d)
}

func TestScrapeSectionParses(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte("x\n"), 0o600))
	yml := `
scrape:
  - url: http://10.0.1.5:9100/metrics
    ward: thanh-binh
    app: onestop
  - url: https://10.0.2.7/metrics
    ward: hai-chau-1
    app: dossier
    interval: 30s
    timeout: 10s
    max_series: 500
    labels: {zone: back-office}
    basic_auth: {username: facmon, password_file: ` + pw + `}
    tls: {insecure_skip_verify: true}
`
	cfg, err := Parse("facmon.yaml", []byte(yml), Overrides{})
	require.NoError(t, err)
	require.Len(t, cfg.Scrape, 2)
	s := cfg.Scrape[1]
	assert.Equal(t, 30*time.Second, s.Interval.D())
	assert.Equal(t, 10*time.Second, s.Timeout.D())
	assert.Equal(t, 500, s.MaxSeries)
	assert.Equal(t, map[string]string{"zone": "back-office"}, s.Labels)
	assert.Equal(t, &clientauth.BasicAuth{Username: "facmon", PasswordFile: pw}, s.BasicAuth)
	assert.True(t, s.TLS.InsecureSkipVerify)
	c := &checker{}
	cfg.validateScrape(c)
	assert.Empty(t, c.ps)

	_, err = Parse("facmon.yaml", []byte("scrape:\n  - url: http://x/metrics\n    intervall: 5s\n"), Overrides{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "scrape[0].intervall")
}

func TestScrapeProblemsNameTheirPath(t *testing.T) {
	cfg := Default()
	ok := ScrapeTarget{URL: "http://10.0.1.5:9100/metrics", Ward: "thanh-binh", App: "onestop"}
	bad := func(f func(*ScrapeTarget)) ScrapeTarget {
		t := ok
		t.Labels = nil
		f(&t)
		return t
	}
	cfg.Scrape = []ScrapeTarget{
		ok,
		bad(func(t *ScrapeTarget) { t.URL = "ftp://x/metrics"; t.Ward = "son-tra"; t.App = "one stop" }),
		bad(func(t *ScrapeTarget) { t.URL = "http://user:pw@x/metrics"; t.App = "kiosk" }),
		bad(func(t *ScrapeTarget) {
			t.App = "kiosk2"
			t.Interval = Duration(500 * time.Millisecond)
			t.Timeout = Duration(time.Second)
			t.MaxSeries = -1
		}),
		bad(func(t *ScrapeTarget) {
			t.App = "kiosk3"
			t.Labels = map[string]string{"ward": "x", "9lives": "x", "note": "line\nbreak", "zone": "a"}
		}),
		bad(func(t *ScrapeTarget) {
			t.App = "kiosk4"
			t.BearerTokenFile = "/nonexistent/token"
			t.BasicAuth = &clientauth.BasicAuth{}
			t.TLS = clientauth.TLS{CertFile: "/nonexistent/cert.pem"}
		}),
		ok, // the same app at the same ward twice
		bad(func(t *ScrapeTarget) { t.App = "kiosk5"; t.TLS = clientauth.TLS{InsecureSkipVerify: true} }),
		bad(func(t *ScrapeTarget) { t.URL = ""; t.Ward = ""; t.App = "kiosk6" }),
	}
	c := &checker{}
	cfg.validateScrape(c)
	var got []string
	for _, p := range c.ps {
		got = append(got, p.Path+": "+p.Msg)
	}
	want := []string{
		`scrape[1].url: want an http:// or https:// URL, got "ftp://x/metrics"`,
		`scrape[1].ward: no office has id "son-tra"`,
		`scrape[1].app: "one stop" is not a valid app id`,
		`scrape[2].url: must not carry credentials`,
		`scrape[3].interval: must be at least 1s`,
		`scrape[3].timeout: 1s is longer than the interval 500ms`,
		`scrape[3].max_series: must be between 1 and 1000000, got -1`,
		`scrape[4].labels.9lives: not a label name`,
		`scrape[4].labels.note: value must be 1 to 128 bytes`,
		`scrape[4].labels.ward: reserved`,
		`scrape[5].tls: set, but the url is http://`,
		`scrape[5]: bearer_token_file and basic_auth exclude each other`,
		`scrape[5].bearer_token_file: cannot read /nonexistent/token`,
		`scrape[5].basic_auth.username: must be set`,
		`scrape[5].basic_auth.password_file: must be set`,
		`scrape[5].tls.cert_file: cannot read /nonexistent/cert.pem`,
		`scrape[5].tls: cert_file and key_file go together`,
		`scrape[6].app: ward thanh-binh already has an app "onestop" (scrape[0])`,
		`scrape[7].tls: set, but the url is http://`,
		`scrape[8].url: must be set`,
		`scrape[8].ward: must be set`,
	}
	require.Len(t, got, len(want), strings.Join(got, "\n"))
	for i, w := range want {
		assert.True(t, strings.HasPrefix(got[i], w), "got  %s\nwant %s…", got[i], w)
	}
}
