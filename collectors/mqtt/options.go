package mqtt

import (
	"time"

	"github.com/facmon/facmon/collectors/mqtt/connection"
)

// Options is what the collector is built from: the broker session, how
// messages decode, and how many devices it admits. internal/config maps
// the YAML onto it; the collector knows nothing of the rest of the file.
type Options struct {
	Broker  Broker
	Decoder DecoderOptions
	// MaxDevicesPerOffice and MaxDevices bound the distinct device ids
	// taken from offices without an inventory (0: no bound).
	MaxDevicesPerOffice int
	MaxDevices          int
}

// Broker is the MQTT session: where, as whom, and how patiently (see
// connection.Broker).
type Broker = connection.Broker

// DecoderOptions says how a message becomes a reading.
type DecoderOptions struct {
	// Routes are tried in order; the first whose pattern matches decides.
	Routes []Route
	// Profiles types each class's fields: class -> field -> kind name
	// ("float", "int", "bool", "string").
	Profiles map[string]map[string]string
	// Offices lists the known wards, each with its device inventory; an
	// empty inventory accepts any device id. A ward not listed is refused.
	Offices map[string][]string
	// MaxPayloadBytes refuses larger payloads before they are parsed.
	MaxPayloadBytes int
	// MaxPast and MaxFuture bound a device-supplied timestamp around the
	// time of receipt.
	MaxPast, MaxFuture time.Duration
}

// Route maps one topic shape to tags and a payload kind.
type Route struct {
	// Pattern is a topic with named segments ({ward}, {class}, {device},
	// {site}, {room}).
	Pattern string
	// Status marks a device status topic (online/offline) rather than a
	// telemetry object.
	Status bool
	// StatusPath is the payload path of the status word ("" for a bare
	// word); Online and Offline are the words that read as each.
	StatusPath      string
	Online, Offline []string
	// Tags gives fixed values for captures the topic does not carry,
	// keyed by capture name ("ward", "class", ...).
	Tags map[string]string
	// Fields maps payload paths to profile field names; when set, only
	// mapped paths are read.
	Fields map[string]string
}
