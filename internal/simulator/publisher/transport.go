package publisher

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/facmon/facmon/internal/fleet"
)

const (
	connectTimeout = 10 * time.Second
	publishTimeout = 30 * time.Second
	flushTimeout   = 5 * time.Second
	maxBackoff     = 30 * time.Second
)

var errAborted = errors.New("connection aborted by the simulator")

// link is one MQTT connection. Each link connects once: paho's auto-reconnect is off and
// the unit makes a new link instead, because an injected outage must keep the device
// away from the broker for exactly as long as the fault lasts, which paho's own
// reconnect loop cannot be told.
type link struct {
	client mqtt.Client
	ctx    context.Context

	mu      sync.Mutex
	conn    net.Conn // dialled by us, so that abort can cut it without a DISCONNECT
	aborted bool

	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error

	pending   sync.WaitGroup // publishes whose tokens are not settled yet
	errLogged atomic.Bool
}

type linkOptions struct {
	broker   *url.URL
	clientID string
	username string
	password string
	tls      *tls.Config
	will     string // status topic for the last will; "" for none
}

func newLink(ctx context.Context, o linkOptions) *link {
	l := &link{ctx: ctx, lost: make(chan struct{})}
	opts := mqtt.NewClientOptions().
		AddBroker(o.broker.String()).
		SetClientID(o.clientID).
		// A simulated device has nothing to resume: a clean session keeps the broker from
		// holding state for thousands of throwaway sessions.
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(connectTimeout).
		SetWriteTimeout(connectTimeout).
		SetKeepAlive(30 * time.Second).
		SetPingTimeout(10 * time.Second).
		SetCustomOpenConnectionFn(l.open).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { l.markLost(err) })
	if o.username != "" {
		opts.SetUsername(o.username)
		opts.SetPassword(o.password)
	}
	if o.tls != nil {
		opts.SetTLSConfig(o.tls)
	}
	if o.will != "" {
		opts.SetWill(o.will, fleet.StatusOffline, 1, true)
	}
	l.client = mqtt.NewClient(opts)
	return l
}

// connect connects once; it gives up when ctx ends.
func (l *link) connect() error {
	tok := l.client.Connect()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-l.ctx.Done():
		l.abort()
		return l.ctx.Err()
	case <-time.After(connectTimeout + time.Second):
		l.abort()
		return errors.New("connect timed out")
	}
}

// open is paho's dial function. It keeps the net.Conn so abort can close it.
func (l *link) open(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	conn, err := dialBroker(l.ctx, uri, o)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.aborted {
		conn.Close()
		return nil, errAborted
	}
	l.conn = conn
	return conn, nil
}

func dialBroker(ctx context.Context, uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	switch uri.Scheme {
	case "tcp", "mqtt":
		return d.DialContext(ctx, "tcp", uri.Host)
	case "ssl", "tls", "mqtts", "tcps", "mqtt+ssl":
		td := &tls.Dialer{NetDialer: d, Config: o.TLSConfig}
		return td.DialContext(ctx, "tcp", uri.Host)
	case "ws", "wss":
		u := *uri
		u.User = nil
		var tlsc *tls.Config
		if uri.Scheme == "wss" {
			tlsc = o.TLSConfig
		}
		return mqtt.NewWebsocket(u.String(), tlsc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	}
	return nil, fmt.Errorf("unsupported scheme %q", uri.Scheme)
}

// abort cuts the TCP connection without an MQTT DISCONNECT, as a failing network would;
// the broker then publishes the client's last will.
func (l *link) abort() {
	l.mu.Lock()
	l.aborted = true
	conn := l.conn
	l.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

func (l *link) markLost(err error) {
	l.lostOnce.Do(func() {
		l.lostErr = err
		close(l.lost)
	})
}

// disconnect ends the session properly, so the broker discards the last will.
func (l *link) disconnect() {
	l.flush(flushTimeout)
	l.client.Disconnect(250)
}

// flush waits until every publish so far is acknowledged or failed, at most d.
func (l *link) flush(d time.Duration) {
	done := make(chan struct{})
	go func() {
		l.pending.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// publish sends without waiting: the token is settled on its own goroutine so that a
// slow acknowledgement does not hold back the other devices of a gateway or the ticks.
func (l *link) publish(topic string, qos byte, retained bool, payload []byte, settled func(error)) {
	tok := l.client.Publish(topic, qos, retained, payload)
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		select {
		case <-tok.Done():
			settled(tok.Error())
		case <-time.After(publishTimeout):
			settled(errors.New("no acknowledgement within " + publishTimeout.String()))
		}
	}()
}
