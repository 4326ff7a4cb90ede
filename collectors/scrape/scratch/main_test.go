package scratch

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestOM(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	t.Logf("ct=%s lines=%d bytes=%d", rec.Header().Get("Content-Type"), bytes.Count(body, []byte("\n")), len(body))
	os.WriteFile("/tmp/go.om", body, 0o644)
	format := expfmt.ResponseFormat(rec.Header())
	t.Logf("format %s type %v", format, format.FormatType())
	start := time.Now()
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	n := 0
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		n++
	}
	t.Logf("OM families %d in %v", n, time.Since(start))
	txt, _ := os.ReadFile("/tmp/ne.txt")
	start = time.Now()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(txt))
	t.Logf("text families %d err %v in %v", len(fams), err, time.Since(start))
	// garbage for OM
	garbage := bytes.Repeat([]byte("a{b=\"c\",d=\"e\"} 1 2 3 4 5 6 7 8 9 # {a=\"b\"} 1\n"), 2000)
	start = time.Now()
	dec = expfmt.NewDecoder(bytes.NewReader(garbage), format)
	var mf dto.MetricFamily
	err = dec.Decode(&mf)
	t.Logf("OM garbage err %v in %v", err, time.Since(start))
	long := append([]byte("a "), bytes.Repeat([]byte("1"), 100000)...)
	start = time.Now()
	dec = expfmt.NewDecoder(bytes.NewReader(long), format)
	err = dec.Decode(&mf)
	t.Logf("OM long line err %.100v in %v", err, time.Since(start))
}
