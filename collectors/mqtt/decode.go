package mqtt

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/facmon/facmon/collectors/mqtt/topic"
	"github.com/facmon/facmon/internal/reading"
)

// Reason says why a message was dropped. Each is a label value of
// facmon_readings_rejected_total, so the set is closed and documented in
// the README.
type Reason string

const (
	ReasonPayloadTooLarge  Reason = "payload_too_large"
	ReasonEmptyPayload     Reason = "empty_payload"
	ReasonMalformedJSON    Reason = "malformed_json"
	ReasonNotAnObject      Reason = "not_an_object"
	ReasonWrongType        Reason = "wrong_type"
	ReasonNonFinite        Reason = "non_finite"
	ReasonNoFields         Reason = "no_fields"
	ReasonTopicUnmatched   Reason = "topic_unmatched"
	ReasonBadID            Reason = "bad_id"
	ReasonUnknownWard      Reason = "unknown_ward"
	ReasonUnknownClass     Reason = "unknown_class"
	ReasonUnknownDevice    Reason = "unknown_device"
	ReasonBadTimestamp     Reason = "bad_timestamp"
	ReasonTimestampOutside Reason = "timestamp_out_of_range"
	ReasonBadSeq           Reason = "bad_seq"
	ReasonBadStatus        Reason = "bad_status"
	// ReasonDeviceLimit is a new device id beyond ingest.max_devices_per_office
	// or ingest.max_devices; the collector, not the Decoder, applies it.
	ReasonDeviceLimit Reason = "device_limit"
)

// AllReasons lists every reason so the counter shows zeros from the start
// and a dashboard can tell "none" from "not reported".
var AllReasons = []Reason{
	ReasonPayloadTooLarge, ReasonEmptyPayload, ReasonMalformedJSON, ReasonNotAnObject,
	ReasonWrongType, ReasonNonFinite, ReasonNoFields, ReasonTopicUnmatched, ReasonBadID,
	ReasonUnknownWard, ReasonUnknownClass, ReasonUnknownDevice, ReasonBadTimestamp,
	ReasonTimestampOutside, ReasonBadSeq, ReasonBadStatus, ReasonDeviceLimit,
}

// Rejection is a dropped message: the reason for the counter and a detail
// for the log. The detail names the topic and field, never payload values
// beyond a short type description, so secrets a device leaks stay out of logs.
type Rejection struct {
	Reason Reason
	Detail string
}

func (r *Rejection) Error() string { return string(r.Reason) + ": " + r.Detail }

