package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// The ceiling's bare subscriber runs in a process of its own (this test
// binary, started again with these variables set), so its CPU can be told
// apart from the publishers' in the benchmark's process: it is the price
// of paho alone, to set facmon's own figure against.
const (
	ceilingBrokerEnv   = "FACMON_BENCH_CEILING_BROKER"
	ceilingReadingsEnv = "FACMON_BENCH_CEILING_READINGS"
)

func TestMain(m *testing.M) {
	if broker := os.Getenv(ceilingBrokerEnv); broker != "" {
		os.Exit(ceilingSubscriberMain(broker, os.Getenv(ceilingReadingsEnv), os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// ceilingSubscriberMain is the bare subscriber: a persistent QoS 1 session
// like facmon's, with paho's defaults, acking each message as soon as paho
// has read it and discarding it. It writes "ready" once subscribed,
// "done UNIXNANO" when the n-th message arrived, "total COUNT" 200 ms later
// (a count above n means duplicates), and leaves when stdin closes.
func ceilingSubscriberMain(broker, readings string, stdin io.Reader, stdout io.Writer) int {
	n, err := strconv.ParseInt(readings, 10, 64)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a positive number\n", ceilingReadingsEnv, readings)
		return 2
	}
	var count atomic.Int64
	complete := make(chan int64, 1)
	opts := paho.NewClientOptions().
		AddBroker(broker).
		SetClientID("bench-ceiling").
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, _ paho.Message) {
			if count.Add(1) == n {
				complete <- time.Now().UnixNano()
			}
		})
	sub := paho.NewClient(opts)
	if tok := sub.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		fmt.Fprintf(os.Stderr, "ceiling subscriber: connect: %v\n", tokenErr(tok))
		return 1
	}
	defer sub.Disconnect(250)
	if tok := sub.Subscribe("facmon/+/+/+/telemetry", 1, nil); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		fmt.Fprintf(os.Stderr, "ceiling subscriber: subscribe: %v\n", tokenErr(tok))
		return 1
	}
	fmt.Fprintln(stdout, "ready")
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(closed)
	}()
	select {
	case at := <-complete:
		fmt.Fprintf(stdout, "done %d\n", at)
	case <-closed:
		return 1
	}
	time.Sleep(200 * time.Millisecond)
	fmt.Fprintf(stdout, "total %d\n", count.Load())
	<-closed
	return 0
}

// ceilingSubscriber is the parent's handle on the subscriber process.
type ceilingSubscriber struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	errs  strings.Builder
}

func startCeilingSubscriber(s *scope, broker string, readings int) *ceilingSubscriber {
	s.Helper()
	c := &ceilingSubscriber{lines: make(chan string, 4)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), ceilingBrokerEnv+"="+broker, ceilingReadingsEnv+"="+strconv.Itoa(readings))
	c.cmd.Stderr = &c.errs
	c.cmd.SysProcAttr = sysProcAttr()
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		s.Fatalf("ceiling subscriber: %v", err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		s.Fatalf("ceiling subscriber: %v", err)
	}
	if err := c.cmd.Start(); err != nil {
		s.Fatalf("ceiling subscriber: start: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	s.Cleanup(func() {
		c.stdin.Close()
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	})
	if line := c.next(s, 30*time.Second); line != "ready" {
		s.Fatalf("ceiling subscriber: want ready, got %q", line)
	}
	return c
}

// next returns the subscriber's next line, failing the run if it exits or
// says nothing within timeout.
func (c *ceilingSubscriber) next(s *scope, timeout time.Duration) string {
	s.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			s.Fatalf("ceiling subscriber exited early: %s", strings.TrimSpace(c.errs.String()))
		}
		return line
	case <-time.After(timeout):
		s.Fatalf("ceiling subscriber said nothing within %v", timeout)
	}
	return ""
}

// field parses the number after want in a "want NUMBER" line.
func (c *ceilingSubscriber) field(s *scope, want string, timeout time.Duration) int64 {
	s.Helper()
	line := c.next(s, timeout)
	v, ok := strings.CutPrefix(line, want+" ")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		s.Fatalf("ceiling subscriber: want %q and a number, got %q", want, line)
	}
	return n
}
