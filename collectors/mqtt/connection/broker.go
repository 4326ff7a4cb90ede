package connection

import (
	"fmt"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/facmon/facmon/internal/clientauth"
)

// Broker is the MQTT session: where, as whom, and how patiently.
type Broker struct {
	URL          string
	ClientID     string
	Username     string
	PasswordFile string
	TLS          clientauth.TLS
	KeepAlive    time.Duration
	// ConnectTimeout bounds one connection attempt and the subscription.
	ConnectTimeout time.Duration
	// MaxReconnectInterval caps paho's exponential reconnect backoff.
	MaxReconnectInterval time.Duration
	// SharedGroup, when set, makes the collector's subscriptions
	// $share/<group>/<filter>: the broker gives each reading to one
	// instance of the group, which stores it.
	SharedGroup string
	// NoReconnect makes a lost connection stay lost: for a session taken
	// over on behalf of a dead instance, which must yield to that instance
	// when it returns rather than take the session back from it.
	NoReconnect bool
}

// SubscriptionFilters are the filters the storage connection subscribes
// to: the decoder's, shared over the group when there is one.
func (b Broker) SubscriptionFilters(filters []string) []string {
	if b.SharedGroup == "" {
		return filters
	}
	out := make([]string, len(filters))
	for i, f := range filters {
		out[i] = "$share/" + b.SharedGroup + "/" + f
	}
	return out
}

// ConnectFailure is the reason of a failed connection attempt, or nil for
// a notification that is not one.
func ConnectFailure(n paho.ConnectionNotification) error {
	switch n := n.(type) {
	case paho.ConnectionNotificationBrokerFailed:
		return n.Reason
	case paho.ConnectionNotificationFailed:
		return n.Reason
	}
	return nil
}

// BaseOptions are the paho options every connection facmon makes to its
// broker shares: the address, the client id, the credentials, TLS and how
// patiently it connects and reconnects. Each connection adds its session,
// handlers and transport.
func BaseOptions(m Broker) (*paho.ClientOptions, error) {
	brokerURL := m.URL
	if u, err := url.Parse(brokerURL); err == nil && u.Scheme == "mqtts" {
		u.Scheme = "ssl"
		brokerURL = u.String()
	} else if err == nil && u.Scheme == "mqtt" {
		u.Scheme = "tcp"
		brokerURL = u.String()
	}
	opts := paho.NewClientOptions().
		AddBroker(brokerURL).
		SetClientID(m.ClientID).
		SetKeepAlive(m.KeepAlive).
		SetConnectTimeout(m.ConnectTimeout).
		SetAutoReconnect(!m.NoReconnect).
		SetConnectRetry(!m.NoReconnect).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(m.MaxReconnectInterval)
	if m.Username != "" {
		opts.SetUsername(m.Username)
		if m.PasswordFile != "" {
			pw, err := clientauth.ReadSecret(m.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("mqtt.password_file: %w", err)
			}
			opts.SetPassword(pw)
		}
	}
	if m.TLS.Enabled() {
		tc, err := m.TLS.Build("mqtt.tls")
		if err != nil {
			return nil, err
		}
		opts.SetTLSConfig(tc)
	}
	return opts, nil
}
