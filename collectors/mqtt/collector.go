// Package mqtt is the MQTT collector: it subscribes to the devices' topics
// with a persistent QoS 1 session, turns each message into a Reading, and
// acknowledges the message only when its sink says the reading is durable.
package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/collectors/mqtt/connection"
	"github.com/facmon/facmon/internal/ratelog"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/redact"
)

// Sink takes a decoded reading and acks it once it is durable. Deliver
// waits for room (back-pressure); Offer takes the reading only if there
// is room now and reports whether it did. An error means the reading can
// never be stored and is dropped (the collector acks it). The reading is
// lent: once Deliver or Offer returns, the collector reuses it, its Fields
// and its Extra for a later message, so a sink that keeps one keeps a
// Clone. Flush makes what it holds durable and acks it now.
type Sink interface {
	Deliver(r *reading.Reading, a reading.Acker) error
	Offer(r *reading.Reading, a reading.Acker) (bool, error)
	Flush(ctx context.Context) error
}

// ClientFactory makes the MQTT client from the options the collector
// built, its handlers set: paho.NewClient in production; unit tests pass a
// fake that delivers messages and connection events as paho would.
type ClientFactory func(*paho.ClientOptions) paho.Client

// Option changes how New and NewFollower build their connection.
type Option func(*building)

type building struct{ newClient ClientFactory }

func applyOptions(options []Option) building {
	b := building{newClient: func(o *paho.ClientOptions) paho.Client { return paho.NewClient(o) }}
	for _, o := range options {
		o(&b)
	}
	return b
}

// WithClientFactory makes the connection's client with f.
func WithClientFactory(f ClientFactory) Option { return func(b *building) { b.newClient = f } }

// Collector is one MQTT subscription.
type Collector struct {
	broker    Broker
	decoder   *Decoder
	sink      Sink
	log       *slog.Logger
	limited   *ratelog.Limiter
	client    paho.Client
	newClient ClientFactory
	now       func() time.Time
	// readings recycles the Readings messages are decoded into: with
	// their fields, the largest allocation per message otherwise.
	readings sync.Pool

	connected atomic.Bool
	// stopping makes the handler leave new messages unacked, for the
	// broker to deliver again to the next session.
	stopping atomic.Bool
	metrics  collectorMetrics
	intake   intake
	devices  *deviceLimit
	// poisonLent is set in test binaries: a reading lent to the sink is
	// overwritten once the sink returns, so a sink that kept it instead of
	// a Clone fails its tests rather than corrupting readings later.
	poisonLent bool
}

type collectorMetrics struct {
	received  prometheus.Counter
	rejected  *prometheus.CounterVec
	connected prometheus.Gauge
	lost      prometheus.Counter
	subErrors prometheus.Counter
	connFails prometheus.Counter
	waiting   prometheus.Gauge
}

// New builds a collector from validated options. The password is read
// from its file here, so a missing file fails start-up, not a reconnect.
func New(o Options, sink Sink, log *slog.Logger, reg prometheus.Registerer, options ...Option) (*Collector, error) {
	dec, err := NewDecoder(o.Decoder)
	if err != nil {
		return nil, err
	}
	c := &Collector{
		broker:     o.Broker,
		decoder:    dec,
		sink:       sink,
		log:        log.With("collector", "mqtt"),
		now:        time.Now,
		devices:    newDeviceLimit(o.MaxDevicesPerOffice, o.MaxDevices),
		newClient:  applyOptions(options).newClient,
		poisonLent: testing.Testing(),
	}
	c.limited = ratelog.New(c.log, 10*time.Second)
	c.metrics = collectorMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_readings_received_total", Help: "Readings received, by source (mqtt messages, facmon heartbeats).",
			ConstLabels: prometheus.Labels{"source": "mqtt"},
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "facmon_readings_rejected_total", Help: "Messages dropped as bad input, by reason.",
		}, []string{"reason"}),
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_mqtt_connected", Help: "1 while the MQTT collector is connected to its broker.",
		}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_mqtt_connection_lost_total", Help: "Times the broker connection was lost.",
		}),
		subErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_mqtt_subscribe_errors_total", Help: "Subscriptions the broker refused or that timed out.",
		}),
		connFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "facmon_mqtt_connect_failures_total", Help: "Connection attempts that failed (refused, bad credentials, TLS, unreachable).",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_mqtt_waiting_messages",
			Help: "MQTT messages received while the pipeline had no room, waiting unacknowledged (not yet counted as received).",
		}),
	}
	for _, r := range AllReasons {
		c.metrics.rejected.WithLabelValues(string(r))
	}
	c.metrics.rejected.WithLabelValues("unencodable")
	tracked := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "facmon_mqtt_devices",
		Help: "Distinct device ids taken from offices with no inventory, which ingest.max_devices_per_office and ingest.max_devices bound.",
	}, func() float64 { return float64(c.devices.tracked.Load()) })
	reg.MustRegister(c.metrics.received, c.metrics.rejected, c.metrics.connected, c.metrics.lost, c.metrics.subErrors, c.metrics.connFails, c.metrics.waiting, tracked)
	c.intake.init(maxWaitingBytes)

	opts, err := c.clientOptions()
	if err != nil {
		return nil, err
	}
	c.client = c.newClient(opts)
	return c, nil
}

