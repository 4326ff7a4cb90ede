package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/publisher"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

type running struct {
	svc    *Service
	cancel context.CancelFunc
	done   chan error
	bucket string
	web    string
	// stopped makes stop callable twice (by the test, then by its
	// cleanup): done carries Run's result once.
	stopped sync.Once
}

// startService runs facmon in-process against the given broker and
// database, as `facmon run --mqtt-url --influx-url --influx-bucket --listen` would.
func startService(t *testing.T, broker *testenv.Broker, db *influxdb.Server, mutate func(*config.Config)) *running {
	t.Helper()
	return launchService(t, broker, db, mutate, true)
}

// launchService is startService, waiting for /healthz only when told:
// with InfluxDB down facmon runs but is not healthy.
func launchService(t *testing.T, broker *testenv.Broker, db *influxdb.Server, mutate func(*config.Config), waitHealthy bool) *running {
	t.Helper()
	bucket := "facmon_" + strings.ToLower(strings.NewReplacer("/", "_", "-", "_").Replace(t.Name()))
	cfg, err := config.Load("", config.Overrides{
		MQTTURL: broker.URL, InfluxURL: db.URL, InfluxBucket: bucket, Listen: "127.0.0.1:0",
	})
	require.NoError(t, err)
	cfg.MQTT.ClientID = "facmon-" + bucket
	cfg.Spool.Dir = t.TempDir()
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := New(cfg, log, NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{svc: svc, cancel: cancel, done: make(chan error, 1), bucket: bucket, web: "http://" + svc.WebAddr()}
	go func() { r.done <- svc.Run(ctx) }()
	t.Cleanup(r.stop)
	if !waitHealthy {
		return r
	}
	testenv.Eventually(t, 20*time.Second, "facmon healthy", func() (bool, string) {
		code, body := get(t, r.web+"/healthz")
		return code == 200, body
	})
	return r
}

func (r *running) stop() {
	r.stopped.Do(func() {
		r.cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			panic("facmon did not stop within 20 s")
		}
	})
}

func get(t *testing.T, url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of one sample line of /metrics, e.g.
// `facmon_readings_rejected_total{reason="malformed_json"}`.
func metric(t *testing.T, web, sample string) float64 {
	t.Helper()
	_, body := get(t, web+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, sample+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, sample)), 64)
			require.NoError(t, err)
			return v
		}
	}
	t.Fatalf("no sample %s in /metrics", sample)
	return 0
}

func mosquittoPub(t *testing.T, b *testenv.Broker, topic string, retain bool, payloads ...string) {
	t.Helper()
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.Port), "-q", "1", "-t", topic, "-l"}
	if retain {
		args = append(args, "-r")
	}
	cmd := exec.Command("mosquitto_pub", args...)
	cmd.Stdin = strings.NewReader(strings.Join(payloads, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "mosquitto_pub: %s", out)
}

func count(t *testing.T, db *influxdb.Server, bucket, q string) int64 {
	rows, err := db.QueryErr(context.Background(), bucket, q)
	if err != nil || len(rows) == 0 || len(rows[0].Values) == 0 {
		return 0
	}
	n, _ := influxdb.AsInt64(rows[0].Values[0][1])
	return n
}

