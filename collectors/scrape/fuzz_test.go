package scrape

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/storage"
)

// FuzzParse feeds arbitrary bytes, as either format, through the path a
// scraped body takes: parse, map, encode. It must never panic, and what it
// hands on must always be storable: finite fields, safe tags in order,
// points the encoder takes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		if filepath.Ext(p) == ".golden" {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Add([]byte("a{b=\"c\"} 1 2\n# EOF\n"), true)
	f.Add([]byte("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, openMetrics bool) {
		if len(body) > 64<<10 {
			return
		}
		ct := contentText
		if openMetrics {
			ct = contentOM
			// expfmt's OpenMetrics decoder costs ~1.5 ms a short line and
			// up to ~0.7 s one at the 512-byte cap (longer lines are
			// refused before it runs). Long bodies and lines in between
			// are the same grammar, only slower: skip them, so the fuzzer
			// (and its minimiser, which reruns an input many times) keep
			// their pace.
			if len(body) > 4<<10 {
				return
			}
			for line := range bytes.SplitSeq(body, []byte("\n")) {
				if len(line) > 160 && len(line) < maxOpenMetricsLine {
					return
				}
			}
		}
		// A short deadline keeps the OpenMetrics decoder from turning the
		// fuzzer into a benchmark; a timeout is a fine outcome.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		fams, err := parse(ctx, body, ct)
		if err != nil {
			return
		}
		mt := testTarget()
		mt.MaxSeries = 50
		res := mapFamilies(fams, mt, scrapeTime)
		if len(res.Readings) > mt.MaxSeries {
			t.Fatalf("%d readings, cap %d", len(res.Readings), mt.MaxSeries)
		}
		enc := storage.NewEncoder()
		for _, r := range res.Readings {
			checkReading(t, r)
			if err := enc.Append(r); err != nil {
				t.Fatalf("mapped reading not encodable: %v (%+v)", err, r)
			}
		}
		if err := roundTrip(enc.Bytes(), res.Readings); err != nil {
			t.Fatalf("line protocol does not read back: %v\n%s", err, enc.Bytes())
		}
	})
}

func checkReading(t *testing.T, r *reading.Reading) {
	t.Helper()
	if !safeName(r.Measurement) || r.Class != ClassApp || r.Ward == "" || r.Device == "" {
		t.Fatalf("bad identity %q %q %q %q", r.Measurement, r.Class, r.Ward, r.Device)
	}
	if len(r.Fields) == 0 {
		t.Fatalf("%s: no fields", r.Measurement)
	}
	for _, f := range r.Fields {
		if f.Kind != reading.Float || math.IsNaN(f.Float) || math.IsInf(f.Float, 0) {
			t.Fatalf("%s: field %s = %v (%v)", r.Measurement, f.Key, f.Float, f.Kind)
		}
	}
	for i, tag := range r.Extra {
		if !reading.SafeLabel(tag.Key) || !reading.SafeLabel(tag.Value) {
			t.Fatalf("%s: unsafe tag %q=%q", r.Measurement, tag.Key, tag.Value)
		}
		if i > 0 && r.Extra[i-1].Key >= tag.Key {
			t.Fatalf("%s: tags not sorted and unique: %v", r.Measurement, r.Extra)
		}
		switch tag.Key {
		case "class", "device", "ward", "le", "quantile", "time":
			t.Fatalf("%s: reserved tag key %q", r.Measurement, tag.Key)
		}
	}
}