func (c *Collector) clientOptions() (*paho.ClientOptions, error) {
	m := c.broker
	opts, err := connection.BaseOptions(m)
	if err != nil {
		return nil, err
	}
	opts.
		// A persistent session keeps our subscriptions and queues QoS 1
		// messages at the broker while we are away.
		SetCleanSession(false).
		// The default handler is set before Connect, so messages of the
		// persistent session that arrive before Subscribe returns are
		// handled (and acked) too.
		SetDefaultPublishHandler(c.handle).
		SetOnConnectHandler(c.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			c.connected.Store(false)
			c.metrics.connected.Set(0)
			c.metrics.lost.Inc()
			c.log.Warn("mqtt connection lost; reconnecting", "err", err)
		}).
		// paho retries failed connects silently; an operator with a wrong
		// password or certificate must see why, once in a while.
		SetConnectionNotificationHandler(func(_ paho.Client, n paho.ConnectionNotification) {
			if reason := connection.ConnectFailure(n); reason != nil {
				c.metrics.connFails.Inc()
				c.limited.Log(slog.LevelWarn, "connect-failed", "mqtt connect failed; retrying", "broker", redact.URL(m.URL), "err", reason)
			}
		}).
		SetReconnectingHandler(func(_ paho.Client, _ *paho.ClientOptions) {
			c.log.Debug("mqtt reconnecting", "broker", redact.URL(m.URL))
		})
	Transport(opts, opts.Servers[0].Scheme, m.ConnectTimeout)
	return opts, nil
}

// Transport sets how the collector's paho client receives and acks, for a
// broker URL with the given scheme. The ingest benchmark's paho floor uses
// it too, so that floor is paho exactly as facmon runs it.
func Transport(opts *paho.ClientOptions, scheme string, connectTimeout time.Duration) *paho.ClientOptions {
	opts.
		// We ack only once the reading is durable; paho's automatic ack
		// would tell the broker a message is safe when it is only read.
		SetAutoAckDisabled(true).
		// The handler only decodes and hands over, so running it on paho's
		// goroutine keeps order without a goroutine per message.
		SetOrderMatters(true).
		SetStore(connection.NewQoS1Store())
	if dial := connection.DialBuffered(scheme, connectTimeout); dial != nil {
		opts.SetCustomOpenConnectionFn(dial)
	}
	return opts
}

// Run connects (retrying until it succeeds) and collects until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	c.log.Info("connecting to mqtt broker", "broker", redact.URL(c.broker.URL), "client_id", c.broker.ClientID, "filters", c.broker.SubscriptionFilters(c.decoder.Filters()))
	waited := make(chan struct{})
	go func() {
		defer close(waited)
		c.deliverWaiting()
	}()
	defer func() {
		c.intake.close()
		<-waited
	}()
	tok := c.client.Connect()
	select {
	case <-ctx.Done():
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt connect to %s: %w", redact.URL(c.broker.URL), err)
		}
		<-ctx.Done()
	}
	// Stop taking messages, make what was taken durable and ack it while
	// still connected (acks sent after the disconnect are lost and the
	// broker would deliver those messages again), then leave. Messages
	// that arrive meanwhile stay unacked: the broker keeps them for the
	// next session.
	c.stopping.Store(true)
	fctx, cancel := context.WithTimeout(context.Background(), c.broker.ConnectTimeout)
	if err := c.sink.Flush(fctx); err != nil {
		c.log.Warn("shutdown: could not make the last readings durable; the broker will deliver them again", "err", err)
	}
	cancel()
	c.client.Disconnect(500)
	c.connected.Store(false)
	c.metrics.connected.Set(0)
	return nil
}

// Connected reports whether the broker connection is up.
func (c *Collector) Connected() bool { return c.connected.Load() }

// onConnect subscribes on every (re)connect: the persistent session usually
// kept the subscriptions, but a broker that lost its state would otherwise
// leave us connected and deaf.
func (c *Collector) onConnect(cl paho.Client) {
	if c.broker.SharedGroup != "" {
		// A session that was a lone instance's still holds the plain
		// subscriptions: with them beside the shared ones every reading
		// would come twice, and the copies cannot be told apart.
		if tok := cl.Unsubscribe(c.decoder.Filters()...); !tok.WaitTimeout(c.broker.ConnectTimeout) || tok.Error() != nil {
			c.log.Warn("mqtt: could not drop the plain subscriptions of a lone instance's session", "err", tok.Error())
		}
	}
	filters := map[string]byte{}
	for _, f := range c.broker.SubscriptionFilters(c.decoder.Filters()) {
		filters[f] = 1
	}
	tok := cl.SubscribeMultiple(filters, nil)
	if !tok.WaitTimeout(c.broker.ConnectTimeout) {
		c.metrics.subErrors.Inc()
		c.log.Error("mqtt subscribe timed out; reconnecting", "filters", c.decoder.Filters())
		go cl.Disconnect(0) // reconnect and retry rather than stay deaf
		return
	}
	if err := tok.Error(); err != nil {
		c.metrics.subErrors.Inc()
		c.log.Error("mqtt subscribe failed", "err", err)
		return
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for f, code := range st.Result() {
			if code == 0x80 {
				c.metrics.subErrors.Inc()
				c.log.Error("broker refused subscription (check its ACL)", "filter", f)
			}
		}
	}
	c.connected.Store(true)
	c.metrics.connected.Set(1)
	c.log.Info("mqtt connected and subscribed", "broker", redact.URL(c.broker.URL))
}

