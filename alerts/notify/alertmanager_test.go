package notify_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/notify/notifytest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/clientauth"
)

func TestAlertmanagerRequestShape(t *testing.T) {
	rec := notifytest.NewRecorder(t, nil)
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{rec.URL + "/am/"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, "alertmanager", am.Name())

	firing := notifytest.DoorAlert("door-1")
	firing.Labels["rule label"] = "x" // not a label name: mended
	firing.Labels["9lives"] = "y"     // neither
	firing.Labels["room"] = ""        // empty: left out, as Alertmanager would
	firing.Acknowledged, firing.AckBy, firing.AckComment = true, "anh.nguyen", "đang tới"
	resolved := notifytest.DoorAlert("door-2")
	resolved.EndsAt = notifytest.T0.Add(10 * time.Minute)
	early := notifytest.DoorAlert("door-3")
	early.EndsAt = notifytest.T0.Add(-time.Second) // ends before it starts: clamped
	validUntil := notifytest.T0.Add(4 * time.Minute)

	require.NoError(t, am.NotifyUntil(context.Background(), []notify.Alert{firing, resolved, early}, validUntil))
	reqs := rec.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodPost, r.Method)
	assert.Equal(t, "/am/api/v2/alerts", r.Path)
	assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
	assert.Empty(t, r.Header.Get("Authorization"))

	// The raw JSON: exactly the fields of postableAlert.
	var raw []map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &raw))
	require.Len(t, raw, 3)
	for _, a := range raw {
		for k := range a {
			assert.Contains(t, []string{"labels", "annotations", "startsAt", "endsAt", "generatorURL"}, k)
		}
	}
	got := notifytest.DecodeAM(t, r.Body)
	assert.Equal(t, map[string]string{
		"alertname": "DoorStuckOpen", "severity": "critical", "ward": "thanh-binh", "class": "door", "device": "door-1",
		"rule_label": "x", "_9lives": "y",
	}, got[0].Labels)
	assert.Equal(t, "Cửa tự động kẹt mở", got[0].Annotations["summary_vi"])
	assert.Equal(t, "anh.nguyen", got[0].Annotations["acknowledged_by"])
	assert.Equal(t, "đang tới", got[0].Annotations["acknowledged_comment"])
	assert.Equal(t, "2026-11-23T02:15:00.123Z", got[0].StartsAt)
	assert.Equal(t, "2026-11-23T02:19:00.123Z", got[0].EndsAt, "firing: endsAt = validUntil")
	assert.Equal(t, firing.GeneratorURL, got[0].GeneratorURL)
	assert.Equal(t, "2026-11-23T02:25:00.123Z", got[1].EndsAt, "resolved: the real end")
	assert.Equal(t, got[2].StartsAt, got[2].EndsAt, "an end before the start is clamped")

	// Notify (without the dispatcher) leaves endsAt out of firing alerts.
	require.NoError(t, am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")}))
	assert.Empty(t, notifytest.DecodeAM(t, rec.Requests()[1].Body)[0].EndsAt)
}

func TestAlertmanagerAuth(t *testing.T) {
	rec := notifytest.NewRecorder(t, nil)
	tok := notifytest.WriteFile(t, "token", "s3cret-token\n")
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{rec.URL}, BearerTokenFile: tok}, nil)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")}))
	assert.Equal(t, "Bearer s3cret-token", rec.Requests()[0].Header.Get("Authorization"))

	// The file is read on every request: a rotated token is used at once.
	require.NoError(t, os.WriteFile(tok, []byte("rotated"), 0o600))
	require.NoError(t, am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")}))
	assert.Equal(t, "Bearer rotated", rec.Requests()[1].Header.Get("Authorization"))

	pw := notifytest.WriteFile(t, "pw", "mật-khẩu\n")
	am, err = notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{rec.URL}, BasicAuth: clientauth.BasicAuth{Username: "facmon", PasswordFile: pw}}, nil)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")}))
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.Header = rec.Requests()[2].Header
	user, pass, ok := req.BasicAuth()
	assert.True(t, ok)
	assert.Equal(t, "facmon", user)
	assert.Equal(t, "mật-khẩu", pass)

	// A missing secret file fails the request (retryable: the operator can
	// put it back) and never reaches the receiver.
	am, err = notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{rec.URL}, BearerTokenFile: filepath.Join(t.TempDir(), "missing")}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
	require.Error(t, err)
	assert.True(t, notify.Retryable(err))
	assert.Len(t, rec.Requests(), 3)
}

