package notify

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"ward": "ward", "_x": "_x", "a1": "a1", "1a": "_1a", "a-b.c": "a_b_c", "": "_", "phường": "ph__ng",
	} {
		assert.Equal(t, want, labelName(in), in)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 15, 0, 0, time.UTC)
	assert.Equal(t, 3*time.Second, parseRetryAfter("3", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("-3", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("", now))
	assert.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now))
}

// What the external tests (package notify_test) may reach inside.

// SetWebhookClock makes the webhook sign with now's time.
func SetWebhookClock(wh *Webhook, now func() time.Time) { wh.now = now }

// AlertmanagerURLs are the alert endpoints the notifier posts to.
func AlertmanagerURLs(am *Alertmanager) []string { return am.urls }
