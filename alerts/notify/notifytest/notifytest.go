// Package notifytest is what the tests of the notifiers, the dispatcher and the
// silencer share: a door alert as the engine sends it, a recording HTTP receiver
// that stands in for Alertmanager or a webhook, the decoding of what Alertmanager
// was posted, and the reading of a metric from a registry.
package notifytest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/notify"
)

// T0 is when DoorAlert's alerts started firing.
var T0 = time.Date(2026, 11, 23, 2, 15, 0, 123456789, time.UTC)

// AMTime is the date-time format of Alertmanager's API v2 (RFC 3339 in UTC,
// milliseconds), written out here as the specification gives it, not taken from
// the code under test.
const AMTime = "2006-01-02T15:04:05.000Z07:00"

// DoorAlert is the DoorStuckOpen alert of device in Thanh Bình, as the engine
// sends it.
func DoorAlert(device string) notify.Alert {
	return notify.Alert{
		ID: "door-stuck-open/thanh-binh/door/" + device,
		Labels: map[string]string{
			"alertname": "DoorStuckOpen", "severity": "critical",
			"ward": "thanh-binh", "class": "door", "device": device,
		},
		Annotations: map[string]string{
			"summary_vi": "Cửa tự động kẹt mở", "summary_en": "Automatic door stuck open",
			"description_vi": "Cửa " + device + " mở hơn 5 phút", "description_en": "Door " + device + " open for more than 5 minutes",
		},
		StartsAt:     T0,
		GeneratorURL: "http://facmon.example/alerts/door-stuck-open/thanh-binh/door/" + device,
	}
}

// Request is one request a Recorder received.
type Request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
	At           time.Time
}

// Recorder is an httptest server that records requests and answers with what
// its answer function returns (200 when nil).
type Recorder struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []Request
	answer func(n int, w http.ResponseWriter, r *http.Request) bool // true: answered
}

// NewRecorder starts a Recorder, closed when the test ends. answer gets the
// request's number (from 0) and answers it itself when it returns true.
func NewRecorder(t testing.TB, answer func(n int, w http.ResponseWriter, r *http.Request) bool) *Recorder {
	rec := &Recorder{answer: answer}
	rec.Server = httptest.NewServer(http.HandlerFunc(rec.serve))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *Recorder) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.reqs)
	rec.reqs = append(rec.reqs, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body, At: time.Now()})
	rec.mu.Unlock()
	if rec.answer != nil && rec.answer(n, w, r) {
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Requests is a copy of what was received so far.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// DecodeAM decodes the body of a POST /api/v2/alerts.
func DecodeAM(t testing.TB, body []byte) []notify.PostableAlert {
	t.Helper()
	var out []notify.PostableAlert
	require.NoError(t, json.Unmarshal(body, &out), "%s", body)
	return out
}

// WriteFile writes content to a new file name in a temporary directory and
// returns its path.
func WriteFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// Metric is the value of the counter or gauge name (a histogram's count)
// whose labels include labels; 0 when there is none.
func Metric(t testing.TB, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}
