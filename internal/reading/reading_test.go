package reading

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValidID(t *testing.T) {
	for _, ok := range []string{"thanh-binh", "door-1", "tasmota_4F2A1C", "a", "cam.2", "ns:dev"} {
		assert.True(t, ValidID(ok), ok)
	}
	for _, bad := range []string{"", "-door", "door 1", "door\n1", "door/1", "+", "#", "cửa", strings.Repeat("d", 65)} {
		assert.False(t, ValidID(bad), "%q", bad)
	}
}

func TestFieldsAndFinite(t *testing.T) {
	r := &Reading{Fields: []Field{{Key: "a", Kind: Int, Int: 3}, {Key: "b", Kind: Bool, Bool: true}, {Key: "c", Kind: Float, Float: 1.5}, {Key: "s", Kind: String, Str: "x"}}}
	for key, want := range map[string]float64{"a": 3, "b": 1, "c": 1.5} {
		v, ok := r.FloatField(key)
		assert.True(t, ok, key)
		assert.Equal(t, want, v, key)
	}
	_, ok := r.FloatField("s")
	assert.False(t, ok, "a string is not a number")
	_, ok = r.FloatField("missing")
	assert.False(t, ok)
	assert.True(t, r.Finite())
	r.Fields = append(r.Fields, Field{Key: "n", Kind: Float, Float: math.NaN()})
	assert.False(t, r.Finite())
	_, err := ParseKind("integer32")
	assert.Error(t, err)
	k, err := ParseKind("integer")
	assert.NoError(t, err)
	assert.Equal(t, "int", k.String())
}

func TestSafeLabel(t *testing.T) {
	for _, s := range []string{"a", "Hòa Cường Bắc", "GET /wards/{ward}", "x=1,y=2", strings.Repeat("a", MaxLabelBytes)} {
		assert.True(t, SafeLabel(s), "%q", s)
	}
	for _, s := range []string{"", "a\nb", "a\tb", "a\rb", "ends\\", "\xff", strings.Repeat("a", MaxLabelBytes+1), "nbsp\u00a0"} {
		assert.False(t, SafeLabel(s), "%q", s)
	}
}