func TestMosquittoPubReadingsStoredWithTagsFieldsAndTypes(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	r := startService(t, broker, db, nil)

	now := time.Now()
	ts := func(i int) string {
		return strconv.FormatInt(now.Add(-time.Duration(10-i)*time.Second).UnixMilli(), 10)
	}
	var doors []string
	for i := range 10 {
		doors = append(doors, fmt.Sprintf(`{"state":"open","cycles":%d,"motor_current_a":1.4,"obstruction":false,"fault":0,"seq":%d,"ts":%s}`, 18231+i, i+1, ts(i)))
	}
	mosquittoPub(t, broker, "facmon/thanh-binh/door/door-1/telemetry", false, doors...)
	mosquittoPub(t, broker, "facmon/hai-chau-1/hvac/hvac-2/telemetry", false, `{"temp_c":27.5,"setpoint_c":25,"humidity_pct":63,"power_w":1650,"running":true,"fault":""}`)
	mosquittoPub(t, broker, "facmon/nam-duong/server/server-1/telemetry", false, `{"cpu_pct":12,"mem_pct":48,"disk_pct":71,"temp_c":51,"ups_on_battery":false,"ups_charge_pct":100}`)
	mosquittoPub(t, broker, "facmon/binh-hien/camera/camera-4/telemetry", false, `{"recording":true,"fps":25,"bitrate_kbps":2048,"storage_pct":64}`)
	mosquittoPub(t, broker, "facmon/binh-hien/camera/camera-4/status", true, `offline`)

	testenv.Eventually(t, 15*time.Second, "all readings stored", func() (bool, string) {
		n := count(t, db, r.bucket, `SELECT count(cycles) FROM door`)
		m := count(t, db, r.bucket, `SELECT count(up) FROM device_status`)
		return n == 10 && m == 1, fmt.Sprintf("door=%d status=%d", n, m)
	})
	rows := db.Query(t, r.bucket, `SELECT * FROM door WHERE device='door-1' ORDER BY time ASC`)
	require.Len(t, rows, 1)
	first := rows[0]
	assert.Equal(t, "thanh-binh", first.Value(0, "ward"))
	assert.Equal(t, "door", first.Value(0, "class"))
	seq, _ := influxdb.AsInt64(first.Value(0, "seq"))
	assert.EqualValues(t, 1, seq)
	tsNs, _ := influxdb.AsInt64(first.Value(0, "time"))
	wantTs, _ := strconv.ParseInt(ts(0), 10, 64)
	assert.Equal(t, wantTs*int64(time.Millisecond), tsNs, "the payload ts is the point's timestamp")

	wantTypes := map[string]map[string]string{
		"door":          {"state": "string", "cycles": "integer", "motor_current_a": "float", "obstruction": "boolean", "fault": "integer", "seq": "integer"},
		"hvac":          {"temp_c": "float", "setpoint_c": "float", "humidity_pct": "float", "power_w": "float", "running": "boolean", "fault": "string"},
		"server":        {"cpu_pct": "float", "mem_pct": "float", "disk_pct": "float", "temp_c": "float", "ups_on_battery": "boolean", "ups_charge_pct": "float"},
		"camera":        {"recording": "boolean", "fps": "float", "bitrate_kbps": "float", "storage_pct": "float"},
		"device_status": {"up": "integer"},
		// facmon's own: it records that it was collecting.
		"facmon_heartbeat": {"collecting": "integer"},
	}
	testenv.Eventually(t, 10*time.Second, "every class stored", func() (bool, string) {
		got := map[string]map[string]string{}
		series, err := db.QueryErr(context.Background(), r.bucket, `SHOW FIELD KEYS`)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range series {
			got[s.Name] = map[string]string{}
			for _, v := range s.Values {
				got[s.Name][v[0].(string)] = v[1].(string)
			}
		}
		return assert.ObjectsAreEqual(wantTypes, got), fmt.Sprint(got)
	})
	tags := db.Query(t, r.bucket, `SHOW TAG VALUES FROM device_status WITH KEY IN ("ward","class","device")`)
	require.Len(t, tags, 1)
	assert.ElementsMatch(t, [][]any{{"class", "camera"}, {"device", "camera-4"}, {"ward", "binh-hien"}}, tags[0].Values)
	assert.Equal(t, 14.0, metric(t, r.web, `facmon_readings_received_total{source="mqtt"}`))
	assert.Equal(t, 14.0+metric(t, r.web, `facmon_readings_received_total{source="heartbeat"}`), metric(t, r.web, "facmon_points_written_total"),
		"every reading written, plus facmon's own heartbeats")
}

