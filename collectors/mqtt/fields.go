package mqtt

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/facmon/facmon/internal/reading"
)

func matchesAny(v string, words []string) bool {
	for _, w := range words {
		if strings.EqualFold(v, w) {
			return true
		}
	}
	return false
}

func trimmed(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = strings.TrimSpace(w)
	}
	return out
}

// setTime honours a device timestamp (epoch milliseconds or RFC 3339) when
// it lies within [recv-maxPast, recv+maxFuture]; a device clock far off is
// a fault to report, not data to store at a wrong time.
func (d *Decoder) setTime(topicName string, r *reading.Reading, v gjson.Result) *Rejection {
	var t time.Time
	switch v.Type {
	case gjson.Number:
		ms, err := strconv.ParseInt(v.Raw, 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(v.Raw, 64)
			if ferr != nil || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1e15 {
				return reject(ReasonBadTimestamp, "topic %q: field ts: want epoch milliseconds or RFC 3339", safeTopic(topicName))
			}
			ms = int64(f)
		}
		t = time.UnixMilli(ms)
	case gjson.String:
		var err error
		t, err = time.Parse(time.RFC3339Nano, v.Str)
		if err != nil {
			return reject(ReasonBadTimestamp, "topic %q: field ts: want epoch milliseconds or RFC 3339", safeTopic(topicName))
		}
	default:
		return reject(ReasonBadTimestamp, "topic %q: field ts: want epoch milliseconds or RFC 3339, got %s", safeTopic(topicName), describe(v))
	}
	if t.Before(r.Received.Add(-d.maxPast)) || t.After(r.Received.Add(d.maxFuture)) {
		return reject(ReasonTimestampOutside, "topic %q: field ts %s is outside [receive time -%s, +%s]", safeTopic(topicName), t.UTC().Format(time.RFC3339), d.maxPast, d.maxFuture)
	}
	r.Time = t
	return nil
}

func setSeq(topicName string, r *reading.Reading, v gjson.Result) *Rejection {
	if v.Type != gjson.Number {
		return reject(ReasonBadSeq, "topic %q: field seq: want a non-negative integer, got %s", safeTopic(topicName), describe(v))
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if err != nil || n < 0 {
		return reject(ReasonBadSeq, "topic %q: field seq: want a non-negative integer", safeTopic(topicName))
	}
	r.Fields = setField(r.Fields, reading.Field{Key: reading.KeySeq, Kind: reading.Int, Int: n})
	return nil
}

func convert(topicName, key string, kind reading.Kind, v gjson.Result) (reading.Field, *Rejection) {
	f := reading.Field{Key: key, Kind: kind}
	switch kind {
	case reading.Float:
		if v.Type != gjson.Number {
			return f, wrongType(topicName, key, kind, v)
		}
		// gjson parsed the number already (as strconv.ParseFloat would);
		// an overflow shows as an infinity.
		x := v.Num
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return f, reject(ReasonNonFinite, "topic %q: field %s: number out of range", safeTopic(topicName), key)
		}
		f.Float = x
	case reading.Int:
		if v.Type != gjson.Number {
			return f, wrongType(topicName, key, kind, v)
		}
		n, err := strconv.ParseInt(v.Raw, 10, 64)
		if err != nil {
			// 5.0 is an integer written by a float-minded firmware;
			// 5.5 is not.
			x, ferr := strconv.ParseFloat(v.Raw, 64)
			if ferr != nil || x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return f, reject(ReasonWrongType, "topic %q: field %s: want an integer, got a fractional or out-of-range number", safeTopic(topicName), key)
			}
			n = int64(x)
		}
		f.Int = n
	case reading.Bool:
		if v.Type != gjson.True && v.Type != gjson.False {
			return f, wrongType(topicName, key, kind, v)
		}
		f.Bool = v.Type == gjson.True
	case reading.String:
		if v.Type != gjson.String {
			return f, wrongType(topicName, key, kind, v)
		}
		if len(v.Str) > 256 || strings.ContainsAny(v.Str, "\x00\n\r") {
			return f, reject(ReasonWrongType, "topic %q: field %s: string longer than 256 bytes or with control characters", safeTopic(topicName), key)
		}
		f.Str = v.Str
	}
	return f, nil
}

func wrongType(topicName, key string, kind reading.Kind, v gjson.Result) *Rejection {
	return reject(ReasonWrongType, "topic %q: field %s: want %s, got %s", safeTopic(topicName), key, kind, describe(v))
}

// setField replaces a repeated key so that, as in most JSON readers, the
// last occurrence wins and a point never carries one field twice.
func setField(fs []reading.Field, f reading.Field) []reading.Field {
	for i := range fs {
		if fs[i].Key == f.Key {
			fs[i] = f
			return fs
		}
	}
	return append(fs, f)
}

func describe(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return "null"
	case gjson.False, gjson.True:
		return "a boolean"
	case gjson.Number:
		return "a number"
	case gjson.String:
		return "a string"
	}
	if v.IsArray() {
		return "an array"
	}
	return "an object"
}

func looksNonFinite(p []byte) bool {
	return bytes.Contains(p, []byte("NaN")) || bytes.Contains(p, []byte("Infinity"))
}
