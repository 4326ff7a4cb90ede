// Package bench holds facmon's end-to-end ingest benchmark: a QoS 1
// publisher → Mosquitto → `facmon run` → InfluxDB 1.8 on loopback, measured
// against the ceiling of the same publisher → Mosquitto → a bare paho
// subscriber. See README.md for how to read the figures.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

const (
	defaultReadings = 200_000
	readingsEnv     = "FACMON_BENCH_READINGS"
	binaryEnv       = "FACMON_BENCH_BINARY"
	bucket          = "bench"
	// metricsPoll is how often facmon's /metrics is read during the window,
	// and metricsPollNearEnd how often once fewer than nearEnd readings are
	// missing. Each read costs facmon a collection of every metric (the
	// process collector alone reads four files under /proc), counted in its
	// CPU: polls every 100 ms took about 3% of it. The end of the window
	// is the time of InfluxDB's last write (facmon_influx_last_write_
	// timestamp_seconds), which the close polls near the end tell apart
	// from the writes after it.
	metricsPoll        = 250 * time.Millisecond
	metricsPollNearEnd = 40 * time.Millisecond
	nearEnd            = 10_000
)

// noisyCPUs is how much CPU other work may take during a window before the
// summary says the rates are not to be trusted.
const noisyCPUs = 0.1

// The targets of the issue, printed next to the figures.
const (
	targetRatioPct  = 90.0
	targetCPUPer100 = 1.0
	targetRSSMiB    = 64.0
)

// BenchmarkIngestEndToEnd runs, in one invocation, the ceiling (publisher →
// Mosquitto → bare paho subscriber), facmon (publisher → Mosquitto →
// `facmon run` as its own process → InfluxDB 1.8.3) and the paho floor (the
// bare subscriber again, running paho as facmon does), each against fresh
// servers, and reports facmon's stored readings/s, the ratio to the ceiling,
// facmon's CPU-seconds per 100k readings and its peak RSS; the floor's CPU
// is printed next to facmon's.
//
// The benchmark timer covers facmon's ingest window only: from the first
// publish until InfluxDB has accepted the last reading.
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 30m ./bench/
func BenchmarkIngestEndToEnd(b *testing.B) {
	b.StopTimer()
	n := readingsFromEnv(b)
	bin := buildFacmon(b)
	if la := loadAverage(); la != "" {
		// Other work on the machine moves both rates; say how busy it was.
		fmt.Printf("machine: %d CPUs, load average %s before the benchmark\n", runtime.NumCPU(), la)
	}
	var last summary
	for range b.N {
		ceil := runScoped(b, func(s *scope) bareResult { return runBare(s, n, modeCeiling) })
		fac := runScoped(b, func(s *scope) facmonResult { return runFacmon(s, bin, n) })
		floor := runScoped(b, func(s *scope) bareResult { return runBare(s, n, modeFloor) })
		last = summarize(n, ceil, fac, floor)
		last.print(os.Stdout)
	}
	b.ReportMetric(last.rate, "readings/s")
	b.ReportMetric(last.ceiling, "ceiling-readings/s")
	b.ReportMetric(last.ratioPct, "ratio-%")
	b.ReportMetric(last.cpuPer100k, "cpu-s/100k")
	b.ReportMetric(last.peakRSSMiB, "peak-rss-MiB")
}

func readingsFromEnv(b *testing.B) int {
	v := os.Getenv(readingsEnv)
	if v == "" {
		return defaultReadings
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number of readings", readingsEnv, v)
	}
	return n
}

// windowTimeout bounds one run's publishing and storing: generous (a floor
// of 1,000 readings/s) so a slow machine finishes, bounded so a stuck run
// fails instead of hanging.
func windowTimeout(n int) time.Duration {
	return 2*time.Minute + time.Duration(n)*time.Millisecond
}

// ---------------------------------------------------------------- ceiling

type bareResult struct {
	elapsed   time.Duration
	received  int64
	others    float64 // CPUs other work took during the window, -1 unknown
	brokerCPU float64 // Mosquitto's CPU-seconds in the window, -1 unknown
	subCPU    float64 // the bare subscriber's CPU-seconds in the window, -1 unknown
}

