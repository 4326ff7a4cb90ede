package scrape

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/apps"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
	"github.com/facmon/facmon/internal/web"
)

// startNodeExporter runs Debian's prometheus-node-exporter on a free
// loopback port with a few collectors, and returns its /metrics URL. The
// test fails, never skips, when it is not installed.
func startNodeExporter(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-node-exporter")
	if err != nil {
		t.Fatalf("prometheus-node-exporter not installed: run scripts/deps.sh node-exporter")
	}
	for attempt := 0; attempt < 3; attempt++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(testenv.FreePort(t)))
		logFile := filepath.Join(t.TempDir(), "node-exporter.log")
		out, err := os.Create(logFile)
		require.NoError(t, err)
		cmd := exec.Command(bin, "--web.listen-address="+addr,
			"--collector.disable-defaults", "--collector.cpu", "--collector.meminfo", "--collector.loadavg")
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		out.Close()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		})
		url := "http://" + addr + "/metrics"
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-exited:
				log, _ := os.ReadFile(logFile)
				if strings.Contains(string(log), "address already in use") {
					deadline = time.Time{}
					continue
				}
				t.Fatalf("prometheus-node-exporter exited:\n%s", log)
			default:
			}
			if resp, err := http.Get(url); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return url
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Fatalf("prometheus-node-exporter did not answer")
	return ""
}

func TestScrapeRealNodeExporter(t *testing.T) {
	url := startNodeExporter(t)
	sink := &recSink{}
	r := start(t, sink, tgt(url, "hai-chau-2", "node", 200*time.Millisecond, 2*time.Second))
	testenv.Eventually(t, 10*time.Second, "two scrapes of node_exporter", func() (bool, string) {
		return len(sink.scrapes("hai-chau-2", "node")) >= 2, ""
	})
	r.stop(t)

	for _, s := range sink.scrapes("hai-chau-2", "node") {
		require.Equal(t, int64(1), upOf(s), r.c.Status()[0].LastError)
		samples, _ := s.Field(FieldSamples)
		assert.Greater(t, samples.Int, int64(50))
	}
	cpu := sink.series("hai-chau-2", "node", "node_cpu_seconds_total")
	require.NotEmpty(t, cpu)
	modes := map[string]bool{}
	for _, c := range cpu {
		assert.Equal(t, ClassApp, c.Class)
		assert.NotEmpty(t, tag(c, "cpu"))
		modes[tag(c, "mode")] = true
		v, ok := c.FloatField(FieldCounter)
		assert.True(t, ok)
		assert.GreaterOrEqual(t, v, 0.0)
	}
	assert.True(t, modes["idle"] && modes["user"] && modes["system"], "modes %v", modes)
	mem := sink.series("hai-chau-2", "node", "node_memory_MemTotal_bytes")
	require.NotEmpty(t, mem)
	total, _ := mem[0].FloatField(FieldGauge)
	assert.Greater(t, total, 1e6)
	require.NotEmpty(t, sink.series("hai-chau-2", "node", "node_load1"))
	// Its Go runtime summary and its own handler's counters come through too.
	gc := sink.series("hai-chau-2", "node", "go_gc_duration_seconds")
	require.NotEmpty(t, gc)
	_, ok := gc[0].FloatField("0.5")
	assert.True(t, ok, "quantile field")
	for _, reason := range DropReasons {
		if reason != DropNonFinite && reason != DropNoFields {
			assert.Zero(t, r.droppedTotal("node", "hai-chau-2", reason), reason)
		}
	}
	// Every reading the encoder takes.
	enc := storage.NewEncoder()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, rd := range sink.rs {
		require.NoError(t, enc.Append(rd))
	}
	require.NoError(t, roundTrip(enc.Bytes(), sink.rs))
}

