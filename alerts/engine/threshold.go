package engine

import (
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/reading"
)

// condition is what a rule's evaluation says of one alert key: active
// starts (or keeps) it pending or firing, clear lets a firing one
// resolve; between the two (a threshold's hysteresis band) it holds.
type condition struct {
	value         float64
	active, clear bool
}

// thresholdCondition compares a reading's field (less another field, for
// a difference rule) with the rule's value; false when the reading lacks
// a field the rule needs.
func thresholdCondition(c *rule.Compiled, r *reading.Reading) (condition, bool) {
	v, ok := r.FloatField(c.Field)
	if !ok {
		return condition{}, false
	}
	if c.MinusField != "" {
		m, ok := r.FloatField(c.MinusField)
		if !ok {
			return condition{}, false
		}
		v -= m
	}
	return condition{value: v, active: rule.Compare(v, c.Op, *c.Value), clear: c.Cleared(v)}, true
}