func TestBadInputIsCountedAndGoodKeepsFlowing(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	r := startService(t, broker, db, func(c *config.Config) { c.MQTT.MaxPayloadBytes = 1024 })

	old := strconv.FormatInt(time.Now().Add(-8*24*time.Hour).UnixMilli(), 10)
	bad := []struct {
		topic, payload, reason string
	}{
		{"facmon/thanh-binh/door/door-1/telemetry", `{"cycles":`, "malformed_json"},
		{"facmon/thanh-binh/door/door-1/telemetry", `{"cycles":"many"}`, "wrong_type"},
		{"facmon/thanh-binh/hvac/hvac-1/telemetry", `{"temp_c":NaN}`, "non_finite"},
		{"facmon/thanh-binh/hvac/hvac-1/telemetry", `{"temp_c":1e999}`, "non_finite"},
		{"facmon/thanh-binh/door/door-1/telemetry", `{"cycles":1,"pad":"` + strings.Repeat("x", 2000) + `"}`, "payload_too_large"},
		{"facmon/thanh-binh/door/door-1/other", `{"cycles":1}`, "topic_unmatched"},
		{"facmon/son-tra/door/door-1/telemetry", `{"cycles":1}`, "unknown_ward"},
		{"facmon/thanh-binh/door/door 1/telemetry", `{"cycles":1}`, "bad_id"},
		{"facmon/thanh-binh/door/" + strings.Repeat("d", 80) + "/telemetry", `{"cycles":1}`, "bad_id"},
		{"facmon/thanh-binh/door/door-1/telemetry", `{"cycles":1,"ts":` + old + `}`, "timestamp_out_of_range"},
		{"facmon/thanh-binh/lift/lift-1/telemetry", `{"floor":1}`, "unknown_class"},
		{"facmon/thanh-binh/door/door-1/status", `maybe`, "bad_status"},
	}
	pub := newPublisher(t, broker)
	const rounds = 50
	good := 0
	for i := range rounds {
		for _, b := range bad {
			pub(b.topic, b.payload)
		}
		pub("facmon/thanh-binh/door/door-2/telemetry", fmt.Sprintf(`{"cycles":%d,"seq":%d}`, i, i+1))
		good++
	}
	testenv.Eventually(t, 20*time.Second, "every good reading stored", func() (bool, string) {
		n := count(t, db, r.bucket, `SELECT count(cycles) FROM door WHERE device='door-2'`)
		return n == int64(good), fmt.Sprintf("stored %d of %d", n, good)
	})
	want := map[string]float64{}
	for _, b := range bad {
		want[b.reason] += rounds
	}
	for reason, n := range want {
		if reason == "topic_unmatched" {
			// facmon/+/+/+/telemetry does not cover .../other: the broker
			// never delivers it, which is the point of subscribing narrowly.
			continue
		}
		assert.Equal(t, n, metric(t, r.web, `facmon_readings_rejected_total{reason="`+reason+`"}`), reason)
	}
	code, _ := get(t, r.web+"/healthz")
	assert.Equal(t, 200, code, "bad input does not make facmon unhealthy")
}

func TestSimulatorFleetAllStored(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	r := startService(t, broker, db, nil)

	sc := simulator.DefaultConfig()
	sc.BrokerURL = broker.URL
	sc.Interval = 250 * time.Millisecond
	sc.Duration = 3 * time.Second
	sc.Seed = 42
	sim, err := publisher.New(sc, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, sim.Run(context.Background()))
	st := sim.Stats()
	var published uint64
	for _, n := range st.Telemetry {
		published += n
	}
	require.Greater(t, published, uint64(13*10*5), "the simulator published")

	testenv.Eventually(t, 20*time.Second, "every published reading stored", func() (bool, string) {
		var stored int64
		for _, m := range []string{"door", "hvac", "server", "camera"} {
			stored += count(t, db, r.bucket, `SELECT count(seq) FROM `+m)
		}
		return stored == int64(published), fmt.Sprintf("stored %d of %d", stored, published)
	})
	wards := db.Query(t, r.bucket, `SHOW TAG VALUES FROM door WITH KEY = "ward"`)
	require.Len(t, wards, 1)
	assert.Len(t, wards[0].Values, 13, "all 13 wards")
	// Every device announced itself online and said offline at the end.
	testenv.Eventually(t, 10*time.Second, "statuses stored", func() (bool, string) {
		on := count(t, db, r.bucket, `SELECT count(up) FROM device_status WHERE up = 1`)
		off := count(t, db, r.bucket, `SELECT count(up) FROM device_status WHERE up = 0`)
		return on >= 130 && off >= 130, fmt.Sprintf("online %d offline %d", on, off)
	})
}

func TestHealthzNamesWhatIsDown(t *testing.T) {
	broker := testenv.StartMosquitto(t)
	db := influxdb.Start(t, influxdb.WithoutFlux())
	r := startService(t, broker, db, nil)
	code, body := get(t, r.web+"/healthz")
	assert.Equal(t, 200, code)
	assert.Equal(t, "mqtt: ok\ninfluxdb: ok\nspool: ok\n", body)

	db.Stop()
	code, body = get(t, r.web+"/healthz")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "mqtt: ok\ninfluxdb: down:")
	db.Start()

	broker.Stop()
	testenv.Eventually(t, 10*time.Second, "mqtt reported down", func() (bool, string) {
		code, body = get(t, r.web+"/healthz")
		return code == 503 && strings.HasPrefix(body, "mqtt: down:"), body
	})
	broker.Start()
	testenv.Eventually(t, 30*time.Second, "reconnected", func() (bool, string) {
		code, body = get(t, r.web+"/healthz")
		return code == 200, body
	})
}

// newPublisher returns a QoS 1 publisher that waits for each PUBACK.
func newPublisher(t *testing.T, b *testenv.Broker) func(topic, payload string) {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL).SetClientID("test-pub-" + strconv.Itoa(int(time.Now().UnixNano()%1e6))))
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	return func(topic, payload string) {
		tok := c.Publish(topic, 1, false, payload)
		require.True(t, tok.WaitTimeout(10*time.Second))
		require.NoError(t, tok.Error())
	}
}
