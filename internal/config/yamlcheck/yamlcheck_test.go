package yamlcheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnknownKeySuggestsTheMeantOne(t *testing.T) {
	names := []string{"batch_size", "bucket", "flush_interval", "org", "timeout", "token_file", "url"}
	for _, c := range []struct{ key, want string }{
		{"bukket", "bucket"},
		{"bucekt", "bucket"},        // two letters swapped: one edit
		{"tokenfile", "token_file"}, // a missing underscore
		{"flush_intervall", "flush_interval"},
		{"ur", ""},       // too short to guess from
		{"mqtt_url", ""}, // nothing close
		{"orgs", "org"},
	} {
		assert.Equal(t, c.want, Nearest(c.key, names), c.key)
	}
	assert.Equal(t, "", Nearest("abcd", []string{"abce", "abcf"}), "two names as close: no guess")
}
