package scrape

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"

	"github.com/facmon/facmon/internal/reading"
)

// ClassApp is the class tag of every point the scrape collector writes.
const ClassApp = "app"

// MeasurementScrape is the per-scrape point: up, duration_seconds, samples.
const MeasurementScrape = "scrape"

// Field names of the mapping (Telegraf's prometheus input, metric_version 1).
const (
	FieldCounter = "counter"
	FieldGauge   = "gauge"
	FieldUntyped = "value"
	FieldSum     = "sum"
	FieldCount   = "count"
)

// Reasons a series (or, for non_finite, one value) is dropped.
const (
	DropMaxSeries   = "max_series"  // beyond the target's max_series
	DropBadName     = "bad_name"    // metric name not a safe measurement name
	DropBadLabel    = "bad_label"   // label name or value not a safe tag
	DropNonFinite   = "non_finite"  // one NaN or ±Inf value; the rest of its series is kept
	DropNoFields    = "no_fields"   // a series none of whose values could be kept
	DropUnencodable = "unencodable" // the sink could not encode the point
)

// DropReasons lists every reason, for pre-creating the counters.
var DropReasons = []string{DropBadLabel, DropBadName, DropMaxSeries, DropNoFields, DropNonFinite, DropUnencodable}

// maxNameBytes bounds a metric family name (a measurement name).
const maxNameBytes = 200

// renamed are scraped label names that would collide with facmon's own tags
// or that InfluxDB refuses as tag keys; they are kept as exported_<name>, as
// Prometheus does with labels that collide with target labels.
var renamed = []string{"class", "device", "ward", "time", "_field", "_measurement", "le", "quantile"}

// mapTarget is what the mapping needs to know of a target.
type mapTarget struct {
	Ward, App string
	// Labels are the target's extra tags, sorted by key.
	Labels    []reading.Tag
	MaxSeries int
	// MaxPast and MaxFuture bound a sample's own timestamp around the
	// scrape time; outside, the scrape time is used (as for MQTT).
	MaxPast, MaxFuture time.Duration
}

// mapped is the outcome of mapping one scrape.
type mapped struct {
	Readings []*reading.Reading
	// Samples counts the samples the target exposed, as Prometheus counts
	// them: one per counter, gauge or untyped series, quantiles + 2 per
	// summary, buckets + 2 per histogram.
	Samples int
	Dropped map[string]int
}

// mapFamilies turns metric families (sorted by name) into readings. ts is
// the scrape's start time: every point without a timestamp of its own gets
// it, so the points of one scrape line up and a replay rewrites them.
func mapFamilies(fams []*dto.MetricFamily, t mapTarget, ts time.Time) mapped {
	out := mapped{Dropped: map[string]int{}}
	reserved := map[string]bool{}
	for _, k := range renamed {
		reserved[k] = true
	}
	for _, l := range t.Labels {
		reserved[l.Key] = true
	}
	for _, mf := range fams {
		name := mf.GetName()
		if name == MeasurementScrape {
			// The scrape's own point has this name; keep the app's apart.
			name = "exported_" + name
		}
		nameOK := safeName(name)
		for _, m := range mf.GetMetric() {
			if m == nil {
				continue
			}
			out.Samples += sampleCount(mf.GetType(), m)
			if !nameOK {
				out.Dropped[DropBadName]++
				continue
			}
			tags, ok := tagsOf(m, t.Labels, reserved)
			if !ok {
				out.Dropped[DropBadLabel]++
				continue
			}
			fields, nonFinite := fieldsOf(mf.GetType(), m)
			out.Dropped[DropNonFinite] += nonFinite
			if len(fields) == 0 {
				out.Dropped[DropNoFields]++
				continue
			}
			if len(out.Readings) >= t.MaxSeries {
				out.Dropped[DropMaxSeries]++
				continue
			}
			out.Readings = append(out.Readings, &reading.Reading{
				Measurement: name,
				Ward:        t.Ward,
				Class:       ClassApp,
				Device:      t.App,
				Extra:       tags,
				Fields:      fields,
				Time:        pointTime(m, ts, t.MaxPast, t.MaxFuture),
				Received:    ts,
			})
		}
	}
	for k, v := range out.Dropped {
		if v == 0 {
			delete(out.Dropped, k)
		}
	}
	return out
}