// handle runs on paho's goroutine, which also reads the broker's
// packets: while it waits, no PINGRESP is read and paho drops the
// connection after keepalive + its ping timeout. So it never waits on
// the pipeline: a message the sink has no room for is queued, unacked,
// for deliverWaiting, and the messages after it queue behind it to keep
// their order.
func (c *Collector) handle(_ paho.Client, msg paho.Message) {
	if c.stopping.Load() {
		return
	}
	m := waiting{msg: msg, at: c.now()}
	if c.intake.queueIfBusy(m, c.metrics.waiting) {
		return
	}
	if !c.process(m, false) {
		c.intake.push(m, c.metrics.waiting)
	}
}

// process decodes a message received at m.at and hands it to the sink, waiting for room when
// wait is set. It reports false when the sink had no room (and nothing
// was counted); otherwise the message is counted as received, and acked
// at once when rejected.
func (c *Collector) process(m waiting, wait bool) bool {
	msg := m.msg
	r, _ := c.readings.Get().(*reading.Reading)
	if r == nil {
		r = new(reading.Reading)
	}
	defer c.readings.Put(r)
	if rej := c.decoder.DecodeInto(r, msg.Topic(), msg.Payload(), m.at); rej != nil {
		c.metrics.received.Inc()
		c.metrics.rejected.WithLabelValues(string(rej.Reason)).Inc()
		c.limited.Log(slog.LevelWarn, string(rej.Reason), "reading rejected", "reason", string(rej.Reason), "detail", rej.Detail)
		msg.Ack()
		return true
	}
	if !c.decoder.HasInventory(r.Ward) {
		if ok, why := c.devices.admit(r.Ward, r.Class, r.Device, m.at); !ok {
			c.metrics.received.Inc()
			c.metrics.rejected.WithLabelValues(string(ReasonDeviceLimit)).Inc()
			c.limited.Log(slog.LevelWarn, string(ReasonDeviceLimit), "reading rejected", "reason", string(ReasonDeviceLimit),
				"detail", fmt.Sprintf("topic %q: new device %q (%s) refused: %s", safeTopic(msg.Topic()), r.Device, r.Class, why))
			msg.Ack()
			return true
		}
	}
	var err error
	if wait {
		err = c.sink.Deliver(r, msg)
	} else {
		var took bool
		if took, err = c.sink.Offer(r, msg); !took {
			return false
		}
	}
	if c.poisonLent {
		poison(r)
	}
	// Counted once the sink took it, so a message waiting for room is
	// neither received nor pending and the conservation invariant holds
	// however long the pipeline is stalled.
	c.metrics.received.Inc()
	if err != nil {
		c.metrics.rejected.WithLabelValues("unencodable").Inc()
		c.limited.Log(slog.LevelWarn, "unencodable", "reading rejected", "reason", "unencodable", "detail", err.Error())
		msg.Ack()
	}
	return true
}

// deliverWaiting delivers queued messages in order, each waiting for
// room, until the intake is closed. Once the collector is stopping the
// rest stay unacked: the broker delivers them again to the next session.
func (c *Collector) deliverWaiting() {
	for {
		m, ok := c.intake.next()
		if !ok {
			return
		}
		if !c.stopping.Load() {
			c.process(m, true)
		}
		c.intake.done(m, c.metrics.waiting)
	}
}

// DeviceLimit is when a new device id was last refused for the device
// limits (zero if never) and how many devices the limits count now.
func (c *Collector) DeviceLimit() (lastRefused time.Time, tracked int) {
	return c.devices.lastRefused(), int(c.devices.tracked.Load())
}

// RememberDevice counts a device facmon stored before this start (from
// the liveness seed) as known, beyond the limits if need be, so a flood of
// new ids arriving first cannot lock it out.
func (c *Collector) RememberDevice(ward, class, device string) {
	if !c.decoder.HasInventory(ward) {
		c.devices.remember(ward, class, device)
	}
}

// ErrNotConnected is what health checks report while the broker is away.
var ErrNotConnected = errors.New("mqtt broker not connected")

// Health returns nil while connected.
func (c *Collector) Health() error {
	if c.Connected() {
		return nil
	}
	return fmt.Errorf("%w (%s)", ErrNotConnected, strings.TrimSpace(redact.URL(c.broker.URL)))
}
