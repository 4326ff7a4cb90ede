package dashboards_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/dashboards"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/service/servicetest"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/apps"
	"github.com/facmon/facmon/internal/simulator/publisher"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// liveWard is the ward that $ward stands for: it has an AC failure, so an
// alert fires there.
const liveWard = "thanh-binh"

// TestEveryPanelHasData is the dashboards' acceptance test: facmon runs
// in-process against a real Mosquitto and InfluxDB, the simulator publishes
// the 13 wards with faults for a while, then every InfluxQL query of every
// panel and variable of every dashboard, in both languages, with Grafana's
// macros and $ward substituted, must run without error and return at least
// one series. The PromQL of the facmon-itself dashboard cannot run here
// (no Prometheus): every metric name it references must be on facmon's live
// /metrics.
//
// A panel whose measurement facmon does not write yet fails the test, and
// the failure says which measurements are missing from the database.
func TestEveryPanelHasData(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	cfg, err := config.Load("", config.Overrides{
		MQTTURL: broker.URL, InfluxURL: db.URL, InfluxBucket: "facmon", Listen: "127.0.0.1:0",
	})
	require.NoError(t, err)
	cfg.MQTT.ClientID = "facmon-dashboards-test"
	cfg.Spool.Dir = t.TempDir()
	cfg.Liveness.SampleInterval = config.Duration(5 * time.Second)
	// A webhook receiver, so that alert notifications are sent and counted.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	cfg.Alerts.Notifiers.Webhooks = []notify.WebhookConfig{{Name: "test", URL: receiver.URL}}
	// The simulated one-stop apps, scraped every second, for the apps dashboard.
	oneStop, err := apps.New(apps.Config{Seed: 5, Wards: fleet.DefaultWards()})
	require.NoError(t, err)
	appsSrv := httptest.NewServer(oneStop.Handler())
	t.Cleanup(appsSrv.Close)
	for _, target := range oneStop.Targets(appsSrv.URL) {
		target.Interval = config.Duration(time.Second)
		target.Timeout = config.Duration(time.Second)
		cfg.Scrape = append(cfg.Scrape, target)
	}
	web := servicetest.Start(t, cfg, servicetest.Logger(t))

	sc := simulator.DefaultConfig()
	sc.BrokerURL = broker.URL
	sc.Interval = time.Second
	sc.Seed = 5
	// Faults that make an alert of every class fire with the built-in
	// rules (ACFault at once, DeviceOffline after a minute), and others
	// that change what the panels draw.
	for _, f := range []string{
		"ac-failure@" + liveWard + "/hvac-1",
		"device-offline@hai-chau-1/door-1",
		"device-offline@binh-thuan/server-1",
		"device-offline@phuoc-ninh/camera-1",
		"door-stuck-open@" + liveWard + "/door-2",
		"camera-not-recording@nam-duong/camera-2",
		"disk-filling@binh-hien/server-1",
		"ward-outage@hoa-cuong-nam,after=5s",
	} {
		fault, err := simulator.ParseFault(f)
		require.NoError(t, err)
		sc.Faults = append(sc.Faults, fault)
	}
	sim, err := publisher.New(sc, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	simCtx, stopSim := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(simCtx) }()

	// At least 10 s of telemetry; then until facmon has written its first
	// device_availability samples (every liveness.sample_interval) and an
	// alert of every class fires, or a minute more than that: what is
	// still missing then shows as panels without data below.
	start := time.Now()
	deadline := start.Add(cfg.Liveness.SampleInterval.D() + time.Minute)
	for time.Now().Before(deadline) {
		if time.Since(start) >= 10*time.Second &&
			count(t, db, `SELECT count("up") FROM "device_availability"`) > 0 &&
			len(firingClasses(t, db)) >= len(dashboards.Classes()) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("simulated for %s; classes with an active alert: %v", time.Since(start).Round(time.Second), firingClasses(t, db))
	stopSim()
	require.NoError(t, <-simDone)
	testenv.Eventually(t, 20*time.Second, "every reading stored", func() (bool, string) {
		body := get(t, web+"/metrics")
		return strings.Contains(body, "\nfacmon_ingest_pending_readings 0\n"), "pending readings"
	})

	present := map[string]bool{}
	for _, s := range db.Query(t, "facmon", "SHOW MEASUREMENTS") {
		for row := range s.Values {
			present[fmt.Sprint(s.Value(row, "name"))] = true
		}
	}

	var failures []string
	missing := map[string][]string{} // measurement → panels
	checked := 0
	metricsBody := get(t, web+"/metrics")
	exposed := metricNames(metricsBody)
	for _, lang := range []dashboards.Lang{dashboards.Vietnamese, dashboards.English} {
		boards, err := dashboards.All(dashboards.Options{Lang: lang})
		require.NoError(t, err)
		for _, q := range queriesOf(t, boards) {
			where := fmt.Sprintf("%s %s", lang, q)
			if q.datasource == "prometheus" {
				for _, name := range metricNameRE.FindAllString(q.query, -1) {
					if !exposed[name] {
						failures = append(failures, fmt.Sprintf("%s: metric %s is not on facmon's /metrics", where, name))
					}
				}
				checked++
				continue
			}
			query := substitute(q.query, liveWard)
			require.NotContains(t, query, "$__", where)
			require.NotContains(t, query, "$ward", where)
			series, err := db.QueryErr(t.Context(), "facmon", query)
			checked++
			switch {
			case err != nil:
				failures = append(failures, fmt.Sprintf("%s: error %v\n    %s", where, err, query))
			case len(series) == 0:
				var absent []string
				for _, m := range measurements(query) {
					if !present[m] {
						absent = append(absent, m)
						missing[m] = append(missing[m], where)
					}
				}
				why := "no series"
				if len(absent) > 0 {
					why += "; not in the database: " + strings.Join(absent, ", ")
				}
				failures = append(failures, fmt.Sprintf("%s: %s\n    %s", where, why, query))
			}
		}
	}
	require.Greater(t, checked, 150)
	if len(failures) > 0 {
		var ms []string
		for m, panels := range missing {
			ms = append(ms, fmt.Sprintf("%s (%d queries)", m, len(panels)))
		}
		sort.Strings(ms)
		t.Errorf("%d of %d queries have no data.\nMeasurements facmon did not write: %s\n\n%s",
			len(failures), checked, strings.Join(ms, ", "), strings.Join(failures, "\n"))
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func count(t *testing.T, db *influxdb.Server, q string) int64 {
	series, err := db.QueryErr(t.Context(), "facmon", q)
	if err != nil || len(series) == 0 || len(series[0].Values) == 0 {
		return 0
	}
	n, _ := influxdb.AsInt64(series[0].Values[0][1])
	return n
}

// firingClasses are the device classes with an alert firing or
// acknowledged.
func firingClasses(t *testing.T, db *influxdb.Server) []string {
	series, err := db.QueryErr(t.Context(), "facmon", `SELECT count("state") FROM (SELECT last("state") AS "state" FROM "alert_event" WHERE time > now() - 1h GROUP BY "alertname", "ward", "class", "device") WHERE "state" = 'firing' OR "state" = 'acknowledged' GROUP BY "class"`)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range series {
		out = append(out, s.Tags["class"])
	}
	sort.Strings(out)
	return out
}

// metricNames lists the sample names of a Prometheus text exposition: each
// family's name, and for histograms and summaries the _bucket, _sum and
// _count series too.
func metricNames(body string) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
			if slices.Contains([]string{"histogram", "summary"}, f[3]) {
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					out[f[2]+s] = true
				}
			}
		}
	}
	return out
}
