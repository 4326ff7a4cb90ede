package uptime_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/config/options"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/service/servicetest"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/publisher"
	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
	"github.com/facmon/facmon/reports"
	"github.com/facmon/facmon/reports/i18n"
	"github.com/facmon/facmon/reports/uptime"
)

// TestReportDowntimeMatchesInjectedFaults runs the simulator with
// device-offline faults of known start and length against a real
// Mosquitto, facmon (in-process) and a real InfluxDB 1.8.3, then makes the
// report of the run: each faulty device's downtime must equal the
// injected downtime within one heartbeat, and the others have none. The
// offices' calendar is 24/7, so office hours do not interfere.
func TestReportDowntimeMatchesInjectedFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 90 s")
	}
	const heartbeat = 5 * time.Second
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	cfg, err := config.Load("", config.Overrides{MQTTURL: broker.URL, InfluxURL: db.URL, InfluxBucket: "facmon_uptime_it", Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	cfg.MQTT.ClientID = "facmon-uptime-it"
	cfg.Spool.Dir = t.TempDir()
	cfg.Calendars[config.DefaultCalendar] = calendar.Config{AlwaysOpen: true}
	for c := range cfg.Liveness.Heartbeat {
		cfg.Liveness.Heartbeat[c] = config.Duration(heartbeat)
	}
	log := servicetest.Logger(t)
	servicetest.Start(t, cfg, log)

	// Three wards with three devices each; one reading a second.
	sc := simulator.DefaultConfig()
	sc.BrokerURL = broker.URL
	sc.Wards = fleet.DefaultWards()[:3]
	sc.Devices = map[string]int{"door": 1, "hvac": 1, "camera": 1}
	sc.Interval = time.Second
	sc.Duration = 88 * time.Second
	sc.Seed = 6
	// facmon writes its first heartbeat 30 s after it starts, and the
	// time before it is unknown: the faults come after that.
	for _, f := range []string{
		"device-offline@thanh-binh/door-1,after=40s,for=20s",
		"device-offline@thuan-phuoc/camera-1,after=43s,for=35s",
		"device-offline@thach-thang/hvac-1,after=52s,for=26s",
	} {
		fault, err := simulator.ParseFault(f)
		require.NoError(t, err)
		sc.Faults = append(sc.Faults, fault)
	}
	sim, err := publisher.New(sc, log)
	require.NoError(t, err)
	simStart := time.Now()
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(context.Background()) }()

	q := storage.NewInfluxQL(storage.InfluxOptions{URL: db.URL, Bucket: "facmon_uptime_it", Timeout: 30 * time.Second})
	var firstBeat time.Time
	testenv.Eventually(t, 45*time.Second, "facmon's first heartbeat in InfluxDB", func() (bool, string) {
		res, err := q.Query(context.Background(), "SELECT first(collecting) FROM facmon_heartbeat")
		if err != nil {
			return false, err.Error()
		}
		if len(res) == 0 || len(res[0].Series) == 0 {
			return false, "no heartbeat yet"
		}
		firstBeat = res[0].Series[0].Time(0)
		return true, ""
	})
	require.NoError(t, <-simDone)
	events := sim.FaultEvents()
	require.Len(t, events, 3)
	for _, ev := range events {
		require.True(t, firstBeat.Before(ev.Start.Add(-heartbeat)), "the first heartbeat (%s) came after fault %s started (%s): the machine is too slow for this test's timing", firstBeat, ev.Device, ev.Start)
		require.False(t, ev.End.IsZero())
	}
	// The period: from the first heartbeat to a few seconds before the
	// simulator's end, when every device says offline.
	period := reports.Period{From: firstBeat, To: simStart.Add(sc.Duration - 4*time.Second)}
	uo, err := options.Uptime(cfg)
	require.NoError(t, err)
	gen, err := uptime.New(uo)
	require.NoError(t, err)
	// Let the last readings reach InfluxDB.
	testenv.Eventually(t, 20*time.Second, "readings after the period stored", func() (bool, string) {
		res, err := q.Query(context.Background(), "SELECT count(seq) FROM hvac WHERE time >= "+storage.TimeLiteral(period.To))
		if err != nil || len(res) == 0 || len(res[0].Series) == 0 {
			return false, fmt.Sprint(err)
		}
		n, _ := storage.Int(res[0].Series[0].Values[0][1])
		return n >= 3, fmt.Sprintf("%d readings", n)
	})
	r, err := gen.Report(context.Background(), uptime.Request{Period: period, Format: "html", Lang: i18n.VI}, nil)
	require.NoError(t, err)

	injected := map[string]time.Duration{}
	for _, ev := range events {
		injected[ev.Ward+"/"+ev.Device] = ev.End.Sub(ev.Start)
	}
	require.Len(t, r.Devices, 9)
	for _, d := range r.Devices {
		key := d.Ward + "/" + d.Device
		want := injected[key]
		t.Logf("%-24s injected %-8s report: down %-8s incidents %d unknown %s up %s", key, want.Round(time.Millisecond), d.Cur.Down.Round(time.Millisecond), d.Cur.Incidents, d.Cur.Unknown, d.Cur.Up.Round(time.Second))
		assert.InDelta(t, want.Seconds(), d.Cur.Down.Seconds(), heartbeat.Seconds(), "%s: downtime within one heartbeat of the injected %s", key, want)
		if want > 0 {
			assert.Equal(t, 1, d.Cur.Incidents, key)
		} else {
			assert.Zero(t, d.Cur.Incidents, key)
		}
		assert.Zero(t, d.Cur.Unknown, "%s: facmon collected the whole time", key)
		assert.Zero(t, d.Cur.Network, key)
		assert.InDelta(t, period.To.Sub(period.From).Seconds(), (d.Cur.Up + d.Cur.Down).Seconds(), 1, "%s: 24/7: the whole period counts", key)
	}
	assert.Len(t, r.Incidents, 3)
}