// runBare measures what the broker can hand to a subscriber that does
// nothing (see bareSubscriberMain), running in its own process as facmon
// does: with mode modeCeiling that is the ceiling, with modeFloor the
// price of paho as facmon runs it.
func runBare(s *scope, readings int, mode string) bareResult {
	broker := testenv.StartMosquitto(s)
	l := newLoad(readings)
	if mode == modeCeiling {
		fmt.Printf("load: %s readings (%d devices, %.0f B/payload on average), %d QoS 1 publishers with up to %d unacknowledged publishes each\n",
			thousands(float64(readings)), l.devices, float64(l.bytes)/float64(readings), publishers, pubWindow)
	}
	sub := startBareSubscriber(s, broker.URL, l.readings, mode)
	pubs, err := connectPublishers(broker.URL)
	if err != nil {
		s.Fatalf("%s: %v", mode, err)
	}
	s.Cleanup(func() { disconnectAll(pubs) })

	ctx, cancel := context.WithTimeout(context.Background(), windowTimeout(l.readings))
	defer cancel()
	noise := startNoise()
	brokerCPU, subCPU := procCPUSeconds(broker.Pid()), procCPUSeconds(sub.cmd.Process.Pid)
	start := time.Now()
	pubErr := make(chan error, 1)
	go func() { pubErr <- l.publish(ctx, pubs) }()
	lastAt := sub.field(s, "done", windowTimeout(l.readings))
	subCPU = cpuDelta(subCPU, procCPUSeconds(sub.cmd.Process.Pid))
	elapsed := time.Duration(lastAt - start.UnixNano())
	others := noise.othersCPUs()
	brokerCPU = cpuDelta(brokerCPU, procCPUSeconds(broker.Pid()))
	if err := <-pubErr; err != nil {
		s.Fatalf("%s: publish: %v", mode, err)
	}
	received := sub.field(s, "total", 10*time.Second)
	return bareResult{elapsed: elapsed, received: received, others: others, brokerCPU: brokerCPU, subCPU: subCPU}
}

func tokenErr(tok paho.Token) error {
	if err := tok.Error(); err != nil {
		return err
	}
	return errors.New("timed out")
}

// ---------------------------------------------------------------- facmon

type facmonResult struct {
	elapsed   time.Duration // first publish → N points written
	windowCPU float64       // facmon's CPU-seconds in that window
	endByPoll bool          // the end is the poll's time: the last write's was not in /metrics
	before    sample        // /metrics just before the first publish
	after     sample        // /metrics of the poll that saw N points written
	stored    int64         // count(seq) over the four measurements
	others    float64       // CPUs other work took during the window, -1 unknown
	// CPU-seconds the servers spent in the window, -1 unknown: InfluxDB's
	// share is part of what storing costs on a machine that runs it too.
	brokerCPU, influxCPU float64
	// windowPeakRSS is the highest process_resident_memory_bytes of the polls.
	windowPeakRSS float64
	// hwmAtWindowEnd is the kernel's peak RSS until the end of the window
	// (Linux VmHWM), to tell a peak in the window from one at shutdown.
	hwmAtWindowEnd int64
	// spawnFloor is the benchmark's own RSS when it started facmon: the
	// least ru_maxrss can say (-1: the peak could not be reset, so maxrss
	// may be the benchmark's peak rather than facmon's).
	spawnFloor int64
	// From the kernel after facmon exited: its whole life.
	lifetimeCPU time.Duration
	lifetimeSys time.Duration // the kernel's share of lifetimeCPU
	maxRSS      int64         // bytes; 0 when the platform does not say
	exitCode    int
	log         []string // facmon's log lines (warnings and errors)
}

