package i18n

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestNaturalCompare(t *testing.T) {
	got := []string{"door-10", "camera-2", "door-2", "door-1", "camera-10", "door"}
	slices.SortFunc(got, NaturalCompare)
	assert.Equal(t, []string{"camera-2", "camera-10", "door", "door-1", "door-2", "door-10"}, got)
}
