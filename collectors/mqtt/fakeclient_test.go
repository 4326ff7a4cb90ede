package mqtt

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// fakeClient stands in for paho's client: Connect calls the collector's
// on-connect handler, and the test delivers messages and connection
// losses through the handlers the collector set, as paho's goroutine does.
type fakeClient struct {
	opts *paho.ClientOptions

	mu         sync.Mutex
	subscribes []map[string]byte
	connected  bool
	subErr     error
}

func (f *fakeClient) IsConnected() bool      { f.mu.Lock(); defer f.mu.Unlock(); return f.connected }
func (f *fakeClient) IsConnectionOpen() bool { return f.IsConnected() }
func (f *fakeClient) Connect() paho.Token {
	f.mu.Lock()
	f.connected = true
	f.mu.Unlock()
	f.opts.OnConnect(f)
	return doneToken{}
}
func (f *fakeClient) Disconnect(uint) { f.mu.Lock(); f.connected = false; f.mu.Unlock() }
func (f *fakeClient) Publish(string, byte, bool, any) paho.Token {
	return doneToken{err: errors.New("the collector never publishes")}
}
func (f *fakeClient) Subscribe(t string, q byte, _ paho.MessageHandler) paho.Token {
	return f.SubscribeMultiple(map[string]byte{t: q}, nil)
}
func (f *fakeClient) SubscribeMultiple(filters map[string]byte, _ paho.MessageHandler) paho.Token {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subscribes = append(f.subscribes, filters)
	return doneToken{err: f.subErr}
}
func (f *fakeClient) Unsubscribe(...string) paho.Token        { return doneToken{} }
func (f *fakeClient) AddRoute(string, paho.MessageHandler)    {}
func (f *fakeClient) OptionsReader() paho.ClientOptionsReader { return paho.NewOptionsReader(f.opts) }
func (f *fakeClient) deliver(m *fakeMessage)                  { f.opts.DefaultPublishHandler(f, m) }
func (f *fakeClient) lose(err error)                          { f.Disconnect(0); f.opts.OnConnectionLost(f, err) }
func (f *fakeClient) reconnect()                              { f.Connect() }
func (f *fakeClient) subscribeCount() int                     { f.mu.Lock(); defer f.mu.Unlock(); return len(f.subscribes) }

type doneToken struct{ err error }

func (doneToken) Wait() bool                     { return true }
func (doneToken) WaitTimeout(time.Duration) bool { return true }
func (doneToken) Done() <-chan struct{}          { c := make(chan struct{}); close(c); return c }
func (t doneToken) Error() error                 { return t.err }

// fakeMessage counts its acks.
type fakeMessage struct {
	topic   string
	payload []byte
	id      uint16
	acks    atomic.Int32
}

func (m *fakeMessage) Duplicate() bool   { return false }
func (m *fakeMessage) Qos() byte         { return 1 }
func (m *fakeMessage) Retained() bool    { return false }
func (m *fakeMessage) Topic() string     { return m.topic }
func (m *fakeMessage) MessageID() uint16 { return m.id }
func (m *fakeMessage) Payload() []byte   { return m.payload }
func (m *fakeMessage) Ack()              { m.acks.Add(1) }

func msg(id uint16, topic, payload string) *fakeMessage {
	return &fakeMessage{topic: topic, payload: []byte(payload), id: id}
}

// newFakeCollector builds a collector on a fake client, not yet running.
func newFakeCollector(t *testing.T, sink Sink, mutate func(*Options)) (*Collector, *fakeClient, *prometheus.Registry) {
	t.Helper()
	o := testOptions()
	o.Broker.ClientID = "facmon-unit"
	if mutate != nil {
		mutate(&o)
	}
	fc := &fakeClient{}
	reg := prometheus.NewRegistry()
	c, err := New(o, sink, slog.New(slog.NewTextHandler(io.Discard, nil)), reg,
		WithClientFactory(func(o *paho.ClientOptions) paho.Client { fc.opts = o; return fc }))
	require.NoError(t, err)
	return c, fc, reg
}