// runFacmon runs `facmon run` as its own process between a fresh Mosquitto
// and a fresh InfluxDB, waits until it is healthy, publishes the load and
// times until InfluxDB has accepted every reading.
func runFacmon(s *scope, bin string, readings int) facmonResult {
	broker := testenv.StartMosquitto(s)
	db := influxdb.Start(s, influxdb.WithoutFlux())
	dir := s.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(s))
	// Linux hands the parent's peak RSS at fork to the child's ru_maxrss
	// (exec records the high-water mark of the address space it replaces,
	// which os/exec's vfork shares with this process). So facmon is started
	// while this process is small: the ceiling's load is garbage by now,
	// the load of this run is built only after the start, and the peak is
	// reset to the current RSS, which is then the floor of facmon's maxrss.
	runtime.GC()
	debug.FreeOSMemory()
	spawnFloor := resetPeakRSS()
	fp := startFacmon(s, bin, dir,
		"run",
		"--mqtt-url", broker.URL,
		"--influx-url", db.URL,
		"--influx-bucket", bucket,
		"--listen", listen,
		"--log-level", "warn",
		"--spool-dir", filepath.Join(dir, "spool"),
	)
	web := "http://" + listen
	fp.waitHealthy(s, web, 30*time.Second)
	l := newLoad(readings)

	pubs, err := connectPublishers(broker.URL)
	if err != nil {
		s.Fatalf("facmon run: %v", err)
	}
	s.Cleanup(func() { disconnectAll(pubs) })

	n := float64(l.readings)
	before, err := scrape(web)
	if err != nil {
		s.Fatalf("facmon /metrics before the window: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), windowTimeout(l.readings))
	defer cancel()

	s.StartTimer()
	noise := startNoise()
	brokerCPU, influxCPU := procCPUSeconds(broker.Pid()), procCPUSeconds(db.Pid())
	start := time.Now()
	pubErr := make(chan error, 1)
	go func() { pubErr <- l.publish(ctx, pubs) }()
	after := before
	after.at = start
	prev := after
	peakRSS := before.rssBytes
	tick := time.NewTimer(metricsPoll)
	defer tick.Stop()
	for after.readingsStored() < n {
		select {
		case <-tick.C:
			if n-after.readingsStored() > nearEnd {
				tick.Reset(metricsPoll)
			} else {
				tick.Reset(metricsPollNearEnd)
			}
		case err := <-pubErr:
			if err != nil {
				s.Fatalf("facmon run: publish: %v", err)
			}
			pubErr = nil // published; keep polling
			continue
		case <-fp.Done():
			s.Fatalf("facmon exited during the run (%v); log:\n%s", fp.WaitErr(), fp.tail())
		case <-ctx.Done():
			s.Fatalf("facmon stored %.0f of %.0f readings within %v (%s); log:\n%s",
				after.readingsStored(), n, windowTimeout(l.readings), after.counts(), fp.tail())
		}
		smp, err := scrape(web)
		if err != nil {
			continue // one failed scrape is not a verdict; the deadline is
		}
		prev, after = after, smp
		peakRSS = max(peakRSS, smp.rssBytes)
		if after.rejected > before.rejected {
			// The publisher's payloads are all valid: a rejection is a bug
			// on one side or the other, and those readings never arrive.
			s.Fatalf("facmon rejected %.0f of the benchmark's readings (%s); log:\n%s",
				after.rejected-before.rejected, after.counts(), fp.tail())
		}
	}
	s.StopTimer()
	// The n-th reading was stored by a write between the last two polls,
	// close enough together near the end to hold only that write: the
	// window ends when it did, and facmon's CPU by then is interpolated
	// between the polls.
	end, endByPoll := after.at, true
	if lw := after.lastWrite; lw.After(prev.at) && lw.Before(after.at) {
		end, endByPoll = lw, false
	}
	frac := float64(end.Sub(prev.at)) / float64(max(after.at.Sub(prev.at), 1))
	elapsed := end.Sub(start)
	windowCPU := prev.cpuSeconds + frac*(after.cpuSeconds-prev.cpuSeconds) - before.cpuSeconds
	others := noise.othersCPUs()
	brokerCPU = cpuDelta(brokerCPU, procCPUSeconds(broker.Pid()))
	influxCPU = cpuDelta(influxCPU, procCPUSeconds(db.Pid()))
	hwm := peakRSSSoFar(fp.Pid())
	if pubErr != nil {
		if err := <-pubErr; err != nil {
			s.Fatalf("facmon run: publish: %v", err)
		}
	}

	res := facmonResult{elapsed: elapsed, endByPoll: endByPoll, windowCPU: windowCPU, before: before, after: after, windowPeakRSS: peakRSS, hwmAtWindowEnd: hwm, spawnFloor: spawnFloor, others: others, brokerCPU: brokerCPU, influxCPU: influxCPU}
	res.stored = countStored(s, db)
	if res.stored != int64(l.readings) {
		s.Fatalf("facmon lost data: InfluxDB holds %d of %d readings (%s); log:\n%s",
			res.stored, l.readings, after.counts(), fp.tail())
	}

	// Graceful stop: the kernel's account of facmon's whole life.
	ps := fp.stop(30 * time.Second)
	if ps == nil {
		s.Fatalf("facmon did not exit within 30 s of SIGTERM and was killed; log:\n%s", fp.tail())
	}
	res.lifetimeCPU = ps.UserTime() + ps.SystemTime()
	res.lifetimeSys = ps.SystemTime()
	res.maxRSS = maxRSSBytes(ps)
	res.exitCode = ps.ExitCode()
	res.log = fp.lines()
	if res.exitCode != 0 {
		s.Errorf("facmon exited with code %d after SIGTERM; log:\n%s", res.exitCode, fp.tail())
	}
	return res
}

func cpuDelta(before, after float64) float64 {
	if before < 0 || after < 0 {
		return -1
	}
	return after - before
}

// countStored sums count(seq) over the four class measurements.
func countStored(s *scope, db *influxdb.Server) int64 {
	var total int64
	for _, m := range []string{"door", "hvac", "server", "camera"} {
		rows := db.Query(s, bucket, `SELECT count(seq) FROM "`+m+`"`)
		if len(rows) == 0 || len(rows[0].Values) == 0 {
			continue
		}
		v, ok := influxdb.AsInt64(rows[0].Value(0, "count"))
		if !ok {
			s.Fatalf("count(seq) FROM %s: unexpected value %v", m, rows[0].Value(0, "count"))
		}
		total += v
	}
	return total
}

// noiseMeter measures how much CPU other work on the machine (not this
// benchmark, its servers or facmon) took during a window: on a shared
// machine both rates fall by whatever that is.
type noiseMeter struct {
	machine, ours float64
	at            time.Time
	ok            bool
}

func startNoise() noiseMeter {
	m, o, ok := cpuSnapshot()
	return noiseMeter{machine: m, ours: o, at: time.Now(), ok: ok}
}

// othersCPUs is the average number of CPUs that other processes kept busy
// since startNoise, or -1 when the platform does not say.
func (n noiseMeter) othersCPUs() float64 {
	m, o, ok := cpuSnapshot()
	d := time.Since(n.at).Seconds()
	if !ok || !n.ok || d <= 0 {
		return -1
	}
	return max(0, ((m-n.machine)-(o-n.ours))/d)
}

// ---------------------------------------------------------------- /metrics

// sample is what the benchmark reads from facmon's /metrics.
type sample struct {
	at          time.Time // when facmon collected it (the middle of the request)
	lastWrite   time.Time // facmon_influx_last_write_timestamp_seconds
	written     float64   // facmon_points_written_total
	quarantined float64   // facmon_points_quarantined_total
	received    float64   // facmon_readings_received_total{source="mqtt"}
	// internal is facmon_readings_received_total of facmon's own points
	// (heartbeats, alert events, …: every source but mqtt). They are
	// written to InfluxDB too and counted in facmon_points_written_total.
	internal    float64
	rejected    float64 // facmon_readings_rejected_total, all reasons
	writeErrors float64 // facmon_influx_write_errors_total, all kinds
	cpuSeconds  float64 // process_cpu_seconds_total
	rssBytes    float64 // process_resident_memory_bytes
	writes      float64 // facmon_influx_write_duration_seconds count
	writeSecs   float64 // facmon_influx_write_duration_seconds sum
	batchPoints float64 // facmon_influx_batch_points sum
	commits     float64 // facmon_spool_commit_seconds count
	commitSecs  float64 // facmon_spool_commit_seconds sum
}

// metricsClient asks for /metrics uncompressed: gzip would be facmon's CPU
// spent only because the benchmark polls it.
var metricsClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}

