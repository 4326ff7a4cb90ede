// Package demo holds what `facmon run --demo` adds to the service: an
// embedded MQTT broker, so the demo needs nothing installed but InfluxDB.
package demo

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is the embedded broker of the demo.
type Broker struct {
	srv  *mochi.Server
	addr string
}

// StartBroker listens on the host:port of mqttURL (tcp://127.0.0.1:1883 by
// default). It accepts anonymous clients: it is for a demo on loopback, not
// for production, where deploy/ ships Mosquitto with TLS and ACLs.
func StartBroker(mqttURL string, log *slog.Logger) (*Broker, error) {
	u, err := url.Parse(mqttURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("demo broker: bad address %q", mqttURL)
	}
	opts := &mochi.Options{Logger: log, InlineClient: false}
	// The collector holds acks until readings are durable; a generous
	// inflight window keeps that from throttling the demo.
	caps := mochi.NewDefaultServerCapabilities()
	caps.ReceiveMaximum = 4096
	caps.MaximumInflight = 65535
	opts.Capabilities = caps
	srv := mochi.New(opts)
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	// Bind first so a taken port is reported now, not from a goroutine.
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("demo broker: listen on %s: %w (is another broker running? pass --mqtt-url tcp://127.0.0.1:PORT)", u.Host, err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := srv.AddListener(listeners.NewTCP(listeners.Config{ID: "demo", Address: addr})); err != nil {
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	return &Broker{srv: srv, addr: addr}, nil
}

// URL is where clients connect.
func (b *Broker) URL() string { return "tcp://" + b.addr }

// Close stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }
