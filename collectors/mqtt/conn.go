package mqtt

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/url"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bufferedConn gives paho's packet reader a buffer. paho reads each
// packet's fixed header a byte at a time straight from the socket: four
// system calls per message, which profiling showed to be the largest
// single cost of ingest. With a buffer one read serves many messages.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// dialBuffered returns an OpenConnectionFunc for tcp and TLS brokers;
// WebSocket URLs keep paho's own dialer (nil).
func dialBuffered(scheme string, timeout time.Duration) paho.OpenConnectionFunc {
	switch scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
	default:
		return nil
	}
	return func(uri *url.URL, opts paho.ClientOptions) (net.Conn, error) {
		d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
		var conn net.Conn
		var err error
		switch uri.Scheme {
		case "tcp", "mqtt":
			conn, err = d.Dial("tcp", uri.Host)
		default:
			tc := opts.TLSConfig
			if tc == nil {
				tc = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			conn, err = tls.DialWithDialer(d, "tcp", uri.Host, tc)
		}
		if err != nil {
			return nil, err
		}
		return &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}, nil
	}
}