func reject(reason Reason, format string, args ...any) *Rejection {
	return &Rejection{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

type route struct {
	pattern *topic.Pattern
	status  bool
	tags    topic.Captures // fixed values for what the pattern does not capture
	// fieldMap, when non-empty, lists payload paths to read.
	fieldMap []mappedField
	// statusPath, on a status route, is where the value sits in a JSON
	// object payload; empty, the whole payload is the value.
	statusPath string
	online     []string
	offline    []string
}

type mappedField struct {
	path string
	dst  string
}

type profile struct {
	fields map[string]reading.Kind
}

// Decoder turns (topic, payload) into a Reading. It is immutable after
// construction and safe for concurrent use.
type Decoder struct {
	routes     []route
	profiles   map[string]profile
	offices    map[string]map[string]bool // ward -> inventory (nil: any device)
	maxPayload int
	maxPast    time.Duration
	maxFuture  time.Duration
}

// NewDecoder compiles the routes and profiles of validated options.
func NewDecoder(o DecoderOptions) (*Decoder, error) {
	d := &Decoder{
		profiles:   map[string]profile{},
		offices:    map[string]map[string]bool{},
		maxPayload: o.MaxPayloadBytes,
		maxPast:    o.MaxPast,
		maxFuture:  o.MaxFuture,
	}
	for i, t := range o.Routes {
		p, err := topic.Compile(t.Pattern)
		if err != nil {
			return nil, fmt.Errorf("mqtt.topics[%d].pattern: %w", i, err)
		}
		r := route{pattern: p, status: t.Status}
		if r.status {
			r.statusPath = t.StatusPath
			r.online = trimmed(t.Online)
			r.offline = trimmed(t.Offline)
		}
		r.tags = topic.Captures{
			Ward: t.Tags[topic.Ward], Class: t.Tags[topic.Class], Device: t.Tags[topic.Device],
			Site: t.Tags[topic.Site], Room: t.Tags[topic.Room],
		}
		for src, dst := range t.Fields {
			r.fieldMap = append(r.fieldMap, mappedField{path: src, dst: dst})
		}
		sort.Slice(r.fieldMap, func(a, b int) bool { return r.fieldMap[a].path < r.fieldMap[b].path })
		d.routes = append(d.routes, r)
	}
	for class, fields := range o.Profiles {
		pr := profile{fields: map[string]reading.Kind{}}
		for name, typ := range fields {
			k, err := reading.ParseKind(typ)
			if err != nil {
				return nil, fmt.Errorf("profiles.%s.fields.%s: %w", class, name, err)
			}
			pr.fields[name] = k
		}
		d.profiles[class] = pr
	}
	for ward, devices := range o.Offices {
		var inv map[string]bool
		if len(devices) > 0 {
			inv = make(map[string]bool, len(devices))
			for _, dev := range devices {
				inv[dev] = true
			}
		}
		d.offices[ward] = inv
	}
	return d, nil
}

// HasInventory reports whether the office lists its devices, so that
// only those ids are accepted from it.
func (d *Decoder) HasInventory(ward string) bool { return d.offices[ward] != nil }

// Filters returns the MQTT subscription filters covering every route.
func (d *Decoder) Filters() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range d.routes {
		f := r.pattern.Filter()
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// Decode parses one message received at recv into a new Reading. The
// first route whose pattern matches decides how.
func (d *Decoder) Decode(topicName string, payload []byte, recv time.Time) (*reading.Reading, *Rejection) {
	r := new(reading.Reading)
	if rej := d.DecodeInto(r, topicName, payload, recv); rej != nil {
		return nil, rej
	}
	return r, nil
}

// DecodeInto is Decode into a Reading the caller owns and reuses: what r
// held is overwritten, and its Fields and Extra keep their memory. The
// collector decodes every message into a recycled Reading, which takes
// its largest allocation off the ingest path. After a rejection r holds
// nothing of use.
func (d *Decoder) DecodeInto(r *reading.Reading, topicName string, payload []byte, recv time.Time) *Rejection {
	r.Reset()
	if len(payload) > d.maxPayload {
		return reject(ReasonPayloadTooLarge, "topic %q: payload of %d bytes exceeds the %d-byte cap", safeTopic(topicName), len(payload), d.maxPayload)
	}
	var caps topic.Captures
	var rt *route
	for i := range d.routes {
		if d.routes[i].pattern.Match(topicName, &caps) {
			rt = &d.routes[i]
			break
		}
	}
	if rt == nil {
		return reject(ReasonTopicUnmatched, "topic %q matches no configured pattern", safeTopic(topicName))
	}
	fillFixed(&caps, &rt.tags)
	if rej := d.checkIDs(topicName, &caps); rej != nil {
		return rej
	}
	r.Ward, r.Class, r.Device, r.Received, r.Time = caps.Ward, caps.Class, caps.Device, recv, recv
	if caps.Room != "" {
		r.Extra = append(r.Extra, reading.Tag{Key: topic.Room, Value: caps.Room})
	}
	if caps.Site != "" {
		r.Extra = append(r.Extra, reading.Tag{Key: topic.Site, Value: caps.Site})
	}
	if rt.status {
		return d.decodeStatus(topicName, payload, rt, r)
	}
	prof, ok := d.profiles[caps.Class]
	if !ok {
		return reject(ReasonUnknownClass, "topic %q: no profile for class %q", safeTopic(topicName), caps.Class)
	}
	r.Measurement = caps.Class
	if len(payload) == 0 {
		return reject(ReasonEmptyPayload, "topic %q: empty telemetry payload", safeTopic(topicName))
	}
	if !gjson.ValidBytes(payload) {
		if looksNonFinite(payload) {
			return reject(ReasonNonFinite, "topic %q: payload contains NaN or Infinity, which JSON does not allow", safeTopic(topicName))
		}
		return reject(ReasonMalformedJSON, "topic %q: payload is not valid JSON", safeTopic(topicName))
	}
	doc := gjson.ParseBytes(payload)
	if !doc.IsObject() {
		return reject(ReasonNotAnObject, "topic %q: telemetry must be a JSON object, got %s", safeTopic(topicName), describe(doc))
	}
	r.Fields = slices.Grow(r.Fields, len(prof.fields)+1)
	var rej *Rejection
	take := func(key string, v gjson.Result) {
		switch key {
		case reading.KeyTimestamp:
			rej = d.setTime(topicName, r, v)
		case reading.KeySeq:
			rej = setSeq(topicName, r, v)
		default:
			kind, known := prof.fields[key]
			if !known {
				// Unknown keys are skipped, not stored: a field's type is
				// fixed by its profile, and an untyped one could poison
				// the measurement with a type conflict later.
				return
			}
			var f reading.Field
			f, rej = convert(topicName, key, kind, v)
			if rej == nil {
				r.Fields = setField(r.Fields, f)
			}
		}
	}
	if len(rt.fieldMap) > 0 {
		for _, m := range rt.fieldMap {
			v := doc.Get(m.path)
			if !v.Exists() {
				continue
			}
			take(m.dst, v)
			if rej != nil {
				return rej
			}
		}
	} else {
		doc.ForEach(func(k, v gjson.Result) bool {
			take(k.Str, v)
			return rej == nil
		})
		if rej != nil {
			return rej
		}
	}
	if len(r.Fields) == 0 || (len(r.Fields) == 1 && r.Fields[0].Key == reading.KeySeq) {
		return reject(ReasonNoFields, "topic %q: no field of the %s profile in the payload", safeTopic(topicName), caps.Class)
	}
	return nil
}

func fillFixed(c, fixed *topic.Captures) {
	if c.Ward == "" {
		c.Ward = fixed.Ward
	}
	if c.Class == "" {
		c.Class = fixed.Class
	}
	if c.Device == "" {
		c.Device = fixed.Device
	}
	if c.Site == "" {
		c.Site = fixed.Site
	}
	if c.Room == "" {
		c.Room = fixed.Room
	}
}

func (d *Decoder) checkIDs(topicName string, c *topic.Captures) *Rejection {
	for _, id := range [...]struct{ name, v string }{
		{"ward", c.Ward}, {"class", c.Class}, {"device", c.Device},
	} {
		if !reading.ValidID(id.v) {
			return reject(ReasonBadID, "topic %q: %s id is empty, too long or has characters outside letters, digits and - _ . :", safeTopic(topicName), id.name)
		}
	}
	for _, id := range [...]struct{ name, v string }{{"site", c.Site}, {"room", c.Room}} {
		if id.v != "" && !reading.ValidID(id.v) {
			return reject(ReasonBadID, "topic %q: %s id has characters outside letters, digits and - _ . :", safeTopic(topicName), id.name)
		}
	}
	inv, known := d.offices[c.Ward]
	if !known {
		return reject(ReasonUnknownWard, "topic %q: ward %q is not a configured office", safeTopic(topicName), c.Ward)
	}
	if inv != nil && !inv[c.Device] {
		return reject(ReasonUnknownDevice, "topic %q: device %q is not in the inventory of ward %q", safeTopic(topicName), c.Device, c.Ward)
	}
	return nil
}

func (d *Decoder) decodeStatus(topicName string, payload []byte, rt *route, r *reading.Reading) *Rejection {
	if _, ok := d.profiles[r.Class]; !ok {
		return reject(ReasonUnknownClass, "topic %q: no profile for class %q", safeTopic(topicName), r.Class)
	}
	value := string(payload)
	if strings.TrimSpace(value) == "" {
		return reject(ReasonEmptyPayload, "topic %q: empty status (a cleared retained message)", safeTopic(topicName))
	}
	what := "status"
	if rt.statusPath != "" {
		if !gjson.Valid(value) {
			return reject(ReasonMalformedJSON, "topic %q: status payload is not valid JSON (its value is read from %s)", safeTopic(topicName), rt.statusPath)
		}
		doc := gjson.Parse(value)
		if !doc.IsObject() {
			return reject(ReasonNotAnObject, "topic %q: status payload must be a JSON object with %s, got %s", safeTopic(topicName), rt.statusPath, describe(doc))
		}
		v := doc.Get(rt.statusPath)
		switch v.Type {
		case gjson.String:
			value = v.Str
		case gjson.True, gjson.False, gjson.Number:
			value = v.Raw
		default:
			if !v.Exists() {
				return reject(ReasonBadStatus, "topic %q: status payload has no %s", safeTopic(topicName), rt.statusPath)
			}
			return reject(ReasonBadStatus, "topic %q: status field %s: want a string, number or boolean, got %s", safeTopic(topicName), rt.statusPath, describe(v))
		}
		what = "status field " + rt.statusPath
	}
	value = strings.TrimSpace(value)
	var up int64
	switch {
	case matchesAny(value, rt.online):
		up = 1
	case matchesAny(value, rt.offline):
		up = 0
	default:
		return reject(ReasonBadStatus, "topic %q: %s is neither an online value (%s) nor an offline one (%s)", safeTopic(topicName), what, strings.Join(rt.online, ", "), strings.Join(rt.offline, ", "))
	}
	r.Measurement = reading.MeasurementDeviceStatus
	r.Fields = append(r.Fields, reading.Field{Key: "up", Kind: reading.Int, Int: up})
	return nil
}

// safeTopic keeps a hostile topic from forging log lines or flooding them.
func safeTopic(t string) string {
	const max = 200
	if len(t) > max {
		t = t[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, t)
}
