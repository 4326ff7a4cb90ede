package notify

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
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/clientauth"
)

var t0 = time.Date(2026, 11, 23, 2, 15, 0, 123456789, time.UTC)

func doorAlert(device string) Alert {
	return Alert{
		ID: "door-stuck-open/thanh-binh/door/" + device,
		Labels: map[string]string{
			"alertname": "DoorStuckOpen", "severity": "critical",
			"ward": "thanh-binh", "class": "door", "device": device,
		},
		Annotations: map[string]string{
			"summary_vi": "Cửa tự động kẹt mở", "summary_en": "Automatic door stuck open",
			"description_vi": "Cửa " + device + " mở hơn 5 phút", "description_en": "Door " + device + " open for more than 5 minutes",
		},
		StartsAt:     t0,
		GeneratorURL: "http://facmon.example/alerts/door-stuck-open/thanh-binh/door/" + device,
	}
}

// request is one request a test server received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	At           time.Time
}

// recorder is an httptest server that records requests and answers with
// what answer returns (200 when nil).
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	answer func(n int, w http.ResponseWriter, r *http.Request) bool // true: answered
}

func newRecorder(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request) bool) *recorder {
	rec := &recorder{answer: answer}
	rec.Server = httptest.NewServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.reqs)
	rec.reqs = append(rec.reqs, request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()})
	rec.mu.Unlock()
	if rec.answer != nil && rec.answer(n, w, r) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (rec *recorder) requests() []request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]request(nil), rec.reqs...)
}

func decodeAM(t *testing.T, body []byte) []PostableAlert {
	t.Helper()
	var out []PostableAlert
	require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestAlertmanagerRequestShape(t *testing.T) {
	rec := newRecorder(t, nil)
	am, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{rec.URL + "/am/"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, "alertmanager", am.Name())

	firing := doorAlert("door-1")
	firing.Labels["rule label"] = "x" // not a label name: mended
	firing.Labels["9lives"] = "y"     // neither
	firing.Labels["room"] = ""        // empty: left out, as Alertmanager would
	firing.Acknowledged, firing.AckBy, firing.AckComment = true, "anh.nguyen", "đang tới"
	resolved := doorAlert("door-2")
	resolved.EndsAt = t0.Add(10 * time.Minute)
	early := doorAlert("door-3")
	early.EndsAt = t0.Add(-time.Second) // ends before it starts: clamped
	validUntil := t0.Add(4 * time.Minute)

	require.NoError(t, am.NotifyUntil(context.Background(), []Alert{firing, resolved, early}, validUntil))
	reqs := rec.requests()
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
	got := decodeAM(t, r.Body)
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
	require.NoError(t, am.Notify(context.Background(), []Alert{doorAlert("door-1")}))
	assert.Empty(t, decodeAM(t, rec.requests()[1].Body)[0].EndsAt)
}

func TestLabelName(t *testing.T) {
	for in, want := range map[string]string{
		"ward": "ward", "_x": "_x", "a1": "a1", "1a": "_1a", "a-b.c": "a_b_c", "": "_", "phường": "ph__ng",
	} {
		assert.Equal(t, want, labelName(in), in)
	}
}

func TestAlertmanagerAuth(t *testing.T) {
	rec := newRecorder(t, nil)
	tok := writeFile(t, "token", "s3cret-token\n")
	am, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{rec.URL}, BearerTokenFile: tok}, nil)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []Alert{doorAlert("door-1")}))
	assert.Equal(t, "Bearer s3cret-token", rec.requests()[0].Header.Get("Authorization"))

	// The file is read on every request: a rotated token is used at once.
	require.NoError(t, os.WriteFile(tok, []byte("rotated"), 0o600))
	require.NoError(t, am.Notify(context.Background(), []Alert{doorAlert("door-1")}))
	assert.Equal(t, "Bearer rotated", rec.requests()[1].Header.Get("Authorization"))

	pw := writeFile(t, "pw", "mật-khẩu\n")
	am, err = NewAlertmanager(AlertmanagerConfig{URLs: []string{rec.URL}, BasicAuth: clientauth.BasicAuth{Username: "facmon", PasswordFile: pw}}, nil)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []Alert{doorAlert("door-1")}))
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.Header = rec.requests()[2].Header
	user, pass, ok := req.BasicAuth()
	assert.True(t, ok)
	assert.Equal(t, "facmon", user)
	assert.Equal(t, "mật-khẩu", pass)

	// A missing secret file fails the request (retryable: the operator can
	// put it back) and never reaches the receiver.
	am, err = NewAlertmanager(AlertmanagerConfig{URLs: []string{rec.URL}, BearerTokenFile: filepath.Join(t.TempDir(), "missing")}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []Alert{doorAlert("door-1")})
	require.Error(t, err)
	assert.True(t, Retryable(err))
	assert.Len(t, rec.requests(), 3)
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
		rec := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			http.Error(w, "no luck", tc.status)
			return true
		})
		am, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{rec.URL}}, nil)
		require.NoError(t, err)
		err = am.Notify(context.Background(), []Alert{doorAlert("door-1")})
		var he *HTTPError
		require.ErrorAs(t, err, &he, "status %d", tc.status)
		assert.Equal(t, tc.status, he.StatusCode)
		assert.Equal(t, "no luck", he.Body)
		assert.Equal(t, tc.retryable, Retryable(err), "status %d", tc.status)
		assert.Equal(t, tc.wait, RetryAfter(err), "status %d", tc.status)
	}
	// Network errors are retryable; the URL in the error has no credentials.
	am, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{"http://127.0.0.1:1"}}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []Alert{doorAlert("door-1")})
	require.Error(t, err)
	assert.True(t, Retryable(err))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 15, 0, 0, time.UTC)
	assert.Equal(t, 3*time.Second, parseRetryAfter("3", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("-3", now))
	assert.Equal(t, time.Duration(0), parseRetryAfter("", now))
	assert.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	assert.Equal(t, time.Duration(0), parseRetryAfter(now.Add(-time.Hour).Format(http.TimeFormat), now))
}

