// Package connection is how facmon's MQTT connections reach the broker:
// the session's address, identity and TLS (Broker, BaseOptions), a
// buffered socket that takes the system calls out of paho's per-message
// path, and a store that skips paho's bookkeeping of received QoS 1
// publishes.
package connection

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/url"
	"runtime"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// bufferedConn takes the system calls out of paho's per-message path.
// paho reads each packet's fixed header a byte at a time straight from the
// socket (four reads per message) and writes every PUBACK with its own
// write: those calls were the largest cost of ingest (bench/README.md,
// "Tuning").
// Reads go through a buffer; writes are coalesced: Write queues the bytes
// and one flusher goroutine sends everything queued in one call, so under
// load many acks share a system call and at rest a packet leaves at once.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu       sync.Mutex
	drained  *sync.Cond // signalled when the flusher empties the queue
	pending  []byte
	spare    []byte
	flushing bool
	err      error
}

// maxPending bounds the queued bytes; past it Write waits for the flusher,
// so a stalled socket stalls paho as a plain write would.
const maxPending = 1 << 20

func newBufferedConn(c net.Conn) *bufferedConn {
	b := &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 64<<10)}
	b.drained = sync.NewCond(&b.mu)
	return b
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pending) >= maxPending && c.err == nil {
		c.drained.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.pending = append(c.pending, p...)
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

func (c *bufferedConn) flush() {
	// Acks come in bursts (a whole group commit at once): yielding once
	// lets the burst queue up behind this write instead of racing it.
	runtime.Gosched()
	c.mu.Lock()
	for len(c.pending) > 0 && c.err == nil {
		buf := c.pending
		c.pending = c.spare[:0]
		c.mu.Unlock()
		_, err := c.Conn.Write(buf)
		c.mu.Lock()
		c.spare = buf[:0]
		if err != nil {
			c.err = err
			// Make paho's reader fail too, so it notices the broken
			// connection now rather than at the next keepalive.
			c.Conn.Close()
		}
	}
	c.flushing = false
	c.drained.Broadcast()
	c.mu.Unlock()
}

// Close sends what is queued (the last acks and the DISCONNECT) first.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	for c.flushing {
		c.drained.Wait()
	}
	if c.err == nil && len(c.pending) > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
		_, c.err = c.Conn.Write(c.pending)
		c.pending = nil
	}
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.drained.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}

// DialBuffered returns an OpenConnectionFunc for tcp and TLS brokers;
// WebSocket URLs keep paho's own dialer (nil).
func DialBuffered(scheme string, timeout time.Duration) paho.OpenConnectionFunc {
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
		return newBufferedConn(conn), nil
	}
}