// startApps serves simulated apps of three wards, the simulated clock
// starting on a Monday at 09:00, with app-down at the first ward (for the
// first second) and queue-stuck at the second.
func startApps(t *testing.T) (*apps.Apps, string) {
	t.Helper()
	monday9 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.FixedZone("ICT", 7*3600))
	var faults []simulator.Fault
	for _, s := range []string{"app-down@thanh-binh,for=1s", "queue-stuck@thuan-phuoc"} {
		f, err := simulator.ParseFault(s)
		require.NoError(t, err)
		faults = append(faults, f)
	}
	sim, err := apps.New(apps.Config{
		Wards: fleet.DefaultWards()[:3], Seed: 3, Faults: faults,
		Now: func() time.Time { return monday9 },
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return sim, "http://" + ln.Addr().String()
}

// withInterval is the simulator's targets, as the configuration lists
// them, scraped every interval.
func withInterval(ts []config.ScrapeTarget, interval time.Duration) []Target {
	out := make([]Target, len(ts))
	for i, st := range ts {
		out[i] = tgt(st.URL, st.Ward, st.App, interval, interval)
		out[i].Labels = st.Labels
	}
	return out
}

func TestSimulatedAppsFaultsInScrapedReadings(t *testing.T) {
	sim, base := startApps(t)
	sink := &recSink{}
	r := start(t, sink, withInterval(sim.Targets(base), 100*time.Millisecond)...)
	testenv.Eventually(t, 10*time.Second, "app-down seen, then the app back", func() (bool, string) {
		ss := sink.scrapes("thanh-binh", apps.Name)
		if len(ss) < 2 {
			return false, fmt.Sprintf("%d scrapes", len(ss))
		}
		return upOf(ss[0]) == 0 && upOf(ss[len(ss)-1]) == 1, fmt.Sprintf("first up=%d, last up=%d", upOf(ss[0]), upOf(ss[len(ss)-1]))
	})
	testenv.Eventually(t, 10*time.Second, "ten scrapes of the stuck kiosk", func() (bool, string) {
		n := len(sink.series("thuan-phuoc", apps.Name, apps.MetricTicketsIssued))
		return n >= 10, fmt.Sprintf("%d", n)
	})
	r.stop(t)
	assert.GreaterOrEqual(t, r.scrapesTotal(apps.Name, "thanh-binh", ResultError), 1.0)

	// queue-stuck: the queue stays high and the ticket counter stands still.
	queue := sink.series("thuan-phuoc", apps.Name, apps.MetricQueueLength)
	tickets := sink.series("thuan-phuoc", apps.Name, apps.MetricTicketsIssued)
	q0, _ := queue[0].FloatField(FieldGauge)
	t0, _ := tickets[0].FloatField(FieldCounter)
	assert.GreaterOrEqual(t, q0, 30.0)
	for i := range queue {
		q, _ := queue[i].FloatField(FieldGauge)
		n, _ := tickets[i].FloatField(FieldCounter)
		assert.Equal(t, q0, q)
		assert.Equal(t, t0, n)
	}
	// The ward without faults is up at every scrape, with every metric.
	for _, s := range sink.scrapes("thach-thang", apps.Name) {
		assert.Equal(t, int64(1), upOf(s))
	}
	for _, m := range []string{apps.MetricTicketsIssued, apps.MetricQueueLength, apps.MetricWaitSeconds,
		apps.MetricDossiersReceived, apps.MetricDossiersProcessed, apps.MetricDossiersOverdue} {
		assert.NotEmpty(t, sink.series("thach-thang", apps.Name, m), m)
	}
	wait := sink.series("thach-thang", apps.Name, apps.MetricWaitSeconds)
	for _, f := range []string{FieldSum, FieldCount, "60", "3600", "+Inf"} {
		_, ok := wait[0].FloatField(f)
		assert.True(t, ok, f)
	}
	evs := sim.FaultEvents()
	require.Len(t, evs, 2)
	assert.Equal(t, simulator.FaultAppDown, evs[0].Kind)
	assert.False(t, evs[0].End.IsZero(), "app-down over")
	assert.True(t, evs[1].End.IsZero(), "queue-stuck lasts")
}

type quarantined struct{ n int }

func (q *quarantined) Poison([]byte, int, string) error { q.n++; return nil }

// Node exporter, facmon's own /metrics and the simulated apps, scraped
// through the storage batcher into a real InfluxDB 1.8.
func TestScrapeIntoInfluxDB(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	nodeURL := startNodeExporter(t)
	sim, appsURL := startApps(t)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	poison := &quarantined{}
	const bucket = "scrape"
	influx := storage.NewInflux(storage.InfluxOptions{
		URL: db.URL, Bucket: bucket, Timeout: 10 * time.Second, MaxRetryInterval: time.Second, CreateDatabase: true,
	}, poison, log, reg)
	defer influx.Close()
	batcher := storage.NewBatcher(storage.BatchOptions{MaxPoints: 5000, AckWindow: 5000, Linger: 50 * time.Millisecond, DrainTimeout: 5 * time.Second},
		influx, log, reg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batcherDone := make(chan error, 1)
	go func() { batcherDone <- batcher.Run(ctx) }()

	// facmon's own /metrics, as its web server serves it.
	srv := web.New("127.0.0.1:0", web.Limits{}, reg, nil, log)
	ln, err := srv.Listen()
	require.NoError(t, err)
	go func() { _ = srv.Serve(ctx, ln) }()

	targets := append(withInterval(sim.Targets(appsURL), 250*time.Millisecond),
		tgt(nodeURL, "hai-chau-2", "node", 250*time.Millisecond, 2*time.Second),
		tgt("http://"+ln.Addr().String()+"/metrics", "hai-chau-2", "facmon", 250*time.Millisecond, 2*time.Second))
	targets[len(targets)-1].Labels = map[string]string{"instance": "test"}
	c, err := New(Options{Targets: targets, Bounds: testBounds}, batcher, log, reg)
	require.NoError(t, err)
	collectorDone := make(chan error, 1)
	go func() { collectorDone <- c.Run(ctx) }()

	query := func(q string) []influxdb.Series {
		rows, err := db.QueryErr(context.Background(), bucket, q)
		if err != nil {
			return nil
		}
		return rows
	}
	lastUp := func() map[string]int64 {
		out := map[string]int64{}
		for _, s := range query(`SELECT last("up") FROM "scrape" GROUP BY "ward", "device"`) {
			v, _ := influxdb.AsInt64(s.Value(0, "last"))
			out[s.Tags["ward"]+"/"+s.Tags["device"]] = v
		}
		return out
	}
	testenv.Eventually(t, 30*time.Second, "every target scraped and stored", func() (bool, string) {
		up := lastUp()
		want := map[string]int64{"thanh-binh/onestop": 1, "thuan-phuoc/onestop": 1, "thach-thang/onestop": 1, "hai-chau-2/node": 1, "hai-chau-2/facmon": 1}
		for k, v := range want {
			if up[k] != v {
				return false, fmt.Sprintf("last up %v", up)
			}
		}
		return true, ""
	})
	// app-down: the first scrapes of thanh-binh's app said up=0.
	rows := query(`SELECT min("up") FROM "scrape" WHERE "ward" = 'thanh-binh'`)
	require.NotEmpty(t, rows)
	minUp, _ := influxdb.AsInt64(rows[0].Value(0, "min"))
	assert.Equal(t, int64(0), minUp)

	// queue-stuck: thuan-phuoc's queue stays at its stuck level, its tickets do not move.
	rows = query(`SELECT min("gauge"), max("gauge") FROM "onestop_queue_length" WHERE "ward" = 'thuan-phuoc'`)
	require.NotEmpty(t, rows)
	lo, _ := influxdb.AsFloat64(rows[0].Value(0, "min"))
	hi, _ := influxdb.AsFloat64(rows[0].Value(0, "max"))
	assert.GreaterOrEqual(t, lo, 30.0)
	assert.Equal(t, lo, hi)
	rows = query(`SELECT spread("counter"), count("counter") FROM "onestop_tickets_issued_total" WHERE "ward" = 'thuan-phuoc'`)
	require.NotEmpty(t, rows)
	spread, _ := influxdb.AsFloat64(rows[0].Value(0, "spread"))
	assert.Zero(t, spread)

	// The histogram's fields, the node's labels as tags, facmon's own
	// metrics with their ward label renamed.
	rows = query(`SELECT last("sum"), last("count"), last("+Inf"), last("60") FROM "onestop_wait_seconds" WHERE "ward" = 'thach-thang'`)
	require.NotEmpty(t, rows)
	count, _ := influxdb.AsFloat64(rows[0].Value(0, "last_1"))
	inf, _ := influxdb.AsFloat64(rows[0].Value(0, "last_2"))
	assert.Equal(t, count, inf)
	rows = query(`SHOW TAG VALUES FROM "node_cpu_seconds_total" WITH KEY = "mode"`)
	require.NotEmpty(t, rows)
	assert.GreaterOrEqual(t, len(rows[0].Values), 3)
	rows = query(`SELECT last("counter") FROM "facmon_scrapes_total" WHERE "result" = 'ok' AND "instance" = 'test' GROUP BY "app", "exported_ward"`)
	assert.GreaterOrEqual(t, len(rows), 5, "facmon_scrapes_total by app and exported_ward: %v", rows)
	rows = query(`SELECT last("gauge") FROM "go_goroutines" WHERE "device" = 'facmon'`)
	assert.NotEmpty(t, rows)

	cancel()
	require.NoError(t, <-collectorDone)
	<-batcherDone
	assert.Zero(t, poison.n, "no point refused by InfluxDB")
	for _, st := range c.Status() {
		if st.Ward != "thanh-binh" {
			assert.True(t, st.Up, "%s/%s: %s", st.Ward, st.App, st.LastError)
		}
	}
	if t.Failed() {
		t.Log(db.Log())
	}
}
