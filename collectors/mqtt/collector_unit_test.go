package mqtt

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/testenv"
)

// holdingSink keeps what it takes unacknowledged until commit, as the
// storage pipeline does until a reading is in the spool; while full it
// refuses offers, and Deliver waits for room.
type holdingSink struct {
	mu      sync.Mutex
	room    *sync.Cond
	full    bool
	got     []string // device ids, in the order taken
	pending []reading.Acker
}

func newHoldingSink() *holdingSink {
	s := &holdingSink{}
	s.room = sync.NewCond(&s.mu)
	return s
}

func (s *holdingSink) take(r *reading.Reading, a reading.Acker) {
	s.got = append(s.got, r.Device)
	s.pending = append(s.pending, a)
}

func (s *holdingSink) Deliver(r *reading.Reading, a reading.Acker) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.full {
		s.room.Wait()
	}
	s.take(r, a)
	return nil
}

func (s *holdingSink) Offer(r *reading.Reading, a reading.Acker) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		return false, nil
	}
	s.take(r, a)
	return true, nil
}

func (s *holdingSink) Flush(context.Context) error { s.commit(); return nil }

func (s *holdingSink) commit() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.pending {
		a.Ack()
	}
	s.pending = nil
}

func (s *holdingSink) setFull(full bool) {
	s.mu.Lock()
	s.full = full
	s.mu.Unlock()
	s.room.Broadcast()
}

func (s *holdingSink) devices() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func runCollector(t *testing.T, c *Collector) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	testenv.Eventually(t, 5*time.Second, "connected", func() (bool, string) { return c.Connected(), "" })
}

func telemetry(id uint16, device string) *fakeMessage {
	return msg(id, "facmon/thanh-binh/door/"+device+"/telemetry", `{"state":"closed","cycles":3}`)
}

// A message is acknowledged only once its sink says it is durable, once.
func TestUnitAckOnlyOnceDurable(t *testing.T) {
	sink := newHoldingSink()
	c, fc, reg := newFakeCollector(t, sink, nil)
	runCollector(t, c)
	msgs := []*fakeMessage{telemetry(1, "door-1"), telemetry(2, "door-2"), telemetry(3, "door-3")}
	for _, m := range msgs {
		fc.deliver(m)
	}
	assert.Equal(t, []string{"door-1", "door-2", "door-3"}, sink.devices())
	for _, m := range msgs {
		assert.Zero(t, m.acks.Load(), "message %d acked before it was durable", m.id)
	}
	sink.commit()
	for _, m := range msgs {
		assert.EqualValues(t, 1, m.acks.Load(), "message %d", m.id)
	}
	assert.Equal(t, 3.0, counterValue(t, reg, "facmon_readings_received_total", "", ""))
}

// Bad input is acknowledged at once (the broker must not deliver it
// again), counted under its reason and never reaches the sink.
func TestUnitRejectionsAckedAndCounted(t *testing.T) {
	cases := []struct {
		topic, payload string
		reason         Reason
	}{
		{"facmon/thanh-binh/door/door-1/telemetry", `{"state":`, ReasonMalformedJSON},
		{"facmon/thanh-binh/door/door-1/telemetry", `[1,2]`, ReasonNotAnObject},
		{"facmon/thanh-binh/door/door-1/telemetry", `{"colour":"red"}`, ReasonNoFields},
		{"facmon/thanh-binh/door/door-1/telemetry", `{"cycles":"many"}`, ReasonWrongType},
		{"facmon/nowhere/door/door-1/telemetry", `{"cycles":1}`, ReasonUnknownWard},
		{"facmon/thanh-binh/toaster/t-1/telemetry", `{"cycles":1}`, ReasonUnknownClass},
		{"facmon/thanh-binh/door/door-1/status", `maybe`, ReasonBadStatus},
		{"elsewhere/door-1", `{"cycles":1}`, ReasonTopicUnmatched},
	}
	for i, tc := range cases {
		t.Run(string(tc.reason), func(t *testing.T) {
			sink := newHoldingSink()
			_, fc, reg := newFakeCollector(t, sink, nil)
			m := msg(uint16(i+1), tc.topic, tc.payload)
			fc.deliver(m)
			assert.EqualValues(t, 1, m.acks.Load(), "acked at once")
			assert.Empty(t, sink.devices())
			assert.Equal(t, 1.0, counterValue(t, reg, "facmon_readings_rejected_total", "reason", string(tc.reason)))
		})
	}
}