// safeName reports whether a metric family name can be a measurement name:
// printable UTF-8 of at most maxNameBytes, not ending in a backslash.
func safeName(s string) bool {
	if s == "" || len(s) > maxNameBytes || !utf8.ValidString(s) || s[len(s)-1] == '\\' {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// tagsOf builds the sorted tag list of one series: its labels (renamed when
// they collide) and the target's labels. Empty label values are left out,
// as Prometheus treats an empty label as an absent one. It reports false
// when a label is not safe as a tag.
func tagsOf(m *dto.Metric, target []reading.Tag, reserved map[string]bool) ([]reading.Tag, bool) {
	tags := make([]reading.Tag, 0, len(m.GetLabel())+len(target))
	tags = append(tags, target...)
	for _, lp := range m.GetLabel() {
		k, v := lp.GetName(), lp.GetValue()
		if v == "" {
			continue
		}
		if !reading.SafeLabel(k) || !reading.SafeLabel(v) {
			return nil, false
		}
		for reserved[k] || hasKey(tags, k) {
			k = "exported_" + k
		}
		if !reading.SafeLabel(k) {
			return nil, false
		}
		tags = append(tags, reading.Tag{Key: k, Value: v})
	}
	slices.SortFunc(tags, func(a, b reading.Tag) int { return strings.Compare(a.Key, b.Key) })
	return tags, true
}

func hasKey(tags []reading.Tag, k string) bool {
	for _, t := range tags {
		if t.Key == k {
			return true
		}
	}
	return false
}

// fieldsOf maps one series' values to fields and counts the values dropped
// because line protocol cannot carry them (NaN, ±Inf). Every value is a
// float, whatever the type, so a field never changes type in InfluxDB.
func fieldsOf(typ dto.MetricType, m *dto.Metric) ([]reading.Field, int) {
	var fields []reading.Field
	dropped := 0
	add := func(key string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			dropped++
			return
		}
		fields = append(fields, reading.Field{Key: key, Kind: reading.Float, Float: v})
	}
	switch typ {
	case dto.MetricType_COUNTER:
		add(FieldCounter, m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		add(FieldGauge, m.GetGauge().GetValue())
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		add(FieldSum, s.GetSampleSum())
		add(FieldCount, float64(s.GetSampleCount()))
		for _, q := range s.GetQuantile() {
			add(boundKey(q.GetQuantile()), q.GetValue())
		}
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		add(FieldSum, h.GetSampleSum())
		count := float64(h.GetSampleCount())
		if h.SampleCountFloat != nil {
			count = h.GetSampleCountFloat()
		}
		add(FieldCount, count)
		inf := false
		for _, b := range h.GetBucket() {
			c := float64(b.GetCumulativeCount())
			if b.CumulativeCountFloat != nil {
				c = b.GetCumulativeCountFloat()
			}
			inf = inf || math.IsInf(b.GetUpperBound(), 1)
			add(boundKey(b.GetUpperBound()), c)
		}
		if !inf && len(h.GetBucket()) > 0 {
			// The +Inf bucket is implicit in some expositions; it is the count.
			add(boundKey(math.Inf(1)), count)
		}
	default: // untyped, and types this mapping does not know
		add(FieldUntyped, untypedValue(m))
	}
	// A histogram or summary that names a bound twice keeps the first.
	fields = slices.CompactFunc(fields, func(a, b reading.Field) bool { return a.Key == b.Key })
	return fields, dropped
}

// untypedValue reads the value of an untyped series, or whatever value an
// unknown type carries.
func untypedValue(m *dto.Metric) float64 {
	switch {
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	}
	return math.NaN()
}

// boundKey names the field of a quantile or bucket bound as Prometheus
// writes the le and quantile labels: 0.5, 0.99, 1e+06, +Inf.
func boundKey(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// sampleCount is how many samples a series is in the exposition.
func sampleCount(typ dto.MetricType, m *dto.Metric) int {
	switch typ {
	case dto.MetricType_SUMMARY:
		return len(m.GetSummary().GetQuantile()) + 2
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return len(m.GetHistogram().GetBucket()) + 2
	}
	return 1
}

// pointTime is the series' own timestamp when it has a sane one, else the
// scrape time.
func pointTime(m *dto.Metric, ts time.Time, maxPast, maxFuture time.Duration) time.Time {
	if m.TimestampMs == nil {
		return ts
	}
	own := time.UnixMilli(m.GetTimestampMs())
	if own.Before(ts.Add(-maxPast)) || own.After(ts.Add(maxFuture)) {
		return ts
	}
	return own
}
