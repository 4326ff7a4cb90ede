package connection

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBufferedConnKeepsOrderAndFlushesOnClose: coalesced writes arrive in
// order and complete, including what is queued when Close is called.
func TestBufferedConnKeepsOrderAndFlushesOnClose(t *testing.T) {
	a, b := net.Pipe()
	c := newBufferedConn(a)
	var got bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&got, b)
		close(done)
	}()
	var want bytes.Buffer
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				mu.Lock() // one writer at a time, as paho's outgoing goroutine
				p := []byte{byte(g), byte(i), byte(i >> 8), 0x40}
				want.Write(p)
				_, err := c.Write(p)
				mu.Unlock()
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, c.Close())
	<-done
	assert.Equal(t, want.Bytes(), got.Bytes())
	_, err := c.Write([]byte{1})
	assert.Error(t, err, "writes after Close fail")
}

func TestBufferedConnReportsWriteErrors(t *testing.T) {
	a, b := net.Pipe()
	c := newBufferedConn(a)
	b.Close()
	_, _ = c.Write([]byte("x"))
	// The flusher hits the closed pipe; later writes report it.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := c.Write([]byte("y")); err != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("a broken connection was never reported")
}
