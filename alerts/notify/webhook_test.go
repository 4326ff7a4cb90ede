package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/notify/notifytest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhookPayloadAndSignature(t *testing.T) {
	secret := notifytest.WriteFile(t, "secret", "webhook-key\n")
	rec := notifytest.NewRecorder(t, nil)
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "helpdesk", URL: rec.URL + "/hook?team=it", SecretFile: secret}, nil)
	require.NoError(t, err)
	assert.Equal(t, "webhook:helpdesk", wh.Name())
	now := time.Unix(1795400100, 0)
	notify.SetWebhookClock(wh, func() time.Time { return now })

	firing := notifytest.DoorAlert("door-1")
	firing.Acknowledged, firing.AckBy = true, "anh.nguyen"
	resolved := notifytest.DoorAlert("door-2")
	resolved.EndsAt = notifytest.T0.Add(5 * time.Minute)
	require.NoError(t, wh.Notify(context.Background(), []notify.Alert{firing, resolved}))

	reqs := rec.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, "/hook", r.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Equal(t, "1795400100", r.Header.Get(notify.HeaderTimestamp))

	var p notify.WebhookPayload
	require.NoError(t, json.Unmarshal(r.Body, &p))
	assert.Equal(t, "1", p.Version)
	assert.Equal(t, "firing", p.Status, "firing when any alert fires")
	require.Len(t, p.Alerts, 2)
	assert.Equal(t, firing.ID, p.Alerts[0].ID)
	assert.Equal(t, "firing", p.Alerts[0].Status)
	assert.Equal(t, firing.Labels, p.Alerts[0].Labels)
	assert.Equal(t, firing.Annotations, p.Alerts[0].Annotations)
	assert.Equal(t, "2026-11-23T02:15:00.123456789Z", p.Alerts[0].StartsAt)
	assert.Empty(t, p.Alerts[0].EndsAt)
	assert.True(t, p.Alerts[0].Acknowledged)
	assert.Equal(t, "anh.nguyen", p.Alerts[0].AckBy)
	assert.Equal(t, "resolved", p.Alerts[1].Status)
	assert.Equal(t, "2026-11-23T02:20:00.123456789Z", p.Alerts[1].EndsAt)

	// The receiver's side.
	key := []byte("webhook-key")
	require.NoError(t, notify.VerifySignature(key, r.Header, r.Body, now.Add(time.Minute), 0))
	assert.ErrorIs(t, notify.VerifySignature([]byte("other-key"), r.Header, r.Body, now, 0), notify.ErrBadSignature)
	tampered := append([]byte(nil), r.Body...)
	tampered[len(tampered)-2] = ' '
	assert.ErrorIs(t, notify.VerifySignature(key, r.Header, tampered, now, 0), notify.ErrBadSignature)
	assert.ErrorIs(t, notify.VerifySignature(key, r.Header, r.Body, now.Add(10*time.Minute), 0), notify.ErrStale, "a replay 10 minutes later")
	assert.ErrorIs(t, notify.VerifySignature(key, r.Header, r.Body, now.Add(-10*time.Minute), 0), notify.ErrStale)
	// Moving the timestamp forward to replay the request breaks the signature.
	h := r.Header.Clone()
	h.Set(notify.HeaderTimestamp, strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10))
	assert.ErrorIs(t, notify.VerifySignature(key, h, r.Body, now.Add(10*time.Minute), 0), notify.ErrBadSignature)
	assert.ErrorIs(t, notify.VerifySignature(key, http.Header{}, r.Body, now, 0), notify.ErrNoSignature)

	// The documented algorithm, step by step.
	assert.Equal(t, notify.Sign(key, "1795400100", r.Body), r.Header.Get(notify.HeaderSignature))
	assert.Regexp(t, `^sha256=[0-9a-f]{64}$`, r.Header.Get(notify.HeaderSignature))
}

func TestWebhookWithoutSecretAndResolvedStatus(t *testing.T) {
	rec := notifytest.NewRecorder(t, nil)
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "x", URL: rec.URL}, nil)
	require.NoError(t, err)
	a := notifytest.DoorAlert("door-1")
	a.EndsAt = notifytest.T0.Add(time.Minute)
	require.NoError(t, wh.Notify(context.Background(), []notify.Alert{a}))
	r := rec.Requests()[0]
	assert.Empty(t, r.Header.Get(notify.HeaderSignature))
	assert.Empty(t, r.Header.Get(notify.HeaderTimestamp))
	var p notify.WebhookPayload
	require.NoError(t, json.Unmarshal(r.Body, &p))
	assert.Equal(t, "resolved", p.Status)
}

func TestWebhookErrors(t *testing.T) {
	rec := notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Retry-After", "4")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "x", URL: rec.URL}, nil)
	require.NoError(t, err)
	err = wh.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
	assert.True(t, notify.Retryable(err))
	assert.Equal(t, 4*time.Second, notify.RetryAfter(err))

	// A missing secret file: nothing is sent unsigned.
	wh, err = notify.NewWebhook(notify.WebhookConfig{Name: "x", URL: rec.URL, SecretFile: "/nonexistent/secret"}, nil)
	require.NoError(t, err)
	require.Error(t, wh.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")}))
	assert.Len(t, rec.Requests(), 1)
}

// Webhook services carry their token in the path (Slack, Teams, Telegram):
// a failing webhook's error names only its scheme and host.
func TestWebhookErrorsHideThePathToken(t *testing.T) {
	for _, hook := range []string{
		"http://127.0.0.1:1/services/T000/B000/PATHSECRET",
		"http://127.0.0.1:1/bot123:PATHSECRET/sendMessage?chat_id=QUERYSECRET",
	} {
		wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "chat", URL: hook}, nil)
		require.NoError(t, err)
		err = wh.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "http://127.0.0.1:1")
		assert.NotContains(t, err.Error(), "PATHSECRET")
		assert.NotContains(t, err.Error(), "QUERYSECRET")
	}
	rec := notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusForbidden)
		return true
	})
	wh, err := notify.NewWebhook(notify.WebhookConfig{Name: "chat", URL: rec.URL + "/hook/PATHSECRET"}, nil)
	require.NoError(t, err)
	err = wh.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "PATHSECRET", "an HTTP error status names the endpoint only")
}
