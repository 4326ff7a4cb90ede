package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/redact"
)

// userAgent identifies facmon's requests in receivers' logs.
const userAgent = "facmon-notify/1"

// httpClient is what the HTTP notifiers share: a client with its TLS
// settings and timeout, and the credentials' files.
type httpClient struct {
	client    *http.Client
	timeout   time.Duration
	tokenFile string
	basic     clientauth.BasicAuth
}

func newHTTPClient(timeout time.Duration, tokenFile string, ba clientauth.BasicAuth, tc clientauth.TLS) (*httpClient, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = timeout
	tr.MaxIdleConnsPerHost = 4
	if tc.Enabled() {
		cfg, err := tc.Build("tls")
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	return &httpClient{
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// A redirect would resend the alerts, and the credentials, to
			// another place: report it instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:   timeout,
		tokenFile: tokenFile,
		basic:     ba,
	}, nil
}

// post sends body to u with the client's credentials and extra headers,
// and returns nil on 2xx, an *HTTPError on another status, or the
// transport error (with the URL redacted).
func (c *httpClient) post(ctx context.Context, u string, body []byte, header http.Header) error {
	_, err := c.do(ctx, http.MethodPost, u, body, header)
	return err
}

// do is post for any method; it returns the start of a 2xx answer's body
// (up to 64 KiB: Alertmanager's answers are small JSON objects).
func (c *httpClient) do(ctx context.Context, method, u string, body []byte, header http.Header) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s: %v", redact.Endpoint(u), redactErr(err, u)))
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", userAgent)
	for k, vs := range header {
		req.Header[k] = vs
	}
	switch {
	case c.tokenFile != "":
		tok, err := clientauth.ReadSecret(c.tokenFile)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case c.basic.Username != "":
		pw, err := clientauth.ReadSecret(c.basic.PasswordFile)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(c.basic.Username, pw)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", redact.Endpoint(u), redactErr(err, u))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
		return answer, nil
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil, &HTTPError{
		URL:        redact.Endpoint(u),
		StatusCode: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		Body:       strings.TrimSpace(strings.ToValidUTF8(string(snippet), "?")),
	}
}

// redactErr strips the request URL from a transport error (url.Error
// quotes it whole, query included): the caller prefixes the endpoint.
func redactErr(err error, u string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return redact.Error(ue.Err, u)
	}
	return redact.Error(err, u)
}