// Every (re)connect subscribes again: a broker that lost its state would
// otherwise leave facmon connected and deaf. A lost connection shows at
// once.
func TestUnitReconnectResubscribes(t *testing.T) {
	c, fc, reg := newFakeCollector(t, newHoldingSink(), nil)
	runCollector(t, c)
	require.Equal(t, 1, fc.subscribeCount())
	fc.lose(errors.New("pingresp not received"))
	assert.False(t, c.Connected())
	assert.Equal(t, 1.0, counterValue(t, reg, "facmon_mqtt_connection_lost_total", "", ""))
	assert.ErrorIs(t, c.Health(), ErrNotConnected)
	fc.reconnect()
	assert.True(t, c.Connected())
	assert.Equal(t, 2, fc.subscribeCount(), "subscribed again on reconnect")
	assert.NoError(t, c.Health())

	fc.mu.Lock()
	fc.subErr = errors.New("not authorised")
	fc.mu.Unlock()
	fc.lose(errors.New("EOF"))
	fc.reconnect()
	assert.False(t, c.Connected(), "connected but not subscribed counts as not connected")
	assert.Equal(t, 1.0, counterValue(t, reg, "facmon_mqtt_subscribe_errors_total", "", ""))
}

// While the pipeline has no room the handler never waits (paho's
// goroutine must keep answering pings): messages queue unacked and
// uncounted, then go to the sink in their order once there is room.
func TestUnitFullPipelineQueuesInOrder(t *testing.T) {
	sink := newHoldingSink()
	c, fc, reg := newFakeCollector(t, sink, nil)
	runCollector(t, c)
	sink.setFull(true)
	var msgs []*fakeMessage
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		for i := range 5 {
			m := telemetry(uint16(i+1), fmt.Sprintf("door-%d", i))
			msgs = append(msgs, m)
			fc.deliver(m)
		}
	}()
	select {
	case <-handled:
	case <-time.After(5 * time.Second):
		t.Fatal("the message handler waited on a full pipeline")
	}
	testenv.Eventually(t, 5*time.Second, "messages waiting", func() (bool, string) {
		n := gaugeValue(t, reg, "facmon_mqtt_waiting_messages")
		return n >= 4, fmt.Sprintf("%v waiting", n)
	})
	assert.Empty(t, sink.devices())
	assert.Zero(t, counterValue(t, reg, "facmon_readings_received_total", "", ""), "waiting messages are not yet received")
	sink.setFull(false)
	testenv.Eventually(t, 5*time.Second, "all delivered", func() (bool, string) {
		return len(sink.devices()) == 5, fmt.Sprint(sink.devices())
	})
	assert.Equal(t, []string{"door-0", "door-1", "door-2", "door-3", "door-4"}, sink.devices(), "in their order")
	sink.commit()
	for _, m := range msgs {
		assert.EqualValues(t, 1, m.acks.Load(), "message %d", m.id)
	}
	assert.Equal(t, 0.0, gaugeValue(t, reg, "facmon_mqtt_waiting_messages"))
}

// keepingSink keeps the lent reading itself, which a sink must not.
type keepingSink struct{ kept, cloned *reading.Reading }

func (s *keepingSink) Deliver(r *reading.Reading, a reading.Acker) error {
	s.kept, s.cloned = r, r.Clone()
	a.Ack()
	return nil
}
func (s *keepingSink) Offer(r *reading.Reading, a reading.Acker) (bool, error) {
	return true, s.Deliver(r, a)
}
func (s *keepingSink) Flush(context.Context) error { return nil }

// In test binaries a lent reading is poisoned once the sink returns: a
// sink that kept it sees the poison, one that kept a Clone the reading.
func TestUnitLentReadingIsPoisonedAfterDeliver(t *testing.T) {
	sink := &keepingSink{}
	_, fc, _ := newFakeCollector(t, sink, nil)
	fc.deliver(msg(1, "facmon/thanh-binh/door/door-1/telemetry", `{"state":"open","cycles":7}`))
	require.NotNil(t, sink.kept)
	assert.Equal(t, poisoned, sink.kept.Device, "the kept reading is poisoned")
	assert.Empty(t, sink.kept.Fields)
	for _, f := range sink.kept.Fields[:cap(sink.kept.Fields)] {
		assert.Equal(t, poisoned, f.Key, "its fields' memory too, which the next message reuses")
	}
	assert.Equal(t, "door-1", sink.cloned.Device, "a Clone is the sink's own")
	st, ok := sink.cloned.Field("state")
	require.True(t, ok)
	assert.Equal(t, "open", st.Str)
}
