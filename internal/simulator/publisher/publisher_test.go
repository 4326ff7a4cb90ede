package publisher

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/testenv"
)

// brokers are the two brokers the simulator meets: Mosquitto, as in production, and
// the embedded mochi broker of `facmon run --demo`.
var brokers = []struct {
	name  string
	start func(t *testing.T) string
}{
	{"mosquitto", func(t *testing.T) string { return testenv.StartMosquitto(t).URL }},
	{"mochi", startMochi},
}

func startMochi(t *testing.T) string {
	t.Helper()
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, srv.AddHook(new(auth.AllowHook), nil))
	l := listeners.NewTCP(listeners.Config{ID: "test", Address: "127.0.0.1:0"})
	require.NoError(t, srv.AddListener(l))
	require.NoError(t, srv.Serve())
	t.Cleanup(func() { srv.Close() })
	return "tcp://" + l.Address()
}

type message struct {
	topic    string
	payload  string
	retained bool
}

// recorder is an MQTT subscriber that keeps everything it receives.
type recorder struct {
	mu   sync.Mutex
	msgs []message
}

type subOpts struct {
	username, password string
	tls                *tls.Config
}

func subscribe(t *testing.T, url, filter string, o subOpts) *recorder {
	t.Helper()
	r := &recorder{}
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("test-%d", time.Now().UnixNano())).
		SetCleanSession(true).SetUsername(o.username).SetPassword(o.password).SetTLSConfig(o.tls).
		SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.msgs = append(r.msgs, message{m.Topic(), string(m.Payload()), m.Retained()})
		})
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	tok = c.Subscribe(filter, 1, nil)
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	return r
}

func (r *recorder) all() []message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// statuses returns the status changes received on topic, in order. QoS 1 is at least
// once, and the mochi broker does redeliver messages still in flight, so a repeated
// status is one change.
func (r *recorder) statuses(topic string) []string {
	var out []string
	for _, m := range r.all() {
		if m.topic == topic && (len(out) == 0 || out[len(out)-1] != m.payload) {
			out = append(out, m.payload)
		}
	}
	return out
}

// retainedStatuses subscribes afresh and returns the retained status of every device,
// waiting until the broker has delivered one for each.
func retainedStatuses(t *testing.T, url string, devices []fleet.Device, o subOpts) map[fleet.Device]string {
	t.Helper()
	r := subscribe(t, url, "facmon/+/+/+/status", o)
	got := map[fleet.Device]string{}
	testenv.Eventually(t, 10*time.Second, "a retained status for every device", func() (bool, string) {
		for _, m := range r.all() {
			for _, d := range devices {
				if m.retained && m.topic == d.StatusTopic("facmon") {
					got[d] = m.payload
				}
			}
		}
		return len(got) == len(devices), fmt.Sprintf("%d of %d", len(got), len(devices))
	})
	return got
}

