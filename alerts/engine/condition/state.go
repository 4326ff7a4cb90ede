package condition

import (
	"fmt"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/reading"
)

// State is active while the reading's field has one of the
// rule's values; false when the reading lacks the field.
func State(c *rule.Compiled, r *reading.Reading) (lifecycle.Condition, bool) {
	f, ok := r.Field(c.Field)
	if !ok {
		return lifecycle.Condition{}, false
	}
	active := c.StateActive(fieldText(f))
	return lifecycle.Condition{Value: boolValue(active), Active: active, Clear: !active}, true
}

// fieldText is a field's value as a state rule's values are written.
func fieldText(f reading.Field) string {
	switch f.Kind {
	case reading.String:
		return f.Str
	case reading.Bool:
		if f.Bool {
			return "true"
		}
		return "false"
	case reading.Int:
		return fmt.Sprint(f.Int)
	case reading.Float:
		return fmt.Sprint(f.Float)
	}
	return ""
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
