package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/service"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

const inProcessEnv = "FACMON_BENCH_INPROCESS"

// BenchmarkIngestInProcess is the facmon half of BenchmarkIngestEndToEnd
// with internal/service running inside the test binary, so that Go's
// profilers see it (facmon serves no pprof). The publisher shares the
// process, so facmon's goroutines carry the profiler label side=facmon and
// the publisher's side=publisher. It is skipped unless
// FACMON_BENCH_INPROCESS=1, so `make bench` does not run it:
//
//	FACMON_BENCH_INPROCESS=1 go test -run '^$' -bench InProcess -benchtime 1x \
//	    -cpuprofile cpu.out -memprofile mem.out -o bench.test ./bench/
//	go tool pprof -top -cum -tagfocus side=facmon bench.test cpu.out
func BenchmarkIngestInProcess(b *testing.B) {
	if os.Getenv(inProcessEnv) == "" {
		b.Skipf("set %s=1 to run facmon in-process for profiling", inProcessEnv)
	}
	b.StopTimer()
	n := readingsFromEnv(b)
	for range b.N {
		runScoped(b, func(s *scope) struct{} {
			broker := testenv.StartMosquitto(s)
			db := influxdb.Start(s, influxdb.WithoutFlux())
			dir := s.TempDir()
			cfg, err := config.Load("", config.Overrides{
				MQTTURL: broker.URL, InfluxURL: db.URL, InfluxBucket: bucket,
				Listen: "127.0.0.1:0", LogLevel: "warn", SpoolDir: filepath.Join(dir, "spool"),
			})
			if err != nil {
				s.Fatalf("config: %v", err)
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			svc, err := service.New(cfg, log, service.NewRegistry())
			if err != nil {
				s.Fatalf("service.New: %v", err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			// Goroutines inherit profiler labels from the goroutine that starts
			// them, so paho's and the writer's goroutines are labelled too:
			// go tool pprof -tagfocus side=facmon keeps facmon's samples only.
			go pprof.Do(ctx, pprof.Labels("side", "facmon"), func(ctx context.Context) { done <- svc.Run(ctx) })
			s.Cleanup(func() {
				cancel()
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					s.Errorf("facmon did not stop within 20 s")
				}
			})
			web := "http://" + svc.WebAddr()
			testenv.Eventually(s, 30*time.Second, "facmon healthy", func() (bool, string) {
				return svcHealthy(web), "GET /healthz not 200"
			})

			l := newLoad(n)
			var pubs []paho.Client
			pprof.Do(context.Background(), pprof.Labels("side", "publisher"), func(context.Context) {
				pubs, err = connectPublishers(broker.URL)
			})
			if err != nil {
				s.Fatalf("%v", err)
			}
			s.Cleanup(func() { disconnectAll(pubs) })
			wctx, wcancel := context.WithTimeout(context.Background(), windowTimeout(n))
			defer wcancel()
			s.StartTimer()
			start := time.Now()
			pubErr := make(chan error, 1)
			go pprof.Do(wctx, pprof.Labels("side", "publisher"), func(ctx context.Context) { pubErr <- l.publish(ctx, pubs) })
			testenv.Eventually(s, windowTimeout(n), "all readings written", func() (bool, string) {
				smp, err := scrape(web)
				if err != nil {
					return false, err.Error()
				}
				return smp.readingsStored() >= float64(n), smp.counts()
			})
			elapsed := time.Since(start)
			s.StopTimer()
			if err := <-pubErr; err != nil {
				s.Fatalf("publish: %v", err)
			}
			if got := countStored(s, db); got != int64(n) {
				s.Fatalf("InfluxDB holds %d of %d readings", got, n)
			}
			fmt.Printf("facmon in-process: %s readings stored in %v = %s readings/s\n",
				thousands(float64(n)), elapsed.Round(time.Millisecond), thousands(float64(n)/elapsed.Seconds()))
			return struct{}{}
		})
	}
}

func svcHealthy(web string) bool {
	resp, err := metricsClient.Get(web + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}