func TestAlertmanagerStatuses(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		retryable  bool
		wait       time.Duration
	}{
		{400, "", false, 0},
		{401, "", false, 0},
		{404, "", false, 0},
		{408, "", true, 0},
		{429, "7", true, 7 * time.Second},
		{500, "", true, 0},
		{503, "2", true, 2 * time.Second},
		{503, "soon", true, 0},
	} {
		rec := notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			http.Error(w, "no luck", tc.status)
			return true
		})
		am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{rec.URL}}, nil)
		require.NoError(t, err)
		err = am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
		var he *notify.HTTPError
		require.ErrorAs(t, err, &he, "status %d", tc.status)
		assert.Equal(t, tc.status, he.StatusCode)
		assert.Equal(t, "no luck", he.Body)
		assert.Equal(t, tc.retryable, notify.Retryable(err), "status %d", tc.status)
		assert.Equal(t, tc.wait, notify.RetryAfter(err), "status %d", tc.status)
	}
	// Network errors are retryable; the URL in the error has no credentials.
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{"http://127.0.0.1:1"}}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
	require.Error(t, err)
	assert.True(t, notify.Retryable(err))
}

func TestAlertmanagerHAFanout(t *testing.T) {
	ok := notifytest.NewRecorder(t, nil)
	down := notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	refuses := notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusBadRequest)
		return true
	})
	busy := func(after string) *notifytest.Recorder {
		return notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Retry-After", after)
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		})
	}
	busy2, busy5 := busy("2"), busy("5")
	mk := func(urls ...string) *notify.Alertmanager {
		am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: urls}, nil)
		require.NoError(t, err)
		return am
	}
	alerts := []notify.Alert{notifytest.DoorAlert("door-1")}

	// Every member gets the same body; one accepting is enough.
	require.NoError(t, mk(ok.URL, down.URL, "http://127.0.0.1:1").Notify(context.Background(), alerts))
	require.Len(t, ok.Requests(), 1)
	require.Len(t, down.Requests(), 1)
	assert.Equal(t, ok.Requests()[0].Body, down.Requests()[0].Body)

	// All failing: retryable when any is, with the shortest Retry-After.
	err := mk(busy2.URL, busy5.URL).Notify(context.Background(), alerts)
	require.Error(t, err)
	assert.True(t, notify.Retryable(err))
	assert.Equal(t, 2*time.Second, notify.RetryAfter(err))
	assert.Contains(t, err.Error(), "every Alertmanager failed")

	err = mk(busy5.URL, down.URL).Notify(context.Background(), alerts)
	assert.True(t, notify.Retryable(err))
	assert.Equal(t, time.Duration(0), notify.RetryAfter(err), "one member without Retry-After: the normal backoff")

	err = mk(refuses.URL, down.URL).Notify(context.Background(), alerts)
	assert.True(t, notify.Retryable(err))
	err = mk(refuses.URL, refuses.URL+"/x").Notify(context.Background(), alerts)
	assert.False(t, notify.Retryable(err), "every member refused the alerts for good")
}

func TestAlertmanagerTimeout(t *testing.T) {
	release := make(chan struct{})
	hang := notifytest.NewRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	defer close(release)
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{hang.URL}, Timeout: notify.Duration(200 * time.Millisecond)}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
	require.Error(t, err)
	assert.True(t, notify.Retryable(err))
}

func TestAlertmanagerTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	ca := notifytest.WriteFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))

	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{srv.URL}, TLS: clientauth.TLS{CAFile: ca}}, nil)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")}))

	am, err = notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{srv.URL}}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")})
	require.Error(t, err, "the test CA is not trusted by default")
	assert.Contains(t, err.Error(), "certificate")

	_, err = notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{srv.URL}, TLS: clientauth.TLS{CAFile: notifytest.WriteFile(t, "bad.pem", "not pem")}}, nil)
	assert.ErrorContains(t, err, "no PEM certificate")
}

func TestAlertmanagerLogsNoSecrets(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ok := notifytest.NewRecorder(t, nil)
	tok := notifytest.WriteFile(t, "token", "very-secret-token")
	am, err := notify.NewAlertmanager(notify.AlertmanagerConfig{URLs: []string{ok.URL, "http://127.0.0.1:1/?key=query-secret"}, BearerTokenFile: tok}, log)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []notify.Alert{notifytest.DoorAlert("door-1")}))
	assert.Contains(t, logs.String(), "refused or missed a post")
	assert.NotContains(t, logs.String(), "very-secret-token")
	assert.NotContains(t, logs.String(), "query-secret")
}