func scrape(web string) (sample, error) {
	var smp sample
	asked := time.Now()
	resp, err := metricsClient.Get(web + "/metrics")
	if err != nil {
		return smp, err
	}
	smp.at = asked.Add(time.Since(asked) / 2)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return smp, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return smp, fmt.Errorf("parse /metrics: %w", err)
	}
	need := func(name string) (*dto.MetricFamily, error) {
		f, ok := fams[name]
		if !ok {
			return nil, fmt.Errorf("no %s in /metrics", name)
		}
		return f, nil
	}
	for _, m := range []struct {
		name string
		dst  *float64
	}{
		{"facmon_points_written_total", &smp.written},
		{"facmon_readings_rejected_total", &smp.rejected},
		{"facmon_influx_write_errors_total", &smp.writeErrors},
		{"process_cpu_seconds_total", &smp.cpuSeconds},
		{"process_resident_memory_bytes", &smp.rssBytes},
	} {
		f, err := need(m.name)
		if err != nil {
			return smp, err
		}
		*m.dst = sumValues(f)
	}
	// Optional: absent in versions that did not have them.
	if f, ok := fams["facmon_points_quarantined_total"]; ok {
		smp.quarantined = sumValues(f)
	}
	if f, ok := fams["facmon_influx_last_write_timestamp_seconds"]; ok {
		if sec := sumValues(f); sec > 0 {
			smp.lastWrite = time.Unix(0, int64(sec*1e9))
		}
	}
	f, err := need("facmon_readings_received_total")
	if err != nil {
		return smp, err
	}
	for _, m := range f.GetMetric() {
		mqtt := false
		for _, lp := range m.GetLabel() {
			mqtt = mqtt || lp.GetName() == "source" && lp.GetValue() == "mqtt"
		}
		if mqtt {
			smp.received += m.GetCounter().GetValue()
		} else {
			smp.internal += m.GetCounter().GetValue()
		}
	}
	if f, ok := fams["facmon_influx_write_duration_seconds"]; ok && len(f.GetMetric()) > 0 {
		h := f.GetMetric()[0].GetHistogram()
		smp.writes, smp.writeSecs = float64(h.GetSampleCount()), h.GetSampleSum()
	}
	if f, ok := fams["facmon_influx_batch_points"]; ok && len(f.GetMetric()) > 0 {
		smp.batchPoints = f.GetMetric()[0].GetHistogram().GetSampleSum()
	}
	if f, ok := fams["facmon_spool_commit_seconds"]; ok && len(f.GetMetric()) > 0 {
		h := f.GetMetric()[0].GetHistogram()
		smp.commits, smp.commitSecs = float64(h.GetSampleCount()), h.GetSampleSum()
	}
	return smp, nil
}

