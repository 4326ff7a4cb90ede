// Package redact is the one policy for URLs in logs and errors: no
// password, token or other secret that a URL can carry reaches a log line,
// an error message or `facmon config check` output.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Hidden replaces a removed query value.
const Hidden = "redacted"

// URL is raw without its user info, with every query value replaced by
// Hidden (the keys stay, so a reader sees which parameter was set) and
// without its fragment. The path stays: use Endpoint where a path can
// carry a token.
func URL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "(unparsable URL)"
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = Hidden
		} else {
			for k := range q {
				q[k] = []string{Hidden}
			}
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// Endpoint is only the scheme and host of raw: webhook services (Slack,
// Teams, Telegram bots, Zalo) carry their token in the path.
func Endpoint(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}

var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>]+`)

// Text is s with every URL in it passed through URL: for messages of other
// libraries (url.Error quotes the whole request URL).
func Text(s string) string {
	return urlInText.ReplaceAllStringFunc(s, func(m string) string {
		trail := ""
		for len(m) > 0 && strings.ContainsRune(`),.;:`, rune(m[len(m)-1])) {
			trail, m = m[len(m)-1:]+trail, m[:len(m)-1]
		}
		return URL(m) + trail
	})
}

// Error is err with its text passed through Text, and raw (a URL the
// caller used, whose path may hold a token) replaced by its Endpoint.
// Errors.Is and errors.As still see err.
func Error(err error, raw ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, r := range raw {
		if r != "" {
			msg = strings.ReplaceAll(msg, r, Endpoint(r))
		}
	}
	return &redacted{msg: Text(msg), err: err}
}

type redacted struct {
	msg string
	err error
}

func (r *redacted) Error() string { return r.msg }
func (r *redacted) Unwrap() error { return r.err }

// HasCredentials reports whether raw carries user info (a user name or a
// password), which configuration refuses in favour of secret files.
func HasCredentials(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	return err == nil && u.User != nil
}
