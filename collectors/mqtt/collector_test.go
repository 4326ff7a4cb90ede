package mqtt

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/testenv"
)

// recordingSink keeps a copy of every reading and acks it at once.
type recordingSink struct {
	mu  sync.Mutex
	got []*reading.Reading
}

func (s *recordingSink) Deliver(r *reading.Reading, a reading.Acker) error {
	s.mu.Lock()
	s.got = append(s.got, r.Clone())
	s.mu.Unlock()
	a.Ack()
	return nil
}

func (s *recordingSink) Offer(r *reading.Reading, a reading.Acker) (bool, error) {
	return true, s.Deliver(r, a)
}

func (s *recordingSink) Flush(context.Context) error { return nil }

func (s *recordingSink) readings() []*reading.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*reading.Reading(nil), s.got...)
}

// startCollector runs a collector with cfg's topics against broker b
// until the test ends, and waits until it is subscribed.
func startCollector(t *testing.T, b *testenv.Broker, mutate func(*Options), sink Sink) (*Collector, *prometheus.Registry) {
	t.Helper()
	o := testOptions()
	o.Broker.URL = b.URL
	o.Broker.ClientID = "facmon-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if mutate != nil {
		mutate(&o)
	}
	reg := prometheus.NewRegistry()
	c, err := New(o, sink, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("collector did not stop")
		}
	})
	testenv.Eventually(t, 10*time.Second, "collector subscribed", func() (bool, string) {
		return c.Connected(), "not connected"
	})
	return c, reg
}

func mosquittoPub(t *testing.T, b *testenv.Broker, topic, payload string) {
	t.Helper()
	out, err := exec.Command("mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(b.Port),
		"-q", "1", "-r", "-t", topic, "-m", payload).CombinedOutput()
	require.NoError(t, err, "mosquitto_pub: %s", out)
}

// TestDeviceStatusTopicsThroughMosquitto publishes each device family's
// retained status, as those devices do, with mosquitto_pub through a real
// Mosquitto, and checks the device_status points the collector makes of
// them.
func TestDeviceStatusTopicsThroughMosquitto(t *testing.T) {
	b := testenv.StartMosquitto(t)
	sink := &recordingSink{}
	_, reg := startCollector(t, b, func(o *Options) { withDeviceStatusTopics(&o.Decoder) }, sink)
	msgs := []struct {
		topic, payload string
		device         string
		up             int64
	}{
		{"tele/tasmota_4F2A1C/LWT", "Online", "tasmota_4F2A1C", 1},
		{"zigbee2mqtt/0x00158d0001a2b3c4/availability", `{"state":"online"}`, "0x00158d0001a2b3c4", 1},
		{"shellyplus1pm-441793a1b2c3/online", "true", "shellyplus1pm-441793a1b2c3", 1},
		{"tele/tasmota_4F2A1C/LWT", "Offline", "tasmota_4F2A1C", 0},
		{"zigbee2mqtt/0x00158d0001a2b3c4/availability", `{"state":"offline"}`, "0x00158d0001a2b3c4", 0},
		{"shellyplus1pm-441793a1b2c3/online", "false", "shellyplus1pm-441793a1b2c3", 0},
	}
	for _, m := range msgs {
		mosquittoPub(t, b, m.topic, m.payload)
	}
	testenv.Eventually(t, 10*time.Second, "every status received", func() (bool, string) {
		n := len(sink.readings())
		return n == len(msgs), fmt.Sprintf("%d of %d", n, len(msgs))
	})
	got := map[string][]int64{}
	for _, r := range sink.readings() {
		assert.Equal(t, reading.MeasurementDeviceStatus, r.Measurement, r.Device)
		got[r.Device] = append(got[r.Device], fieldMap(r)["up"].(int64))
	}
	want := map[string][]int64{}
	for _, m := range msgs {
		want[m.device] = append(want[m.device], m.up)
	}
	assert.Equal(t, want, got, "each device online, then offline, in order")
	assert.Zero(t, counterValue(t, reg, "facmon_readings_rejected_total", "reason", string(ReasonBadStatus)))
}

// counterValue reads one sample of a registered counter vector.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
			if label == "" {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no sample %s{%s=%q}", name, label, value)
	return 0
}