// readingsStored is a lower bound of the MQTT readings that InfluxDB
// accepted (or facmon set aside): every point written or quarantined that
// cannot be one of facmon's own. Before the window there are no MQTT
// readings, so it holds from facmon's start; it is exact once facmon's own
// points received so far are all written.
func (s sample) readingsStored() float64 {
	return s.written + s.quarantined - s.internal
}

// counts describes a sample's counters for failure messages.
func (s sample) counts() string {
	return fmt.Sprintf("received %.0f from mqtt and %.0f own points, rejected %.0f, points written %.0f, quarantined %.0f, write errors %.0f",
		s.received, s.internal, s.rejected, s.written, s.quarantined, s.writeErrors)
}

// sumValues adds up every series of a counter, gauge or untyped family.
func sumValues(f *dto.MetricFamily) float64 {
	var v float64
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v
}

// ---------------------------------------------------------------- summary

type summary struct {
	n                  int
	rate, ceiling      float64 // readings/s
	ratioPct           float64
	cpuPer100k         float64    // facmon CPU-s per 100k readings, ingest window
	lifetimeCPUPer100k float64    // same over facmon's whole life (start-up, idle wait, shutdown)
	peakRSSMiB         float64    // kernel's maxrss of facmon
	windowRSSMiB       [3]float64 // before, highest poll, after
	ceilingDupes       int64
	fac                facmonResult
	ceil, floor        bareResult
}

