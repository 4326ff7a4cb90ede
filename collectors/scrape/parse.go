package scrape

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// acceptHeader asks for the Prometheus text format first and takes
// OpenMetrics 1.0.0 or 0.0.1 from a target that speaks nothing else.
//
// The order is deliberate. expfmt's OpenMetrics decoder (common v0.73) is a
// strict, validating parser built on an ABNF grammar: it costs about 1.5 ms
// a line where the text parser costs 4 µs, its cost grows with the cube of
// a line's length (a 512-byte line about 0.7 s, a 1.6 kB one 10 s), and it
// refuses client_golang's own OpenMetrics output of the Go collector
// (go_memstats_alloc_bytes is both a gauge and, stripped of _total, a
// counter). Every client_golang app and exporter serves both formats, so
// asking for text costs nothing and avoids all three.
//
// No escaping parameter is sent, so a client_golang target escapes UTF-8
// metric names to the classic character set, which keeps measurement names
// plain; the parsers accept UTF-8 names anyway (model.UTF8Validation).
const acceptHeader = `text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,*/*;q=0.1`

// Limits that keep one target from eating the collector's memory or CPU.
const (
	// maxBodyBytes caps an exposition, after decompression: about 40,000
	// series, which parse in ~0.3 s into ~30 MB. node_exporter with every
	// collector serves a few hundred kB, an office app a few kB.
	maxBodyBytes = 4 << 20
	// maxOpenMetricsLine caps a line (HELP lines excepted, whose text is
	// dropped before parsing) of an OpenMetrics exposition, because of
	// the decoder's cubic cost: at this length a line costs up to ~0.7 s,
	// which bounds how far parsing can overrun the scrape timeout.
	maxOpenMetricsLine = 512
	// parseReadChunk is how much the OpenMetrics decoder may read ahead of
	// the line it is parsing, so a deadline stops it within one line.
	parseReadChunk = 64
)

// Exposition formats the collector tells apart.
const (
	formatText        = "text"
	formatOpenMetrics = "openmetrics"
)

// formatOf maps a response's Content-Type to the parser to use. Anything
// that is not OpenMetrics is parsed as the text format: that covers the
// text format's own "text/plain; version=0.0.4", a missing or generic
// Content-Type (plain files, simple apps), and text format 1.0.0, whose
// quoted UTF-8 names the text parser reads with UTF-8 validation.
func formatOf(contentType string) (string, expfmt.Format) {
	h := http.Header{}
	h.Set("Content-Type", contentType)
	if f := expfmt.ResponseFormat(h); f.FormatType() == expfmt.TypeOpenMetrics {
		return formatOpenMetrics, f
	}
	return formatText, expfmt.FmtText
}

// parseError is an exposition the parsers refused.
type parseError struct{ err error }

func (e parseError) Error() string { return "bad exposition: " + e.err.Error() }
func (e parseError) Unwrap() error { return e.err }

// parse decodes an exposition into metric families sorted by name, so the
// mapping (and which series a cap drops) does not depend on map order. It
// stops with ctx's error when ctx ends, at the latest one line later.
func parse(ctx context.Context, body []byte, contentType string) ([]*dto.MetricFamily, error) {
	kind, format := formatOf(contentType)
	var fams []*dto.MetricFamily
	switch kind {
	case formatOpenMetrics:
		body, err := dropHelpText(body)
		if err != nil {
			return nil, parseError{err}
		}
		// UTF-8 validation like the text path; NewDecoder picks the
		// scheme from the format's escaping parameter.
		dec := expfmt.NewDecoder(bufio.NewReaderSize(ctxReader{ctx, bytes.NewReader(body)}, parseReadChunk),
			format.WithEscapingScheme(model.NoEscaping))
		for {
			mf := &dto.MetricFamily{}
			err := dec.Decode(mf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, parseError{err}
			}
			fams = append(fams, mf)
		}
	default:
		p := expfmt.NewTextParser(model.UTF8Validation)
		byName, err := p.TextToMetricFamilies(ctxReader{ctx, bytes.NewReader(body)})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, parseError{err}
		}
		fams = make([]*dto.MetricFamily, 0, len(byName))
		for _, mf := range byName {
			fams = append(fams, mf)
		}
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
	return fams, nil
}

// dropHelpText empties the HELP lines of an OpenMetrics exposition (the
// mapping does not use help texts, and they are its longest lines), keeping
// the lines so parse errors still name the right line, and refuses an
// exposition with a longer line than maxOpenMetricsLine.
func dropHelpText(body []byte) ([]byte, error) {
	help := []byte("# HELP ")
	out := make([]byte, 0, len(body))
	for n := 1; len(body) > 0; n++ {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line = body[:i+1]
		}
		body = body[len(line):]
		if bytes.HasPrefix(line, help) {
			if sp := bytes.IndexByte(line[len(help):], ' '); sp >= 0 {
				line = append(line[:len(help)+sp+1:len(help)+sp+1], '\n')
			}
		}
		if len(line) > maxOpenMetricsLine {
			return nil, fmt.Errorf("line %d: %d bytes; facmon's OpenMetrics parser takes at most %d (serve the Prometheus text format, which has no such limit)", n, len(line), maxOpenMetricsLine)
		}
		out = append(out, line...)
	}
	return out, nil
}

// ctxReader fails reads once ctx has ended, so a parser working through a
// large or slow-to-parse body stops at the scrape's deadline.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
