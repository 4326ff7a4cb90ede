// Package storage writes Readings to InfluxDB: line-protocol encoding,
// batching with acknowledgement after the write is accepted, retries with
// backoff, and database creation.
package storage

import (
	"fmt"
	"math"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/facmon/facmon/internal/reading"
)

// Encoder appends Readings as line protocol (nanosecond precision). It is
// not safe for concurrent use; each batch owner keeps its own.
type Encoder struct {
	enc lineprotocol.Encoder
}

// NewEncoder returns an encoder writing into a fresh buffer.
func NewEncoder() *Encoder {
	e := &Encoder{}
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
	mark := len(e.enc.Bytes())
	if err := e.append(r); err != nil {
		buf := e.enc.Bytes()[:mark]
		e.enc.Reset()
		e.enc.SetBuffer(buf)
		e.enc.ClearErr()
		return err
	}
	return nil
}

func (e *Encoder) append(r *reading.Reading) error {
	e.enc.StartLine(r.Measurement)
	// Line protocol wants tags in lexical key order; collect them on the
	// stack and sort (a handful, so insertion sort). Empty values are left
	// out: facmon's own points have no ward.
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
		e.enc.AddTag(t.Key, t.Value)
	}
	n := 0
	for i := range r.Fields {
		f := &r.Fields[i]
		var v lineprotocol.Value
		switch f.Kind {
		case reading.Float:
			if math.IsNaN(f.Float) || math.IsInf(f.Float, 0) {
				// Line protocol has no NaN or infinity; the field is
				// left out rather than the point refused.
				continue
			}
			v, _ = lineprotocol.FloatValue(f.Float)
		case reading.Int:
			v = lineprotocol.IntValue(f.Int)
		case reading.Bool:
			v = lineprotocol.BoolValue(f.Bool)
		case reading.String:
			var ok bool
			v, ok = lineprotocol.StringValue(f.Str)
			if !ok {
				continue
			}
		default:
			continue
		}
		e.enc.AddField(f.Key, v)
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
func (e *Encoder) Bytes() []byte { return e.enc.Bytes() }

// Len is the encoded size in bytes.
func (e *Encoder) Len() int { return len(e.enc.Bytes()) }

// Reset empties the buffer, keeping its capacity when buf is nil.
func (e *Encoder) Reset(buf []byte) {
	e.enc.Reset()
	e.enc.SetBuffer(buf[:0])
}