func summarize(n int, ceil bareResult, fac facmonResult, floor bareResult) summary {
	const mib = 1 << 20
	s := summary{n: n, fac: fac, ceil: ceil, floor: floor}
	s.rate = float64(n) / fac.elapsed.Seconds()
	s.ceiling = float64(n) / ceil.elapsed.Seconds()
	s.ratioPct = 100 * s.rate / s.ceiling
	s.cpuPer100k = fac.windowCPU / float64(n) * 1e5
	s.lifetimeCPUPer100k = fac.lifetimeCPU.Seconds() / float64(n) * 1e5
	s.peakRSSMiB = float64(fac.maxRSS) / mib
	s.windowRSSMiB = [3]float64{fac.before.rssBytes / mib, fac.windowPeakRSS / mib, fac.after.rssBytes / mib}
	s.ceilingDupes = ceil.received - int64(n)
	return s
}

func (s summary) print(w io.Writer) {
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fac := s.fac
	writes := fac.after.writes - fac.before.writes
	avgBatch, avgWrite := 0.0, 0.0
	if writes > 0 {
		avgBatch = (fac.after.batchPoints - fac.before.batchPoints) / writes
		avgWrite = (fac.after.writeSecs - fac.before.writeSecs) / writes * 1000
	}
	fmt.Fprintf(w, "\nfacmon %s readings/s stored = %.0f%% of the bare-subscriber ceiling %s/s; %.2f CPU-s per 100k readings; peak RSS %.0f MiB\n",
		thousands(s.rate), s.ratioPct, thousands(s.ceiling), s.cpuPer100k, s.peakRSSMiB)
	fmt.Fprintf(w, "  ceiling: %s readings in %v through a bare paho subscriber (%d duplicates)",
		thousands(float64(s.n)), s.ceil.elapsed.Round(time.Millisecond), s.ceilingDupes)
	if s.ceil.subCPU >= 0 {
		// What paho alone costs with its defaults, each message acked as
		// it is read: the part of facmon's figure that is not facmon's.
		fmt.Fprintf(w, ", which took %.2f CPU-s per 100k readings to receive, ack and discard them", s.ceil.subCPU/float64(s.n)*1e5)
	}
	fmt.Fprintln(w)
	if s.floor.subCPU >= 0 {
		def := config.Default()
		fmt.Fprintf(w, "  paho floor: the same subscriber as facmon runs paho (mqtt.Transport, GOMAXPROCS %d, acks in groups of up to %d or every %v), doing nothing else, took %.2f CPU-s per 100k readings\n",
			max(1, runtime.NumCPU()/2), def.MQTT.MaxInflight/2, def.Spool.CommitInterval.D(), s.floor.subCPU/float64(s.n)*1e5)
	}
	endBy := "its write's time"
	if fac.endByPoll {
		endBy = "the time of the poll that saw it"
	}
	fmt.Fprintf(w, "  facmon:  %s readings in %v from first publish to the last accepted by InfluxDB (%s), all %s found by count(seq)\n",
		thousands(float64(s.n)), fac.elapsed.Round(time.Millisecond), endBy, thousands(float64(fac.stored)))
	fmt.Fprintf(w, "           CPU %.2f s in the window = %.2f CPU-s/100k (whole life from start to exit: %.2f s = %.2f CPU-s/100k, %.0f%% of it in the kernel)\n",
		fac.windowCPU, s.cpuPer100k, fac.lifetimeCPU.Seconds(), s.lifetimeCPUPer100k, 100*fac.lifetimeSys.Seconds()/max(fac.lifetimeCPU.Seconds(), 1e-9))
	fmt.Fprintf(w, "           RSS %.0f MiB before the window, at most %.0f MiB in the polls, %.0f MiB at its end; peak %.0f MiB by the end of the window (VmHWM), %.0f MiB over its life (ru_maxrss)\n",
		s.windowRSSMiB[0], s.windowRSSMiB[1], s.windowRSSMiB[2], float64(fac.hwmAtWindowEnd)/(1<<20), s.peakRSSMiB)
	switch floor := float64(fac.spawnFloor) / (1 << 20); {
	case fac.spawnFloor < 0:
		fmt.Fprintf(w, "           (could not reset this process's peak RSS before starting facmon: ru_maxrss may be the benchmark's own peak)\n")
	case s.peakRSSMiB <= floor+1:
		fmt.Fprintf(w, "           (ru_maxrss is at its floor, the benchmark's own %.0f MiB when it started facmon: facmon's real peak is lower)\n", floor)
	}
	fmt.Fprintf(w, "           %.0f InfluxDB writes, %.0f points and %.1f ms each on average, %.0f write errors; %.0f of facmon's own points (heartbeats, alert events, …) received in the window\n",
		writes, avgBatch, avgWrite, fac.after.writeErrors-fac.before.writeErrors, fac.after.internal-fac.before.internal)
	if commits := fac.after.commits - fac.before.commits; commits > 0 {
		fmt.Fprintf(w, "           %.0f spool group commits, %.0f readings and %.2f ms (write + fsync) each on average\n",
			commits, (fac.after.received-fac.before.received)/commits, (fac.after.commitSecs-fac.before.commitSecs)/commits*1000)
	}
	if fac.influxCPU >= 0 && fac.brokerCPU >= 0 && s.ceil.brokerCPU >= 0 {
		per := func(cpu float64) float64 { return cpu / float64(s.n) * 1e5 }
		fmt.Fprintf(w, "  servers: in facmon's window InfluxDB took %.2f CPU-s per 100k readings and Mosquitto %.2f; Mosquitto took %.2f in the ceiling's\n",
			per(fac.influxCPU), per(fac.brokerCPU), per(s.ceil.brokerCPU))
	}
	if s.ceil.others >= 0 && fac.others >= 0 {
		fmt.Fprintf(w, "  machine: other processes kept %.2f of %d CPUs busy during the ceiling's window, %.2f during facmon's",
			s.ceil.others, runtime.NumCPU(), fac.others)
		if max(s.ceil.others, fac.others) > noisyCPUs {
			fmt.Fprintf(w, ": the rates and the ratio are skewed, run it on a quiet machine")
		}
		fmt.Fprintln(w)
	}
	if len(fac.log) > 0 {
		fmt.Fprintf(w, "           facmon logged %d lines at warn level or above; the last:\n", len(fac.log))
		for _, l := range fac.log[max(0, len(fac.log)-5):] {
			fmt.Fprintf(w, "             %s\n", l)
		}
	}
	fmt.Fprintf(w, "  targets: ≥ %.0f%% of ceiling %s, ≤ %.1f CPU-s/100k %s, peak RSS ≤ %.0f MiB %s\n\n",
		targetRatioPct, verdict(s.ratioPct >= targetRatioPct),
		targetCPUPer100, verdict(s.cpuPer100k <= targetCPUPer100),
		targetRSSMiB, verdict(s.peakRSSMiB > 0 && s.peakRSSMiB <= targetRSSMiB))
}

