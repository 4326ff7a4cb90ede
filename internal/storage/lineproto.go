// Package storage writes Readings to InfluxDB: line-protocol encoding,
// batching with acknowledgement after the write is accepted, retries with
// backoff, and database creation.
package storage

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/facmon/facmon/internal/reading"
)

// Encoder appends Readings as line protocol (nanosecond precision). It is
// not safe for concurrent use; each batch owner keeps its own.
//
// A device's series key (measurement and tags, escaped) is the same on
// every reading, so the encoder has the line-protocol library render it
// once and keeps it; each reading then adds only its fields, formatted by
// the library, and its timestamp. Anything out of the ordinary (extra
// tags, a field name that needs escaping, a timestamp outside line
// protocol's range) goes through the library from start to end.
type Encoder struct {
	buf    []byte
	enc    lineprotocol.Encoder // renders series keys and the unusual readings
	series map[seriesID][]byte
}

type seriesID struct{ measurement, ward, class, device string }

// maxSeries bounds the series-key cache; past it the cache starts over,
// which costs a few renders, not correctness.
const maxSeries = 1 << 16

// NewEncoder returns an encoder writing into a fresh buffer.
func NewEncoder() *Encoder {
	e := &Encoder{series: map[seriesID][]byte{}}
	e.enc.SetPrecision(lineprotocol.Nanosecond)
	// Lax skips re-validating names on every point: measurement, tag and
	// field names come from the configuration (validated at start-up) and
	// ids from the decoder (reading.ValidID), and tags are sorted here.
	// Values are still escaped.
	e.enc.SetLax(true)
	return e
}

// Append encodes r onto the encoder's buffer. On error nothing of r is
// left in the buffer, so one bad reading cannot corrupt a batch.
func (e *Encoder) Append(r *reading.Reading) error {
	mark := len(e.buf)
	if ok, err := e.appendCached(r); ok || err != nil {
		if err != nil {
			e.buf = e.buf[:mark]
		}
		return err
	}
	e.enc.Reset()
	e.enc.SetBuffer(e.buf)
	err := e.appendLine(r)
	e.buf = e.enc.Bytes()
	if err != nil {
		e.buf = e.buf[:mark]
		e.enc.ClearErr()
	}
	return err
}

var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// appendCached encodes r with its cached series key; false (and nothing
// written) when r needs the library's full path.
func (e *Encoder) appendCached(r *reading.Reading) (bool, error) {
	if len(r.Extra) > 0 || r.Time.IsZero() || r.Time.Before(minTime) || r.Time.After(maxTime) {
		return false, nil
	}
	for i := range r.Fields {
		if !plainFieldKey(r.Fields[i].Key) {
			return false, nil
		}
	}
	key, err := e.seriesKey(r)
	if err != nil {
		return true, err
	}
	e.buf = append(e.buf, key...)
	n := 0
	for i := range r.Fields {
		// fieldValue's switch is written out here: a Value that does not
		// leave this function keeps a string's bytes off the heap.
		f := &r.Fields[i]
		var v lineprotocol.Value
		var ok bool
		switch f.Kind {
		case reading.Float:
			v, ok = lineprotocol.FloatValue(f.Float)
		case reading.Int:
			v, ok = lineprotocol.IntValue(f.Int), true
		case reading.Bool:
			v, ok = lineprotocol.BoolValue(f.Bool), true
		case reading.String:
			v, ok = lineprotocol.StringValue(f.Str)
		}
		if !ok {
			continue
		}
		if n == 0 {
			e.buf = append(e.buf, ' ')
		} else {
			e.buf = append(e.buf, ',')
		}
		e.buf = append(e.buf, r.Fields[i].Key...)
		e.buf = append(e.buf, '=')
		e.buf = v.AppendBytes(e.buf)
		n++
	}
	if n == 0 {
		return true, fmt.Errorf("%s %s/%s/%s: no writable field", r.Measurement, r.Ward, r.Class, r.Device)
	}
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, r.Time.UnixNano(), 10)
	e.buf = append(e.buf, '\n')
	return true, nil
}

