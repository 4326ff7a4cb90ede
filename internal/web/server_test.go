package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve starts a Server with limits on a free loopback port; echo reads
// its body as the acknowledgement API does.
func serve(t *testing.T, limits Limits, routes func(*Server)) string {
	t.Helper()
	s := New("127.0.0.1:0", limits, prometheus.NewRegistry(), nil, slog.New(slog.DiscardHandler))
	s.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			fmt.Fprintf(w, "%d bytes", len(b))
		}
	})
	if routes != nil {
		routes(s)
	}
	ln, err := s.Listen()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// closedByServer waits, up to limit, for the server to close conn: a read
// ends with EOF or a reset rather than with the client's own deadline.
func closedByServer(conn net.Conn, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := conn.Read(buf)
		if err == nil {
			continue // a response before the close
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, fmt.Errorf("still open after %s", limit)
		}
		return time.Since(start), nil
	}
}

// 50 clients sending a body a byte at a time and 50 idle keep-alive
// connections must not hold the server: each is closed within the read
// and idle timeouts. Before the limits, every one was still open after 25 s.
func TestSlowBodiesAndIdleConnectionsAreClosed(t *testing.T) {
	limits := Limits{
		ReadHeaderTimeout: 300 * time.Millisecond,
		ReadTimeout:       500 * time.Millisecond,
		WriteTimeout:      time.Second,
		IdleTimeout:       500 * time.Millisecond,
	}
	addr := serve(t, limits, nil)
	const n = 50
	// Far above the timeouts: only a connection the server never closes
	// reaches it.
	const patience = 10 * time.Second
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	took := make(chan time.Duration, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			// Half to a route that reads its body, half to one that does not.
			target := "POST /echo"
			if i%2 == 1 {
				target = "GET /healthz"
			}
			if _, err := fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: facmon\r\nContent-Length: 1000\r\n\r\n", target); err != nil {
				errs <- err
				return
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte("x")); err != nil {
							return
						}
					}
				}
			}()
			d, err := closedByServer(conn, patience)
			if err != nil {
				errs <- fmt.Errorf("slow body to %s: %w", target, err)
				return
			}
			took <- d
		}()
	}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			if _, err := fmt.Fprint(conn, "GET /healthz HTTP/1.1\r\nHost: facmon\r\n\r\n"); err != nil {
				errs <- err
				return
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				errs <- errors.New("the server did not keep the connection alive")
				return
			}
			d, err := closedByServer(conn, patience)
			if err != nil {
				errs <- fmt.Errorf("idle keep-alive: %w", err)
				return
			}
			took <- d
		}()
	}
	wg.Wait()
	close(errs)
	close(took)
	for err := range errs {
		t.Error(err)
	}
	var longest time.Duration
	count := 0
	for d := range took {
		longest = max(longest, d)
		count++
	}
	assert.Equal(t, 2*n, count, "every connection closed by the server")
	t.Logf("%d connections closed by the server, the last after %s", count, longest.Round(time.Millisecond))
}

// A report may take minutes to make and send: its route gets the long
// deadline, and its request is not cancelled when the read timeout passes.
// Any other route is cut off at the write timeout.
func TestLongRoutesOutliveTheWriteTimeout(t *testing.T) {
	limits := Limits{ReadTimeout: 200 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, LongWriteTimeout: 10 * time.Second}
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(900 * time.Millisecond):
			fmt.Fprint(w, "done")
		case <-r.Context().Done():
			fmt.Fprint(w, "cancelled")
		}
	}
	addr := serve(t, limits, func(s *Server) {
		s.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(900 * time.Millisecond)
			fmt.Fprint(w, "done")
		})
		s.HandleLong("GET /report", http.HandlerFunc(slow))
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	resp, err := client.Get("http://" + addr + "/report")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "done", string(body))

	resp, err = client.Get("http://" + addr + "/slow")
	if err == nil {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	assert.Error(t, err, "past the write timeout the response is cut off (got %q)", body)
}

// Request bodies and headers are capped on every route.
func TestBodyAndHeaderCaps(t *testing.T) {
	addr := serve(t, Limits{MaxBodyBytes: 1024, MaxHeaderBytes: 4096}, func(s *Server) {
		s.HandleFunc("POST /api/thing", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "never read") })
	})
	base := "http://" + addr
	post := func(path string, body io.Reader, size int64) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, body)
		require.NoError(t, err)
		req.ContentLength = size
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, _ := post("/echo", strings.NewReader(strings.Repeat("x", 1024)), 1024)
	assert.Equal(t, 200, code)
	assert.Equal(t, "1024 bytes", body)

	// Declared too large: refused before any handler runs, on any route.
	code, body, _ = post("/echo", strings.NewReader(strings.Repeat("x", 2000)), 2000)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Equal(t, "request body too large: at most 1024 bytes\n", body)
	code, body, h := post("/api/thing", strings.NewReader(strings.Repeat("x", 2000)), 2000)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.Equal(t, "application/json; charset=utf-8", h.Get("Content-Type"))
	assert.JSONEq(t, `{"error": "request body too large: at most 1024 bytes"}`, body)

	// Chunked, of unknown length: the handler's read stops at the cap.
	code, _, _ = post("/echo", io.MultiReader(strings.NewReader(strings.Repeat("x", 2000))), -1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)

	req, err := http.NewRequest(http.MethodGet, base+"/healthz", nil)
	require.NoError(t, err)
	req.Header.Set("X-Padding", strings.Repeat("p", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}
