package redact

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"http://admin:s3cret@influx:8086", "http://influx:8086"},
		{"http://10.0.0.5:9100/metrics?token=abc123&x=1", "http://10.0.0.5:9100/metrics?token=redacted&x=redacted"},
		{"tcp://user@broker:1883", "tcp://broker:1883"},
		{"https://am.example/api#frag", "https://am.example/api"},
		{"http://host:8080/", "http://host:8080/"},
		{"http://a b:%zz", "(unparsable URL)"},
	}
	for _, c := range cases {
		got := URL(c.in)
		assert.Equal(t, c.want, got, c.in)
		for _, secret := range []string{"s3cret", "abc123", "admin"} {
			assert.NotContains(t, got, secret)
		}
	}
}

func TestEndpoint(t *testing.T) {
	assert.Equal(t, "https://hooks.slack.com", Endpoint("https://hooks.slack.com/services/T000/B000/XXXXSECRET"))
	assert.Equal(t, "https://api.telegram.org", Endpoint("https://api.telegram.org/bot123:TOKEN/sendMessage?chat_id=1"))
	assert.Equal(t, "(unparsable URL)", Endpoint("not a url"))
}

func TestTextAndError(t *testing.T) {
	s := `Post "http://u:pw@h:1/x?key=K1", then (https://h2/y?t=K2).`
	got := Text(s)
	assert.Equal(t, `Post "http://h:1/x?key=redacted", then (https://h2/y?t=redacted).`, got)

	// A real transport error quotes the whole URL.
	hook := "http://127.0.0.1:1/services/T0/B0/PATHTOKEN?sig=QTOKEN"
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, hook, nil)
	_, err := http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("posting to port 1 should fail")
	}
	red := Error(fmt.Errorf("webhook: %w", err), hook)
	for _, secret := range []string{"PATHTOKEN", "QTOKEN"} {
		assert.NotContains(t, red.Error(), secret)
	}
	assert.True(t, strings.Contains(red.Error(), "http://127.0.0.1:1"), red.Error())
	var target interface{ Timeout() bool }
	assert.True(t, errors.As(red, &target), "the wrapped error stays reachable")
	assert.Nil(t, Error(nil))
}

func TestHasCredentials(t *testing.T) {
	assert.True(t, HasCredentials("http://admin:pw@influx:8086"))
	assert.True(t, HasCredentials("http://admin@influx:8086"))
	assert.False(t, HasCredentials("http://influx:8086"))
}

func FuzzText(f *testing.F) {
	f.Add(`error http://u:p@h/x?k=v`)
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		for _, m := range urlInText.FindAllString(out, -1) {
			if HasCredentials(m) {
				t.Errorf("Text(%q) = %q keeps the user info of %q", s, out, m)
			}
		}
	})
}