// telemetry returns d's readings in arrival order, without the redelivered duplicates
// that at-least-once allows (same seq).
func telemetry(t *testing.T, r *recorder, d fleet.Device) []map[string]any {
	var out []map[string]any
	seen := map[string]bool{}
	for _, m := range r.all() {
		if m.topic == d.TelemetryTopic("facmon") {
			p := decode(t, []byte(m.payload))
			seq := p["seq"].(json.Number).String()
			if !seen[seq] {
				seen[seq] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func smallFleet(url, mode string, faults ...string) simulator.Config {
	cfg := simulator.DefaultConfig()
	cfg.BrokerURL = url
	cfg.ClientMode = mode
	cfg.Wards = []fleet.Ward{{ID: "thanh-binh", Name: "Thanh Bình"}, {ID: "hai-chau-1", Name: "Hải Châu I"}}
	cfg.Devices = map[string]int{fleet.ClassDoor: 1, fleet.ClassHVAC: 1, fleet.ClassCamera: 1}
	cfg.Interval = 100 * time.Millisecond
	for _, s := range faults {
		f, err := simulator.ParseFault(s)
		if err != nil {
			panic(err)
		}
		cfg.Faults = append(cfg.Faults, f)
	}
	return cfg
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// startRun runs s in the background; the returned func stops it and returns Run's error.
func startRun(t *testing.T, s *Simulator) (stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if stopped {
			return err
		}
		stopped = true
		cancel()
		select {
		case err = <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Error("Run did not return after its context ended")
			return nil
		}
	}
	// Also when the test fails early: the broker must outlive the simulator's goodbye.
	t.Cleanup(func() { stop() })
	return stop
}

// event finds the applied fault on ward/device ("" for ward-level); faults starting at
// the same moment may be recorded in any order.
func event(events []simulator.FaultEvent, ward, device string) (simulator.FaultEvent, bool) {
	for _, e := range events {
		if e.Ward == ward && e.Device == device {
			return e, true
		}
	}
	return simulator.FaultEvent{}, false
}

func byDevice(devs []fleet.Device, ward string) (in, out []fleet.Device) {
	for _, d := range devs {
		if d.Ward == ward {
			in = append(in, d)
		} else {
			out = append(out, d)
		}
	}
	return in, out
}

func TestPerDeviceOfflineFaultsDeliverLastWills(t *testing.T) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			url := b.start(t)
			live := subscribe(t, url, "facmon/#", subOpts{})
			s, err := New(smallFleet(url, simulator.ModePerDevice,
				"device-offline@thanh-binh/door-1,after=1s",
				"device-offline@thanh-binh/hvac-1,after=1s,for=1s",
				"ward-outage@hai-chau-1,after=1s",
			), testLogger(t))
			require.NoError(t, err)
			stop := startRun(t, s)
			devs := s.Devices()
			door1, hvac1, camera1 := devs[0], devs[1], devs[2]
			hc1, _ := byDevice(devs, "hai-chau-1")

			testenv.Eventually(t, 15*time.Second, "hvac-1 offline and back", func() (bool, string) {
				ev, _ := event(s.FaultEvents(), "thanh-binh", "hvac-1")
				return len(s.FaultEvents()) == 3 && !ev.End.IsZero() && len(telemetry(t, live, hvac1)) > 0 &&
					slices.Equal(live.statuses(hvac1.StatusTopic("facmon")), []string{"online", "offline", "online"}), fmt.Sprint(ev, live.statuses(hvac1.StatusTopic("facmon")))
			})
			// The broker, not the simulator, said "offline": only a last will can.
			assert.Equal(t, []string{"online", "offline"}, live.statuses(door1.StatusTopic("facmon")))
			for _, d := range hc1 {
				assert.Equal(t, []string{"online", "offline"}, live.statuses(d.StatusTopic("facmon")), d)
			}

			got := retainedStatuses(t, url, devs, subOpts{})
			assert.Equal(t, "offline", got[door1], "last will retained")
			for _, d := range hc1 {
				assert.Equal(t, "offline", got[d], "ward outage: %v", d)
			}
			assert.Equal(t, "online", got[hvac1], "back after its fault")
			assert.Equal(t, "online", got[camera1])

			hvacEv, _ := event(s.FaultEvents(), "thanh-binh", "hvac-1")
			assert.Equal(t, simulator.FaultDeviceOffline, hvacEv.Kind)
			assert.InDelta(t, time.Second, hvacEv.End.Sub(hvacEv.Start), float64(500*time.Millisecond))
			doorEv, _ := event(s.FaultEvents(), "thanh-binh", "door-1")
			wardEv, ok := event(s.FaultEvents(), "hai-chau-1", "")
			require.True(t, ok)
			assert.Equal(t, simulator.FaultWardOutage, wardEv.Kind)
			assert.True(t, doorEv.End.IsZero() && wardEv.End.IsZero(), "still active")

			// Nothing was published while hvac-1 was away, and seq kept counting.
			tel := telemetry(t, live, hvac1)
			var lastSeq int64
			for _, p := range tel {
				ts := time.UnixMilli(mustInt(t, p["ts"]))
				assert.False(t, ts.After(hvacEv.Start) && ts.Before(hvacEv.End.Add(-s.cfg.Interval)), "reading at %v during the outage", ts)
				seq := mustInt(t, p["seq"])
				assert.Greater(t, seq, lastSeq)
				lastSeq = seq
			}
			assert.Greater(t, mustInt(t, tel[len(tel)-1]["ts"]), hvacEv.End.UnixMilli()-s.cfg.Interval.Milliseconds(), "publishing again")

			require.NoError(t, stop())
			for d, st := range retainedStatuses(t, url, devs, subOpts{}) {
				assert.Equal(t, "offline", st, "after the run: %v", d)
			}
			for _, e := range s.FaultEvents() {
				assert.False(t, e.End.IsZero(), "faults still active end with the run")
			}
			st := s.Stats()
			assert.Positive(t, st.Telemetry[fleet.ClassDoor])
			assert.Positive(t, st.Telemetry[fleet.ClassCamera])
			assert.Zero(t, st.Telemetry[fleet.ClassServer])
			assert.GreaterOrEqual(t, st.StatusOnline, uint64(7), "6 devices, one reconnect")
			assert.Equal(t, uint64(2), st.StatusOffline, "graceful end: thanh-binh hvac-1 and camera-1; the rest left by will")
			assert.Zero(t, st.Connected)
			assert.Zero(t, st.ConnectErrors)
		})
	}
}

