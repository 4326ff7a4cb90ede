package mqtt

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/collectors/mqtt/connection"
	"github.com/facmon/facmon/internal/testenv"
)

// These tests pin what facmon relies on in paho's internals, against the
// real library and a real Mosquitto: if a new paho version changes it,
// they fail before ingest does.

// recordingStore notes the keys paho puts received publishes under.
type recordingStore struct {
	*connection.QoS1Store
	mu   sync.Mutex
	keys []string
}

func (s *recordingStore) Put(key string, m packets.ControlPacket) {
	if _, ok := m.(*packets.PublishPacket); ok {
		s.mu.Lock()
		s.keys = append(s.keys, key)
		s.mu.Unlock()
	}
	s.QoS1Store.Put(key, m)
}

func (s *recordingStore) publishKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// pahoSubscriber connects a paho client as the collector does (Transport),
// with store, subscribed at QoS 1 to topic; each message goes to got.
func pahoSubscriber(t *testing.T, b *testenv.Broker, store paho.Store, topic string, got chan<- paho.Message) {
	t.Helper()
	opts := paho.NewClientOptions().AddBroker(b.URL).SetClientID("pin-" + strconv.FormatInt(time.Now().UnixNano(), 36)).
		SetCleanSession(true)
	Transport(opts, "tcp", 5*time.Second)
	opts.SetStore(store)
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m; m.Ack() })
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { cl.Disconnect(100) })
	sub := cl.Subscribe(topic, 1, nil)
	require.True(t, sub.WaitTimeout(10*time.Second))
	require.NoError(t, sub.Error())
}

func publish(t *testing.T, b *testenv.Broker, topic, payload string) {
	t.Helper()
	mosquittoPub(t, b, topic, payload)
}

// connection.QoS1Store skips received publishes by their store key prefix: paho
// must still name them connection.InboundPrefix + id.
func TestPahoStoresReceivedPublishesUnderTheInboundPrefix(t *testing.T) {
	b := testenv.StartMosquitto(t)
	store := &recordingStore{QoS1Store: connection.NewQoS1Store()}
	got := make(chan paho.Message, 4)
	pahoSubscriber(t, b, store, "pin/prefix", got)
	publish(t, b, "pin/prefix", `{"n":1}`)
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
	keys := store.publishKeys()
	require.NotEmpty(t, keys, "paho put the received QoS 1 publish in its store")
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, connection.InboundPrefix), "paho's store key %q no longer starts with %q: QoS1Store would keep every message", k, connection.InboundPrefix)
	}
}