// thousands renders 41234.5 as "41,235".
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var out []byte
	for i, c := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	return string(out)
}

// ---------------------------------------------------------------- process

// buildFacmon builds ./cmd/facmon of this module into a temporary directory.
func buildFacmon(b *testing.B) string {
	b.Helper()
	// A prebuilt binary keeps its symbols where a profiler (perf) can find
	// them after the run; the default build goes to a temp dir.
	if bin := os.Getenv(binaryEnv); bin != "" {
		return bin
	}
	root, err := moduleRoot()
	if err != nil {
		b.Fatalf("finding the module root: %v", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Fatalf("go not in PATH: %v", err)
	}
	out := filepath.Join(b.TempDir(), "facmon")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "./cmd/facmon")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/facmon: %v\n%s", err, msg)
	}
	return out
}

// moduleRoot walks up from the test's directory to facmon's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(mod), "module github.com/facmon/facmon\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of github.com/facmon/facmon above the working directory")
		}
		dir = parent
	}
}

// facmonProc is `facmon run` in its own process group, its output in a log
// file: the shared process harness of testenv.
type facmonProc struct{ *testenv.Process }

func startFacmon(s *scope, bin, dir string, args ...string) *facmonProc {
	s.Helper()
	fp := &facmonProc{testenv.NewProcess("facmon", bin, args, dir, filepath.Join(dir, "facmon.log"))}
	if err := fp.Start(); err != nil {
		s.Fatalf("start facmon: %v", err)
	}
	s.Cleanup(func() {
		if fp.stop(10*time.Second) == nil {
			s.Logf("facmon had to be killed at cleanup")
		}
		if s.Failed() {
			s.Logf("facmon log %s:\n%s", fp.LogPath(), fp.tail())
		}
	})
	return fp
}

