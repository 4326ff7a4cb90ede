package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/collectors/mqtt/connection"
	"github.com/facmon/facmon/internal/ratelog"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/redact"
)

// Observer takes a lent reading without waiting.
type Observer interface{ Observe(*reading.Reading) }

// EvaluationClientSuffix ends the client id of an instance's evaluation
// connection, which must differ from its storage session's.
const EvaluationClientSuffix = "-eval"

// Follower is the evaluation connection of an instance in a shared group.
// The storage connection gets only the instance's share of the readings;
// the follower reads all of them, on a clean session at QoS 0, and shows
// each to the observers (liveness and the alert engine), so every
// instance holds the whole district's alert state and a survivor has it
// at once. It never acks for storage nor waits on it: a reading it misses
// is stored by the group all the same.
type Follower struct {
	broker    Broker
	decoder   *Decoder
	devices   *deviceLimit
	observer  Observer
	log       *slog.Logger
	limited   *ratelog.Limiter
	client    paho.Client
	newClient ClientFactory
	now       func() time.Time
	// r is the one reading messages decode into: paho calls handle on a
	// single goroutine (order matters), and observers take it lent.
	r         reading.Reading
	connected atomic.Bool
	metrics   followerMetrics
}

type followerMetrics struct {
	received  prometheus.Counter
	rejected  prometheus.Counter
	connected prometheus.Gauge
}

// NewFollower builds the evaluation connection from the same options as
// the storage collector; its client id is the storage one with
// EvaluationClientSuffix.
func NewFollower(o Options, observer Observer, log *slog.Logger, reg prometheus.Registerer, options ...Option) (*Follower, error) {
	dec, err := NewDecoder(o.Decoder)
	if err != nil {
		return nil, err
	}
	f := &Follower{
		broker:    o.Broker,
		decoder:   dec,
		devices:   newDeviceLimit(o.MaxDevicesPerOffice, o.MaxDevices),
		observer:  observer,
		log:       log.With("collector", "mqtt-evaluation"),
		newClient: applyOptions(options).newClient,
		now:       time.Now,
	}
	f.broker.ClientID += EvaluationClientSuffix
	f.limited = ratelog.New(f.log, 10*time.Second)
	f.metrics = followerMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_mqtt_evaluation_messages_total",
			Help: "Messages the evaluation connection (every reading of the group, for liveness and alerts) received.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_mqtt_evaluation_rejected_total",
			Help: "Messages the evaluation connection could not decode (the storage connection counts them by reason).",
		}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_mqtt_evaluation_connected", Help: "1 while the evaluation connection is subscribed.",
		}),
	}
	reg.MustRegister(f.metrics.received, f.metrics.rejected, f.metrics.connected)
	opts, err := connection.BaseOptions(f.broker)
	if err != nil {
		return nil, err
	}
	opts.
		// Nothing is owed to storage here: a clean session keeps no backlog
		// at the broker while the instance is away.
		SetCleanSession(true).
		SetOrderMatters(true).
		SetDefaultPublishHandler(f.handle).
		SetOnConnectHandler(f.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			f.connected.Store(false)
			f.metrics.connected.Set(0)
			f.log.Warn("mqtt evaluation connection lost; reconnecting", "err", err)
		}).
		SetConnectionNotificationHandler(func(_ paho.Client, n paho.ConnectionNotification) {
			if reason := connection.ConnectFailure(n); reason != nil {
				f.limited.Log(slog.LevelWarn, "connect-failed", "mqtt evaluation connect failed; retrying", "broker", redact.URL(f.broker.URL), "err", reason)
			}
		})
	if dial := connection.DialBuffered(opts.Servers[0].Scheme, f.broker.ConnectTimeout); dial != nil {
		opts.SetCustomOpenConnectionFn(dial)
	}
	f.client = f.newClient(opts)
	return f, nil
}

// Run connects (retrying until it succeeds) and follows until ctx ends.
func (f *Follower) Run(ctx context.Context) error {
	f.log.Info("connecting the evaluation connection", "broker", redact.URL(f.broker.URL), "client_id", f.broker.ClientID, "filters", f.decoder.Filters())
	tok := f.client.Connect()
	select {
	case <-ctx.Done():
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt evaluation connect to %s: %w", redact.URL(f.broker.URL), err)
		}
		<-ctx.Done()
	}
	f.client.Disconnect(250)
	f.connected.Store(false)
	f.metrics.connected.Set(0)
	return nil
}

// Connected reports whether the evaluation connection is subscribed.
func (f *Follower) Connected() bool { return f.connected.Load() }

func (f *Follower) onConnect(cl paho.Client) {
	filters := map[string]byte{}
	for _, t := range f.decoder.Filters() {
		filters[t] = 0
	}
	tok := cl.SubscribeMultiple(filters, nil)
	if !tok.WaitTimeout(f.broker.ConnectTimeout) || tok.Error() != nil {
		f.log.Error("mqtt evaluation subscribe failed; reconnecting", "err", tok.Error())
		go cl.Disconnect(0)
		return
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for t, code := range st.Result() {
			if code == 0x80 {
				f.log.Error("broker refused the evaluation subscription (check its ACL)", "filter", t)
			}
		}
	}
	f.connected.Store(true)
	f.metrics.connected.Set(1)
	f.log.Info("mqtt evaluation connection subscribed", "broker", redact.URL(f.broker.URL))
}

func (f *Follower) handle(_ paho.Client, msg paho.Message) {
	f.metrics.received.Inc()
	now := f.now()
	if rej := f.decoder.DecodeInto(&f.r, msg.Topic(), msg.Payload(), now); rej != nil {
		f.metrics.rejected.Inc()
		return
	}
	if !f.decoder.HasInventory(f.r.Ward) {
		if ok, _ := f.devices.admit(f.r.Ward, f.r.Class, f.r.Device, now); !ok {
			return
		}
	}
	f.observer.Observe(&f.r)
}
