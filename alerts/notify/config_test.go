package notify_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/notify/notifytest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/internal/clientauth"
)

func TestConfigYAML(t *testing.T) {
	tok := notifytest.WriteFile(t, "token", "t")
	secret := notifytest.WriteFile(t, "secret", "s")
	pw := notifytest.WriteFile(t, "pw", "p")
	doc := `
alertmanager:
  urls: [http://am-1:9093, "http://am-2:9093/alertmanager/"]
  timeout: 5s
  bearer_token_file: ` + tok + `
webhooks:
  - name: helpdesk
    url: https://helpdesk.example/api/facmon
    secret_file: ` + secret + `
    basic_auth: {username: facmon, password_file: ` + pw + `}
repost_interval: 30s
give_up_after: 2h
max_retry_interval: 30s
queue_size: 500
batch_size: 32
batch_wait: 100ms
`
	var c notify.Config
	require.NoError(t, yaml.Unmarshal([]byte(doc), &c))
	assert.Empty(t, c.Validate("notifiers"))
	assert.True(t, c.Enabled())
	assert.Equal(t, []string{"http://am-1:9093", "http://am-2:9093/alertmanager/"}, c.Alertmanager.URLs)
	assert.Equal(t, 5*time.Second, c.Alertmanager.Timeout.D())
	assert.Equal(t, "helpdesk", c.Webhooks[0].Name)
	assert.Equal(t, "facmon", c.Webhooks[0].BasicAuth.Username)
	assert.Equal(t, 30*time.Second, c.RepostInterval.D())
	assert.Equal(t, 2*time.Hour, c.GiveUpAfter.D())
	assert.Equal(t, 500, c.QueueSize)
	assert.Equal(t, 32, c.BatchSize)
	assert.Equal(t, 100*time.Millisecond, c.BatchWait.D())

	ns, err := notify.NewNotifiers(c, nil)
	require.NoError(t, err)
	require.Len(t, ns, 2)
	assert.Equal(t, "alertmanager", ns[0].Name())
	assert.Equal(t, "webhook:helpdesk", ns[1].Name())
	assert.Equal(t, []string{"http://am-1:9093/api/v2/alerts", "http://am-2:9093/alertmanager/api/v2/alerts"}, notify.AlertmanagerURLs(ns[0].(*notify.Alertmanager)))
	_, isReposter := ns[0].(notify.Reposter)
	assert.True(t, isReposter)
	_, isReposter = ns[1].(notify.Reposter)
	assert.False(t, isReposter)

	// Round trip.
	out, err := yaml.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(out), "repost_interval: 30s")
	var back notify.Config
	require.NoError(t, yaml.Unmarshal(out, &back))
	assert.Equal(t, c, back)
}

func TestConfigDefaults(t *testing.T) {
	var empty notify.Config
	assert.Empty(t, empty.Validate("notifiers"))
	assert.False(t, empty.Enabled())
	ns, err := notify.NewNotifiers(empty, nil)
	require.NoError(t, err)
	assert.Empty(t, ns)
	assert.Empty(t, notify.DefaultConfig().Validate("notifiers"))
	assert.False(t, notify.DefaultConfig().Enabled())
}

func TestConfigValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	pw := notifytest.WriteFile(t, "pw", "p")
	for _, tc := range []struct {
		name string
		c    notify.Config
		want []string // "path: message fragment"
	}{
		{"bad URLs", notify.Config{Alertmanager: notify.AlertmanagerConfig{URLs: []string{"am:9093", "ftp://am", "http://user:pw@am:9093", "http://am:9093/", "http://am:9093", "http://am:9093/?x=1"}}}, []string{
			"notifiers.alertmanager.urls[0]: want an http:// or https:// URL",
			"notifiers.alertmanager.urls[1]: want an http:// or https:// URL",
			"notifiers.alertmanager.urls[2]: must not carry credentials",
			"notifiers.alertmanager.urls[4]: same URL as notifiers.alertmanager.urls[3]",
			"notifiers.alertmanager.urls[5]: must not have a query",
		}},
		{"settings without URL", notify.Config{Alertmanager: notify.AlertmanagerConfig{BearerTokenFile: pw}}, []string{
			"notifiers.alertmanager.urls: must list at least one URL",
		}},
		{"auth", notify.Config{Alertmanager: notify.AlertmanagerConfig{URLs: []string{"http://am"}, BearerTokenFile: missing, BasicAuth: clientauth.BasicAuth{Username: "x"}}}, []string{
			"notifiers.alertmanager.bearer_token_file: give bearer_token_file or basic_auth, not both",
			"notifiers.alertmanager.bearer_token_file: cannot read",
			"notifiers.alertmanager.basic_auth.password_file: must be set with basic_auth.username",
		}},
		{"tls", notify.Config{Alertmanager: notify.AlertmanagerConfig{URLs: []string{"http://am"}, TLS: clientauth.TLS{CertFile: missing}}}, []string{
			"notifiers.alertmanager.tls: is set but no URL uses https",
			"notifiers.alertmanager.tls: cert_file and key_file go together",
			"notifiers.alertmanager.tls.cert_file: cannot read",
		}},
		{"timeouts", notify.Config{Alertmanager: notify.AlertmanagerConfig{URLs: []string{"http://am"}, Timeout: notify.Duration(time.Millisecond)}, RepostInterval: notify.Duration(-time.Second), GiveUpAfter: notify.Duration(time.Millisecond), BatchWait: notify.Duration(time.Minute)}, []string{
			"notifiers.alertmanager.timeout: must be at least 100ms",
			"notifiers.repost_interval: must not be negative",
			"notifiers.give_up_after: must be at least 1s",
			"notifiers.batch_wait: must be at most 10s",
		}},
		{"give up before re-post", notify.Config{Alertmanager: notify.AlertmanagerConfig{URLs: []string{"http://am"}}, RepostInterval: notify.Duration(10 * time.Minute), GiveUpAfter: notify.Duration(time.Minute)}, []string{
			"notifiers.give_up_after: must be at least repost_interval",
		}},
		{"sizes", notify.Config{QueueSize: -1, BatchSize: 100000}, []string{
			"notifiers.queue_size: must not be negative",
			"notifiers.batch_size: must be between 1 and 10000",
		}},
		{"webhooks", notify.Config{Webhooks: []notify.WebhookConfig{
			{URL: "http://a"},
			{Name: "Bad Name", URL: "http://b"},
			{Name: "x", URL: ""},
			{Name: "x", URL: "https://c", SecretFile: missing},
			{Name: "y", URL: "mailto:x@y"},
		}}, []string{
			"notifiers.webhooks[0].name: must be set",
			`notifiers.webhooks[1].name: "Bad Name": want lowercase letters`,
			"notifiers.webhooks[2].url: must be set",
			"notifiers.webhooks[3].name: \"x\" is also the name of webhooks[2]",
			"notifiers.webhooks[3].secret_file: cannot read",
			"notifiers.webhooks[4].url: want an http:// or https:// URL",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := tc.c.Validate("notifiers")
			require.Error(t, errs.Err())
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			for _, w := range tc.want {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, w)
				}
				assert.True(t, found, "want %q among:\n%s", w, strings.Join(got, "\n"))
			}
			assert.Len(t, got, len(tc.want), "%s", strings.Join(got, "\n"))
			assert.NotContains(t, errs.Error(), "user:pw", "credentials are not repeated in messages")
		})
	}
	// No prefix: paths start at the section.
	errs := notify.Config{QueueSize: -1}.Validate("")
	require.Len(t, errs, 1)
	assert.Equal(t, "queue_size", errs[0].Path)
}

func TestDurationYAML(t *testing.T) {
	var c struct {
		D notify.Duration `yaml:"d"`
	}
	require.NoError(t, yaml.Unmarshal([]byte("d: 1m30s"), &c))
	assert.Equal(t, 90*time.Second, c.D.D())
	assert.ErrorContains(t, yaml.Unmarshal([]byte("d: 10 minutes"), &c), `bad duration "10 minutes"`)
	assert.ErrorContains(t, yaml.Unmarshal([]byte("d: [1]"), &c), "want a duration")
}