// plainFieldKey reports whether line protocol would write key as it is
// (field keys escape comma, equals sign and space).
func plainFieldKey(key string) bool {
	for i := 0; i < len(key); i++ {
		switch key[i] {
		case ',', '=', ' ':
			return false
		}
	}
	return key != ""
}

// seriesKey returns r's measurement and tags as the library renders them.
func (e *Encoder) seriesKey(r *reading.Reading) ([]byte, error) {
	id := seriesID{r.Measurement, r.Ward, r.Class, r.Device}
	if key, ok := e.series[id]; ok {
		return key, nil
	}
	var enc lineprotocol.Encoder
	enc.SetLax(true)
	enc.StartLine(r.Measurement)
	appendTags(&enc, r)
	if err := enc.Err(); err != nil {
		return nil, fmt.Errorf("%s %s/%s/%s: %w", r.Measurement, r.Ward, r.Class, r.Device, err)
	}
	// Bytes holds the line so far: the series key, nothing else yet.
	key := append([]byte(nil), enc.Bytes()...)
	if len(e.series) >= maxSeries {
		clear(e.series)
	}
	e.series[id] = key
	return key, nil
}

// appendTags adds r's tags in lexical key order, as line protocol wants.
// Empty values are left out: facmon's own points have no ward.
func appendTags(enc *lineprotocol.Encoder, r *reading.Reading) {
	// Collect them on the stack and sort (a handful, so insertion sort).
	var buf [12]reading.Tag
	tags := buf[:0]
	tags = append(tags, reading.Tag{Key: "class", Value: r.Class}, reading.Tag{Key: "device", Value: r.Device}, reading.Tag{Key: "ward", Value: r.Ward})
	for _, t := range r.Extra {
		if t.Key == "class" || t.Key == "device" || t.Key == "ward" {
			continue
		}
		tags = append(tags, t)
	}
	for i := 1; i < len(tags); i++ {
		for j := i; j > 0 && tags[j].Key < tags[j-1].Key; j-- {
			tags[j], tags[j-1] = tags[j-1], tags[j]
		}
	}
	for i, t := range tags {
		if t.Value == "" || (i > 0 && t.Key == tags[i-1].Key) {
			continue
		}
		enc.AddTag(t.Key, t.Value)
	}
}

// fieldValue converts a field for line protocol; false for a value it
// cannot carry (NaN, infinity, a string that is not UTF-8), which is left
// out rather than the point refused.
func fieldValue(f *reading.Field) (lineprotocol.Value, bool) {
	switch f.Kind {
	case reading.Float:
		return lineprotocol.FloatValue(f.Float)
	case reading.Int:
		return lineprotocol.IntValue(f.Int), true
	case reading.Bool:
		return lineprotocol.BoolValue(f.Bool), true
	case reading.String:
		return lineprotocol.StringValue(f.Str)
	}
	return lineprotocol.Value{}, false
}

// appendLine encodes r through the library alone.
func (e *Encoder) appendLine(r *reading.Reading) error {
	e.enc.StartLine(r.Measurement)
	appendTags(&e.enc, r)
	n := 0
	for i := range r.Fields {
		v, ok := fieldValue(&r.Fields[i])
		if !ok {
			continue
		}
		e.enc.AddField(r.Fields[i].Key, v)
		n++
	}
	if n == 0 {
		return fmt.Errorf("%s %s/%s/%s: no writable field", r.Measurement, r.Ward, r.Class, r.Device)
	}
	e.enc.EndLine(r.Time)
	if err := e.enc.Err(); err != nil {
		return fmt.Errorf("%s %s/%s/%s: %w", r.Measurement, r.Ward, r.Class, r.Device, err)
	}
	return nil
}

// Bytes returns the encoded lines so far.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is the encoded size in bytes.
func (e *Encoder) Len() int { return len(e.buf) }

// Reset empties the encoder, which goes on in buf's storage (nil: a new
// buffer). The lines encoded so far are left alone for their owner.
func (e *Encoder) Reset(buf []byte) { e.buf = buf[:0] }

// SetBuffer replaces the encoded lines with buf (a batch put back after a
// failed commit).
func (e *Encoder) SetBuffer(buf []byte) { e.buf = buf }