func (fp *facmonProc) waitHealthy(s *scope, web string, timeout time.Duration) {
	s.Helper()
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: 2 * time.Second}
	last := "no answer yet"
	for {
		select {
		case <-fp.Done():
			s.Fatalf("facmon exited during start-up (%v); log:\n%s", fp.WaitErr(), fp.tail())
		default:
		}
		if resp, err := c.Get(web + "/healthz"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			s.Fatalf("facmon not healthy after %v: %s; log:\n%s", timeout, last, fp.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM, waits up to grace and then SIGKILLs. It returns the
// process state after a graceful exit, nil when it had to be killed. It is
// safe to call again once the process is gone.
func (fp *facmonProc) stop(grace time.Duration) *os.ProcessState {
	if alive, _ := fp.Running(); !alive {
		return fp.State()
	}
	if fp.Stop(grace) {
		return nil
	}
	return fp.State()
}

// lines returns facmon's log, one entry a line.
func (fp *facmonProc) lines() []string {
	b, err := os.ReadFile(fp.LogPath())
	if err != nil {
		return []string{"(no log: " + err.Error() + ")"}
	}
	if s := strings.TrimRight(string(b), "\n"); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// tail returns the end of facmon's log for failure messages.
func (fp *facmonProc) tail() string {
	lines := fp.lines()
	if len(lines) == 0 {
		return "(log is empty)"
	}
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// ---------------------------------------------------------------- scope

// scope is the testing.TB handed to the harness for one run: its Cleanup
// and TempDir end with the run rather than with the whole benchmark, so the
// ceiling's broker is gone before facmon's run starts and repeated
// iterations (-benchtime 3x) do not pile up servers. Everything else goes
// to the benchmark.
type scope struct {
	*testing.B
	mu       sync.Mutex
	cleanups []func()
}

func (s *scope) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *scope) TempDir() string {
	s.Helper()
	dir, err := os.MkdirTemp("", "facmon-bench-")
	if err != nil {
		s.Fatalf("TempDir: %v", err)
	}
	s.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// close runs the cleanups, last registered first.
func (s *scope) close() {
	for {
		s.mu.Lock()
		if len(s.cleanups) == 0 {
			s.mu.Unlock()
			return
		}
		f := s.cleanups[len(s.cleanups)-1]
		s.cleanups = s.cleanups[:len(s.cleanups)-1]
		s.mu.Unlock()
		f()
	}
}

// runScoped runs f with a fresh scope and cleans it up however f ends
// (including Fatal, which exits f's goroutine).
func runScoped[R any](b *testing.B, f func(*scope) R) R {
	s := &scope{B: b}
	defer s.close()
	return f(s)
}
