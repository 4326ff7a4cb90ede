// Package condition turns a reading into the condition of a threshold or
// state rule's alert: active, cleared, and the value it shows.
package condition

import (
	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/reading"
)

// Threshold compares a reading's field (less another field, for
// a difference rule) with the rule's value; false when the reading lacks
// a field the rule needs.
func Threshold(c *rule.Compiled, r *reading.Reading) (lifecycle.Condition, bool) {
	v, ok := r.FloatField(c.Field)
	if !ok {
		return lifecycle.Condition{}, false
	}
	if c.MinusField != "" {
		m, ok := r.FloatField(c.MinusField)
		if !ok {
			return lifecycle.Condition{}, false
		}
		v -= m
	}
	return lifecycle.Condition{Value: v, Active: rule.Compare(v, c.Op, *c.Value), Clear: c.Cleared(v)}, true
}
