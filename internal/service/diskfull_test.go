package service

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/service/servicecheck"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// pagePoller asks for every page facmon serves to people, without pause,
// and remembers each one that did not answer 200 within its timeout.
type pagePoller struct {
	web     string
	client  *http.Client
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	polls   int
	failed  []string
	slowest time.Duration
}

func pollPages(web string) *pagePoller {
	p := &pagePoller{web: web, client: &http.Client{Timeout: 5 * time.Second}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			for _, path := range []string{"/", "/api/status", "/api/alerts"} {
				select {
				case <-p.stop:
					return
				default:
				}
				began := time.Now()
				resp, err := p.client.Get(p.web + path)
				took := time.Since(began)
				problem := ""
				if err != nil {
					problem = err.Error()
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						problem = resp.Status
					}
				}
				p.mu.Lock()
				p.polls++
				p.slowest = max(p.slowest, took)
				if problem != "" {
					p.failed = append(p.failed, fmt.Sprintf("%s %s at %s: %s", path, took.Round(time.Millisecond), began.Format("15:04:05.000"), problem))
				}
				p.mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return p
}

// failures is what failed so far.
func (p *pagePoller) failures() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.failed...)
}

func (p *pagePoller) finish() (polls int, failed []string, slowest time.Duration) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.polls, p.failed, p.slowest
}

