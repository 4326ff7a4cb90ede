package connection

import (
	"strings"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// InboundPrefix is how paho names the store keys of received packets.
const InboundPrefix = "i."

// QoS1Store is paho's memory store without its copy of every received
// QoS 1 publish. paho puts each one in the store when it arrives and
// deletes it when the PUBACK goes out, but never reads it back: on
// reconnect it discards stored inbound publishes, because the broker
// redelivers what was not acknowledged (only a QoS 2 PUBREL is resumed).
// For a subscriber that acks every message, that bookkeeping is two map
// operations under a lock per message and nothing else.
type QoS1Store struct {
	paho.Store
	// keptInbound is set once an inbound packet other than a publish was
	// stored (a QoS 2 PUBREL); from then on inbound deletes go through.
	keptInbound atomic.Bool
}

// NewQoS1Store is an empty store.
func NewQoS1Store() *QoS1Store { return &QoS1Store{Store: paho.NewMemoryStore()} }

func (s *QoS1Store) Put(key string, m packets.ControlPacket) {
	if strings.HasPrefix(key, InboundPrefix) {
		if _, ok := m.(*packets.PublishPacket); ok {
			return
		}
		s.keptInbound.Store(true)
	}
	s.Store.Put(key, m)
}

func (s *QoS1Store) Del(key string) {
	if strings.HasPrefix(key, InboundPrefix) && !s.keptInbound.Load() {
		return
	}
	s.Store.Del(key)
}
