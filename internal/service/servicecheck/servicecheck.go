// Package servicecheck holds the checks of a running facmon shared by the
// fault tests of internal/service (facmon in-process) and cmd/facmon (the
// built binary): reading its /metrics, the conservation invariant an
// operator can check from them, and what InfluxDB holds of the numbered
// readings a testenv.Stream publishes. testenv starts the real services;
// what is facmon's own lives here.
package servicecheck

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// ScrapeMetrics reads every sample of web's /metrics (Prometheus text
// format) into a map keyed by the sample's name with its labels, e.g.
// `facmon_readings_rejected_total{reason="malformed_json"}`. A status other
// than 200 is an error, so a poll in Eventually retries rather than reading
// an error page as "no samples".
func ScrapeMetrics(web string) (map[string]float64, error) {
	resp, err := http.Get(web + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// MustScrapeMetrics is ScrapeMetrics failing the test on error. It also
// requires facmon_spool_dropped_records_total to be present: tests assert
// it (and other samples) is zero, and a missing sample reads as zero, so
// this guards those checks against a renamed metric.
func MustScrapeMetrics(t testing.TB, web string) map[string]float64 {
	t.Helper()
	m, err := ScrapeMetrics(web)
	require.NoError(t, err)
	require.Contains(t, m, "facmon_spool_dropped_records_total")
	return m
}

// SumMetric adds every sample of the metric family name, whatever its labels.
func SumMetric(m map[string]float64, name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// Conservation evaluates, on one scrape, the invariant an operator can
// check from /metrics: received (every source: MQTT messages and facmon's
// own heartbeats) + replayed from the spool at start-up + written on a
// cluster takeover = rejected + written + quarantined + in spool +
// pending + held for a ward another instance of the group owns. It
// reports whether it holds and both sides spelled out.
//
// It holds within one process lifetime. Across a restart it does not hold
// by itself: each process counts from zero, and a reading the broker
// redelivers after a crash is counted by both lifetimes.
func Conservation(m map[string]float64) (bool, string) {
	received := SumMetric(m, "facmon_readings_received_total") // every source: mqtt, heartbeat
	replayed := m["facmon_spool_replayed_readings_total"]
	rejected := SumMetric(m, "facmon_readings_rejected_total")
	written := m["facmon_points_written_total"]
	quarantined := SumMetric(m, "facmon_points_quarantined_total")
	spooled := m["facmon_spool_readings"]
	pending := m["facmon_ingest_pending_readings"]
	takenOver := m["facmon_cluster_replayed_points_total"]
	held := m["facmon_cluster_held_points_total"]
	lhs, rhs := received+replayed+takenOver, rejected+written+quarantined+spooled+pending+held
	return lhs == rhs, fmt.Sprintf("received %.0f + replayed %.0f + taken over %.0f = %.0f; rejected %.0f + written %.0f + quarantined %.0f + spool %.0f + pending %.0f + held %.0f = %.0f",
		received, replayed, takenOver, lhs, rejected, written, quarantined, spooled, pending, held, rhs)
}

// WaitConserved waits (up to 20 s, for the flow to settle) until the
// Conservation invariant holds on web's /metrics, and fails the test if it
// never does.
func WaitConserved(t testing.TB, web string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "received + replayed = rejected + written + quarantined + spool + pending", func() (bool, string) {
		m, err := ScrapeMetrics(web)
		if err != nil {
			return false, err.Error()
		}
		return Conservation(m)
	})
}

// StoredSeqTotal is how many door readings with a seq database bucket holds
// (0 when it cannot be asked).
func StoredSeqTotal(db *influxdb.Server, bucket string) int64 {
	return db.Count(bucket, `SELECT count(seq) FROM door`)
}

// StoredSeqs returns, per device, the seq of every stored door point.
func StoredSeqs(t testing.TB, db *influxdb.Server, bucket string) map[string][]int64 {
	t.Helper()
	out := map[string][]int64{}
	for _, s := range db.Query(t, bucket, `SELECT seq FROM door GROUP BY device`) {
		dev := s.Tags["device"]
		for _, v := range s.Values {
			n, ok := influxdb.AsInt64(v[1])
			require.True(t, ok, "seq %v", v[1])
			out[dev] = append(out[dev], n)
		}
	}
	return out
}

// MissingSeqs lists, per device of want, the seqs of 1..want[device] that
// are neither in stored nor in elsewhere[device] (e.g. still held by the
// broker), and every seq stored twice. The result is sorted; empty means
// nothing is lost or duplicated. Seqs outside 1..want[device] are not
// reported.
func MissingSeqs(stored map[string][]int64, want map[string]int64, elsewhere map[string]map[int64]bool) []string {
	var problems []string
	for dev, last := range want {
		have := map[int64]bool{}
		for _, n := range stored[dev] {
			if have[n] {
				problems = append(problems, fmt.Sprintf("%s: seq %d stored twice", dev, n))
			}
			have[n] = true
		}
		var missing []int64
		for n := int64(1); n <= last; n++ {
			if !have[n] && !elsewhere[dev][n] {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s: missing %s of 1..%d", dev, ShortSeqs(missing), last))
		}
	}
	slices.Sort(problems)
	return problems
}

// WaitAllStored waits until database bucket holds as many seqs as want
// adds up to, then checks that every device stored exactly its readings
// 1..want[device], each once: no gap, no duplicate, nothing outside the
// range. It reports the problems per device if not.
func WaitAllStored(t testing.TB, db *influxdb.Server, bucket string, want map[string]int64, timeout time.Duration) {
	t.Helper()
	var total int64
	for _, n := range want {
		total += n
	}
	require.Positive(t, total)
	testenv.Eventually(t, timeout, "every published seq stored", func() (bool, string) {
		n := StoredSeqTotal(db, bucket)
		return n >= total, fmt.Sprintf("stored %d of %d", n, total)
	})
	got := StoredSeqs(t, db, bucket)
	problems := MissingSeqs(got, want, nil)
	for dev, last := range want {
		var outside []int64
		for _, n := range got[dev] {
			if n < 1 || n > last {
				outside = append(outside, n)
			}
		}
		if len(outside) > 0 {
			slices.Sort(outside)
			problems = append(problems, fmt.Sprintf("%s: %d points for 1..%d, outside the range %s", dev, len(got[dev]), last, ShortSeqs(outside)))
		}
	}
	slices.Sort(problems)
	assert.Empty(t, problems, "every seq stored exactly once")
}

// WaitAckedStored waits until every reading the broker acknowledged to the
// publisher (Stream.AckedSeqs) is stored, with no reading stored twice, and
// fails the test with the problems per device if that does not come about
// within timeout.
func WaitAckedStored(t testing.TB, db *influxdb.Server, bucket string, acked map[string]map[int64]bool, timeout time.Duration) {
	t.Helper()
	var total int64
	for _, m := range acked {
		total += int64(len(m))
	}
	require.Positive(t, total)
	var problems []string
	testenv.Eventually(t, timeout, "every broker-acknowledged seq stored", func() (bool, string) {
		if n := StoredSeqTotal(db, bucket); n < total {
			return false, fmt.Sprintf("stored %d, broker acknowledged %d", n, total)
		}
		got := StoredSeqs(t, db, bucket)
		problems = problems[:0]
		for dev, want := range acked {
			have := map[int64]bool{}
			for _, n := range got[dev] {
				if have[n] {
					problems = append(problems, fmt.Sprintf("%s: seq %d stored twice", dev, n))
				}
				have[n] = true
			}
			var missing []int64
			for n := range want {
				if !have[n] {
					missing = append(missing, n)
				}
			}
			slices.Sort(missing)
			if len(missing) > 0 {
				problems = append(problems, fmt.Sprintf("%s: acknowledged but missing %s", dev, ShortSeqs(missing)))
			}
		}
		slices.Sort(problems)
		return len(problems) == 0, strings.Join(problems, "; ")
	})
}

// ShortSeqs formats seqs for a failure message, the first 12 and how many
// in all when there are more.
func ShortSeqs(ns []int64) string {
	if len(ns) > 12 {
		return fmt.Sprintf("%v … (%d in all)", ns[:12], len(ns))
	}
	return fmt.Sprint(ns)
}