func TestGatewayWardOutage(t *testing.T) {
	for _, b := range brokers {
		t.Run(b.name, func(t *testing.T) {
			url := b.start(t)
			live := subscribe(t, url, "facmon/#", subOpts{})
			s, err := New(smallFleet(url, simulator.ModeGateway,
				"ward-outage@hai-chau-1,after=1s",
				"device-offline@thanh-binh/camera-1,after=1s,for=1s",
			), testLogger(t))
			require.NoError(t, err)
			stop := startRun(t, s)
			devs := s.Devices()
			hc1, tb := byDevice(devs, "hai-chau-1")
			camera1 := tb[2]

			testenv.Eventually(t, 15*time.Second, "camera-1 offline and back", func() (bool, string) {
				ev, _ := event(s.FaultEvents(), "thanh-binh", "camera-1")
				return len(s.FaultEvents()) == 2 && !ev.End.IsZero() &&
					slices.Equal(live.statuses(camera1.StatusTopic("facmon")), []string{"online", "offline", "online"}), fmt.Sprint(ev)
			})
			for _, d := range hc1 {
				assert.Equal(t, []string{"online", "offline"}, live.statuses(d.StatusTopic("facmon")), d)
			}
			got := retainedStatuses(t, url, devs, subOpts{})
			for _, d := range hc1 {
				assert.Equal(t, "offline", got[d], d)
			}
			for _, d := range tb {
				assert.Equal(t, "online", got[d], d)
			}
			nTel := len(telemetry(t, live, hc1[0]))
			require.NoError(t, stop())
			assert.Len(t, telemetry(t, live, hc1[0]), nTel, "the ward stayed silent")
			for d, st := range retainedStatuses(t, url, devs, subOpts{}) {
				assert.Equal(t, "offline", st, d)
			}
			st := s.Stats()
			assert.Equal(t, uint64(3+1+3), st.StatusOffline, "ward outage, camera fault, graceful end")
			assert.Equal(t, uint64(6+1), st.StatusOnline)
			assert.Zero(t, st.PublishErrors)
		})
	}
}