func TestAlertmanagerHAFanout(t *testing.T) {
	ok := newRecorder(t, nil)
	down := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return true
	})
	refuses := newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusBadRequest)
		return true
	})
	busy := func(after string) *recorder {
		return newRecorder(t, func(_ int, w http.ResponseWriter, _ *http.Request) bool {
			w.Header().Set("Retry-After", after)
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		})
	}
	busy2, busy5 := busy("2"), busy("5")
	mk := func(urls ...string) *Alertmanager {
		am, err := NewAlertmanager(AlertmanagerConfig{URLs: urls}, nil)
		require.NoError(t, err)
		return am
	}
	alerts := []Alert{doorAlert("door-1")}

	// Every member gets the same body; one accepting is enough.
	require.NoError(t, mk(ok.URL, down.URL, "http://127.0.0.1:1").Notify(context.Background(), alerts))
	require.Len(t, ok.requests(), 1)
	require.Len(t, down.requests(), 1)
	assert.Equal(t, ok.requests()[0].Body, down.requests()[0].Body)

	// All failing: retryable when any is, with the shortest Retry-After.
	err := mk(busy2.URL, busy5.URL).Notify(context.Background(), alerts)
	require.Error(t, err)
	assert.True(t, Retryable(err))
	assert.Equal(t, 2*time.Second, RetryAfter(err))
	assert.Contains(t, err.Error(), "every Alertmanager failed")

	err = mk(busy5.URL, down.URL).Notify(context.Background(), alerts)
	assert.True(t, Retryable(err))
	assert.Equal(t, time.Duration(0), RetryAfter(err), "one member without Retry-After: the normal backoff")

	err = mk(refuses.URL, down.URL).Notify(context.Background(), alerts)
	assert.True(t, Retryable(err))
	err = mk(refuses.URL, refuses.URL+"/x").Notify(context.Background(), alerts)
	assert.False(t, Retryable(err), "every member refused the alerts for good")
}

func TestAlertmanagerTimeout(t *testing.T) {
	release := make(chan struct{})
	hang := newRecorder(t, func(_ int, w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	defer close(release)
	am, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{hang.URL}, Timeout: Duration(200 * time.Millisecond)}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []Alert{doorAlert("door-1")})
	require.Error(t, err)
	assert.True(t, Retryable(err))
}

func TestAlertmanagerTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	defer srv.Close()
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))

	am, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{srv.URL}, TLS: clientauth.TLS{CAFile: ca}}, nil)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []Alert{doorAlert("door-1")}))

	am, err = NewAlertmanager(AlertmanagerConfig{URLs: []string{srv.URL}}, nil)
	require.NoError(t, err)
	err = am.Notify(context.Background(), []Alert{doorAlert("door-1")})
	require.Error(t, err, "the test CA is not trusted by default")
	assert.Contains(t, err.Error(), "certificate")

	_, err = NewAlertmanager(AlertmanagerConfig{URLs: []string{srv.URL}, TLS: clientauth.TLS{CAFile: writeFile(t, "bad.pem", "not pem")}}, nil)
	assert.ErrorContains(t, err, "no PEM certificate")
}

func TestAlertmanagerLogsNoSecrets(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ok := newRecorder(t, nil)
	tok := writeFile(t, "token", "very-secret-token")
	am, err := NewAlertmanager(AlertmanagerConfig{URLs: []string{ok.URL, "http://127.0.0.1:1/?key=query-secret"}, BearerTokenFile: tok}, log)
	require.NoError(t, err)
	require.NoError(t, am.Notify(context.Background(), []Alert{doorAlert("door-1")}))
	assert.Contains(t, logs.String(), "refused or missed a post")
	assert.NotContains(t, logs.String(), "very-secret-token")
	assert.NotContains(t, logs.String(), "query-secret")
}