// TestFaultFullDiskRecoversWithoutRestart: the spool and the alert state
// on a real 2 MiB tmpfs, InfluxDB down, devices publishing. The disk
// fills (healthz 503, acknowledgements paused), alerts fire while it is
// full, and every page keeps answering throughout; once InfluxDB is back
// the spool frees its drained segments on the still-full disk, intake
// resumes by itself, every reading the broker acknowledged is stored and
// /healthz is 200 again, all in the same process. Before, the pages hung
// from the first alert on (the engine delivered its alert_event under its
// lock into the stalled storage pipeline), and the drained segments stayed
// on the full disk, so intake never resumed without a restart.
func TestFaultFullDiskRecoversWithoutRestart(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	mnt := testenv.TinyFS(t, 2<<20)
	f := func(v float64) *float64 { return &v }
	r := startService(t, broker, db, func(c *config.Config) {
		c.Spool.Dir = filepath.Join(mnt, "spool") // the alert state too, in spool/alerts
		c.Influx.MaxRetryInterval = config.Duration(time.Second)
		c.Alerts.EvalInterval = config.Duration(200 * time.Millisecond)
		c.Alerts.Rules = []rule.Rule{
			{Name: "SpoolBacklog", Kind: rule.KindPipeline, Severity: "warning", Check: rule.CheckSpoolBacklog, Value: f(2), For: rule.Duration(time.Second),
				SummaryVI: "Dữ liệu chờ {{.Value}} giây", SummaryEN: "Readings waited {{.Value}} s"},
			// Once the broker holds the backlog back, the doors fall
			// silent to facmon: fifty more alerts on the full disk.
			{Name: "DeviceOffline", Kind: rule.KindAbsence, Severity: "warning", For: rule.Duration(time.Second),
				SummaryVI: "{{.Device}} mất kết nối", SummaryEN: "{{.Device}} offline"},
		}
		c.Liveness.Heartbeat = map[string]config.Duration{"door": config.Duration(3 * time.Second)}
	})
	// About 330 bytes of line protocol per reading, 1000 readings/s: the
	// disk is full a few seconds into the outage.
	pub := testenv.StartStream(t, broker, testenv.StreamOptions{Wards: wardIDs(), Devices: 50, Interval: 50 * time.Millisecond, Pad: 240})
	testenv.Eventually(t, 20*time.Second, "readings flowing into InfluxDB", func() (bool, string) {
		n := servicecheck.StoredSeqTotal(db, r.bucket)
		return n >= 500, fmt.Sprintf("stored %d", n)
	})
	pages := pollPages(r.web)
	defer func() {
		if pages != nil {
			pages.finish()
		}
	}()

	db.Stop()
	testenv.Eventually(t, 60*time.Second, "the disk full and the spool unwritable", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(r.web)
		if err != nil {
			return false, err.Error()
		}
		return m["facmon_spool_writable"] == 0, fmt.Sprintf("spool %.0f bytes, %.0f write errors", m["facmon_spool_bytes"], m["facmon_spool_write_errors_total"])
	})
	code, body := get(t, r.web+"/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "cannot write")
	testenv.Eventually(t, 30*time.Second, "alerts firing on the full disk", func() (bool, string) {
		n := metric(t, r.web, "facmon_alerts_firing")
		return n >= 10, fmt.Sprintf("%.0f firing", n)
	})
	time.Sleep(5 * time.Second) // the pages must keep answering with the disk full and alerts firing
	full := servicecheck.MustScrapeMetrics(t, r.web)
	require.Zero(t, full["facmon_spool_writable"], "still full")
	assert.Empty(t, pages.failures(), "every page answers while the disk is full and alerts fire")
	t.Logf("disk full: %.0f readings in the spool, %.0f write errors, %.0f alerts firing, %.0f alert records queued for storage",
		full["facmon_spool_readings"], full["facmon_spool_write_errors_total"], full["facmon_alerts_firing"], full[`facmon_alert_records_queued{queue="events"}`])

	db.Start()
	back := time.Now()
	testenv.Eventually(t, 60*time.Second, "intake resumes by itself", func() (bool, string) {
		m, err := servicecheck.ScrapeMetrics(r.web)
		if err != nil {
			return false, err.Error()
		}
		return m["facmon_spool_writable"] == 1 && m["facmon_spool_appended_readings_total"] > full["facmon_spool_appended_readings_total"],
			fmt.Sprintf("writable %v, appended %v, spool %.0f readings", m["facmon_spool_writable"], m["facmon_spool_appended_readings_total"], m["facmon_spool_readings"])
	})
	t.Logf("intake resumed %v after InfluxDB came back", time.Since(back).Round(100*time.Millisecond))
	time.Sleep(2 * time.Second)
	pub.Stop()
	require.Zero(t, pub.Failed.Load(), "the broker acknowledged every publish")
	servicecheck.WaitAllStored(t, db, r.bucket, pub.Want(), 120*time.Second)
	testenv.Eventually(t, 30*time.Second, "/healthz 200 again", func() (bool, string) {
		code, body := get(t, r.web+"/healthz")
		return code == http.StatusOK, body
	})
	polls, failed, slowest := pages.finish()
	pages = nil
	t.Logf("pages: %d requests, slowest %v", polls, slowest.Round(time.Millisecond))
	assert.Empty(t, failed, "every page answered throughout")

	end := servicecheck.MustScrapeMetrics(t, r.web)
	assert.Zero(t, end["facmon_spool_torn_records_total"], "a refused write is not a torn record")
	assert.Zero(t, end["facmon_spool_dropped_records_total"])
	assert.Zero(t, end[`facmon_alert_records_dropped_total{queue="events"}`])
	assert.Zero(t, end[`facmon_alert_records_dropped_total{queue="history"}`])
	testenv.Eventually(t, 30*time.Second, "the alert records reach InfluxDB and the history", func() (bool, string) {
		m := servicecheck.MustScrapeMetrics(t, r.web)
		stored := count(t, db, r.bucket, `SELECT count(id) FROM alert_event WHERE "state" = 'firing'`)
		return stored >= int64(full["facmon_alerts_firing"]) && m[`facmon_alert_records_queued{queue="history"}`] == 0,
			fmt.Sprintf("%d firing events stored, %v history lines queued", stored, m[`facmon_alert_records_queued{queue="history"}`])
	})
	servicecheck.WaitConserved(t, r.web)
}