func TestTelemetryOverMQTT(t *testing.T) {
	url := startMochi(t)
	live := subscribe(t, url, "facmon/+/+/+/telemetry", subOpts{})
	cfg := smallFleet(url, simulator.ModePerDevice)
	cfg.Devices = map[string]int{fleet.ClassServer: 1, fleet.ClassDoor: 2}
	cfg.Duration = 2 * time.Second
	s, err := New(cfg, testLogger(t))
	require.NoError(t, err)
	require.NoError(t, s.Run(t.Context()), "ends by itself after Duration")

	st := s.Stats()
	countDoors := func() (n uint64) {
		for _, d := range s.Devices() {
			if d.Class == fleet.ClassDoor {
				n += uint64(len(telemetry(t, live, d)))
			}
		}
		return n
	}
	testenv.Eventually(t, 10*time.Second, "every acknowledged message delivered", func() (bool, string) {
		return countDoors() == st.Telemetry[fleet.ClassDoor], fmt.Sprint(countDoors(), " of ", st.Telemetry[fleet.ClassDoor])
	})
	// The keys each class's payloads must carry are the model's (pinned
	// against the documentation by the simulator's own tests).
	model, err := simulator.NewModel(cfg, time.Now())
	require.NoError(t, err)
	for _, d := range s.Devices() {
		first, err := model.Next(d.Ward, d.ID, time.Now())
		require.NoError(t, err)
		wantKeys := slices.Collect(maps.Keys(decode(t, first)))
		tel := telemetry(t, live, d)
		require.NotEmpty(t, tel, d)
		for i, p := range tel {
			assert.Equal(t, int64(i+1), mustInt(t, p["seq"]), "%v: every message arrived, in order", d)
			assert.ElementsMatch(t, wantKeys, slices.Collect(maps.Keys(p)))
		}
	}
	assert.Zero(t, st.PublishErrors)
	assert.Zero(t, st.Connected)
	assert.Equal(t, uint64(len(s.Devices())), st.StatusOnline)
	assert.Equal(t, uint64(len(s.Devices())), st.StatusOffline)
}

func TestTLSAndPassword(t *testing.T) {
	b := testenv.StartMosquitto(t, testenv.WithTLS(), testenv.WithPassword("sim", "s3cret"))
	creds := subOpts{username: b.Username, password: b.Password}
	live := subscribe(t, b.URL, "facmon/#", creds)
	cfg := smallFleet(b.TLSURL, simulator.ModePerDevice)
	cfg.Wards = cfg.Wards[:1]
	cfg.Devices = map[string]int{fleet.ClassCamera: 1}
	cfg.TLS = b.ClientTLSConfig(t)
	cfg.Username, cfg.Password = b.Username, b.Password
	s, err := New(cfg, testLogger(t))
	require.NoError(t, err)
	stop := startRun(t, s)
	testenv.Eventually(t, 10*time.Second, "telemetry over TLS", func() (bool, string) {
		return len(telemetry(t, live, s.Devices()[0])) > 0, ""
	})
	require.NoError(t, stop())
	assert.Equal(t, map[fleet.Device]string{s.Devices()[0]: "offline"}, retainedStatuses(t, b.URL, s.Devices(), creds))

	// Wrong password: Run keeps retrying and reports that nothing ever connected.
	cfg.Password = "wrong"
	cfg.Duration = 1500 * time.Millisecond
	s, err = New(cfg, nil)
	require.NoError(t, err)
	err = s.Run(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no connection to ssl://127.0.0.1:")
	assert.NotContains(t, err.Error(), "wrong")
	assert.Positive(t, s.Stats().ConnectErrors)
}

func TestRunWithoutBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	cfg := smallFleet("tcp://"+addr, simulator.ModePerDevice)
	cfg.Duration = time.Second
	s, err := New(cfg, nil)
	require.NoError(t, err)
	err = s.Run(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no connection to tcp://"+addr)
	assert.Positive(t, s.Stats().ConnectErrors)
	assert.ErrorContains(t, s.Run(t.Context()), "Run called twice")
}

func TestStatsJSON(t *testing.T) {
	// The CLI prints Stats at the end of `facmon simulate`: keep it marshalable.
	s, err := New(simulator.DefaultConfig(), nil)
	require.NoError(t, err)
	b, err := json.Marshal(s.Stats())
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(b), `"Telemetry":{"camera":0,"door":0,"hvac":0,"server":0}`), string(b))
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v map[string]any
	require.NoError(t, dec.Decode(&v), string(b))
	return v
}
func mustInt(t *testing.T, v any) int64 {
	t.Helper()
	n, err := v.(json.Number).Int64()
	require.NoError(t, err)
	return n
}
