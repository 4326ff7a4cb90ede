package mqtt

import (
	"time"

	"github.com/facmon/facmon/internal/reading"
)

// poisoned marks every string of a reading lent to a sink once the sink
// returned: a sink that kept the reading (or its Fields or Extra, which the
// next message reuses) sees these instead of the values it was given.
const poisoned = "POISONED: a lent reading kept after Deliver or Offer returned; keep a Clone"

// poison overwrites what the collector reuses for the next message: the
// reading itself, and the backing arrays of its Fields and Extra. A Clone
// has its own arrays and is not touched.
func poison(r *reading.Reading) {
	fields, extra := r.Fields[:cap(r.Fields)], r.Extra[:cap(r.Extra)]
	for i := range fields {
		fields[i] = reading.Field{Key: poisoned, Kind: reading.String, Str: poisoned}
	}
	for i := range extra {
		extra[i] = reading.Tag{Key: poisoned, Value: poisoned}
	}
	*r = reading.Reading{Measurement: poisoned, Ward: poisoned, Class: poisoned, Device: poisoned,
		Time: time.Unix(0, 0), Received: time.Unix(0, 0), Fields: fields[:0], Extra: extra[:0]}
}
