// Package reading defines the unit that flows from collectors to sinks.
//
// A collector turns bytes into Readings and knows nothing of where they go;
// sinks (storage, alerts, liveness) consume Readings and know nothing of MQTT
// or HTTP. The type is deliberately flat so the hot path allocates little.
package reading

import (
	"fmt"
	"math"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

// Payload keys that are not profile fields: a device may send its own
// time of measurement and a sequence number, which the seq field keeps.
const (
	KeyTimestamp = "ts"
	KeySeq       = "seq"
)

// Kind is the type of a field. A field keeps one kind forever, because
// InfluxDB refuses a second type for a field within a shard.
type Kind uint8

const (
	Float Kind = iota + 1
	Int
	Bool
	String
)

func (k Kind) String() string {
	switch k {
	case Float:
		return "float"
	case Int:
		return "int"
	case Bool:
		return "bool"
	case String:
		return "string"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind maps the names used in configuration to kinds.
func ParseKind(s string) (Kind, error) {
	switch s {
	case "float":
		return Float, nil
	case "int", "integer":
		return Int, nil
	case "bool", "boolean":
		return Bool, nil
	case "string":
		return String, nil
	}
	return 0, fmt.Errorf("unknown field type %q (want float, int, bool or string)", s)
}

// Field is one typed value. Only the member selected by Kind is meaningful;
// a struct rather than an interface keeps fields off the heap. The small
// members come last so they share one word: 56 bytes instead of 64, on
// every field of every reading.
type Field struct {
	Key   string
	Str   string
	Float float64
	Int   int64
	Kind  Kind
	Bool  bool
}

// Tag is an extra low-cardinality label such as site or room.
type Tag struct {
	Key, Value string
}

// Measurements that are not device classes.
const (
	MeasurementDeviceStatus = "device_status"
)

// Reading is one observation of one device (or one status change).
type Reading struct {
	Measurement string
	Ward        string
	Class       string
	Device      string
	// Extra holds further tags (site, room) sorted by key.
	Extra  []Tag
	Fields []Field
	// Time is the point's timestamp: the device's own ts when it sent a
	// sane one, otherwise the receive time. It is fixed once, at ingestion,
	// so a replay writes the same point again instead of a new one.
	Time time.Time
	// Received is when facmon got the message; liveness is judged on it,
	// never on a device clock.
	Received time.Time
}

// Reset empties r for reuse, keeping the memory of its Fields and Extra.
func (r *Reading) Reset() {
	*r = Reading{Fields: r.Fields[:0], Extra: r.Extra[:0]}
}

// Clone returns a copy of r that shares no memory with it, for a sink that
// keeps a reading past the Deliver that handed it over.
func (r *Reading) Clone() *Reading {
	c := *r
	c.Fields = slices.Clone(r.Fields)
	c.Extra = slices.Clone(r.Extra)
	return &c
}

// Field returns the named field, if present.
func (r *Reading) Field(key string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// FloatField returns a numeric field as float64 whatever its numeric kind.
func (r *Reading) FloatField(key string) (float64, bool) {
	f, ok := r.Field(key)
	if !ok {
		return 0, false
	}
	switch f.Kind {
	case Float:
		return f.Float, true
	case Int:
		return float64(f.Int), true
	case Bool:
		if f.Bool {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// Finite reports whether every float field can be written to InfluxDB,
// whose line protocol has no NaN or infinity.
func (r *Reading) Finite() bool {
	for _, f := range r.Fields {
		if f.Kind == Float && (math.IsNaN(f.Float) || math.IsInf(f.Float, 0)) {
			return false
		}
	}
	return true
}

// MaxLabelBytes bounds a tag key or value taken from a scrape.
const MaxLabelBytes = 128

// SafeLabel reports whether s may be a tag key or value taken from a
// scrape: valid UTF-8 of printable characters (so no newline, which would
// split a line-protocol point, nor any other control character), at most
// MaxLabelBytes bytes, and not ending in a backslash, which line protocol
// cannot round-trip. Unlike ValidID it allows spaces, punctuation
// and Vietnamese text, as label values often hold them.
func SafeLabel(s string) bool {
	if s == "" || len(s) > MaxLabelBytes || !utf8.ValidString(s) || s[len(s)-1] == '\\' {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// ValidID reports whether s may be a ward, class or device id. Ids become
// InfluxDB tag values and MQTT topic levels, so they are kept to a safe
// printable set: a newline would split a line-protocol point, a "+" or "#"
// would be a wildcard, and unbounded length would bloat every series key.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Acker is told once a reading is durable (or dropped for good). paho's
// Message satisfies it, so the MQTT collector passes messages through
// without wrapping them.
type Acker interface{ Ack() }
