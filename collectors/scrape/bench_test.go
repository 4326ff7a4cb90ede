package scrape

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/facmon/facmon/internal/storage"
)

// benchScrape measures what a scrape costs once the body is in: parse,
// map and encode.
func benchScrape(b *testing.B, file, contentType string) {
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	mt := testTarget()
	enc := storage.NewEncoder()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	series := 0
	for b.Loop() {
		fams, err := parse(context.Background(), body, contentType)
		if err != nil {
			b.Fatal(err)
		}
		res := mapFamilies(fams, mt, scrapeTime)
		enc.Reset(nil)
		for _, r := range res.Readings {
			if err := enc.Append(r); err != nil {
				b.Fatal(err)
			}
		}
		series = len(res.Readings)
	}
	b.ReportMetric(float64(series), "series/op")
}

// node_exporter (cpu, meminfo, loadavg): 328 lines, 124 series.
func BenchmarkScrapeNodeExporterText(b *testing.B) { benchScrape(b, "node_exporter.prom", contentText) }

// The same shapes as OpenMetrics go through expfmt's ABNF decoder.
func BenchmarkScrapeOpenMetrics(b *testing.B) { benchScrape(b, "basic.om", contentOM) }

func BenchmarkScrapeText(b *testing.B) { benchScrape(b, "basic.prom", contentText) }
