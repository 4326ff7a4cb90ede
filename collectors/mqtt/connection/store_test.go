package connection

import (
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/stretchr/testify/assert"
)

func TestQoS1StoreKeepsWhatPahoResumes(t *testing.T) {
	s := NewQoS1Store()
	s.Open()
	defer s.Close()

	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.Qos, pub.MessageID = 1, 7
	s.Put("i.7", pub)
	assert.Nil(t, s.Get("i.7"), "a received QoS 1 publish is not kept: paho discards it on resume")
	s.Del("i.7") // the PUBACK going out

	sub := packets.NewControlPacket(packets.Subscribe).(*packets.SubscribePacket)
	sub.Qos, sub.MessageID = 1, 8
	s.Put("o.8", sub)
	assert.NotNil(t, s.Get("o.8"), "outbound packets are resumed after a reconnect and must be kept")
	s.Del("o.8")
	assert.Nil(t, s.Get("o.8"))

	rel := packets.NewControlPacket(packets.Pubrel).(*packets.PubrelPacket)
	rel.Qos, rel.MessageID = 1, 9
	s.Put("i.9", rel)
	assert.NotNil(t, s.Get("i.9"), "a QoS 2 PUBREL is resumed and must be kept")
	s.Del("i.9")
	assert.Nil(t, s.Get("i.9"), "once inbound packets are kept, deleting them works")
}
