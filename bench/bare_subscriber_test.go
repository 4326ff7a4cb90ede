package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/internal/config"
)

// The bare subscribers run in a process of their own (this test binary,
// started again with these variables set), as facmon does, so their CPU
// can be told apart from the publishers' in the benchmark's process: it is
// the price of paho alone, to set facmon's figure against.
const (
	bareBrokerEnv   = "FACMON_BENCH_BARE_BROKER"
	bareReadingsEnv = "FACMON_BENCH_BARE_READINGS"
	bareModeEnv     = "FACMON_BENCH_BARE_MODE"
)

// The two kinds of bare subscriber.
const (
	// modeCeiling is paho with its defaults: each message acked as soon
	// as paho has read it. Its rate is the ceiling.
	modeCeiling = "ceiling"
	// modeFloor is paho as facmon runs it (mqtt.Transport, facmon's
	// GOMAXPROCS, acks held back and sent in groups as facmon's group
	// commits send them), doing nothing else: its CPU is the part of
	// facmon's that is paho's.
	modeFloor = "floor"
)

func TestMain(m *testing.M) {
	if broker := os.Getenv(bareBrokerEnv); broker != "" {
		os.Exit(bareSubscriberMain(broker, os.Getenv(bareReadingsEnv), os.Getenv(bareModeEnv), os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// bareSubscriberMain is a bare subscriber: a persistent QoS 1 session like
// facmon's that discards what it receives. It writes "ready" once
// subscribed, "done UNIXNANO" when the n-th message arrived, "total COUNT"
// 200 ms later (a count above n means duplicates), and leaves when stdin
// closes.
func bareSubscriberMain(broker, readings, mode string, stdin io.Reader, stdout io.Writer) int {
	n, err := strconv.ParseInt(readings, 10, 64)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "%s=%q: want a positive number\n", bareReadingsEnv, readings)
		return 2
	}
	var count atomic.Int64
	complete := make(chan int64, 1)
	received := func() {
		if count.Add(1) == n {
			complete <- time.Now().UnixNano()
		}
	}
	opts := paho.NewClientOptions().
		AddBroker(broker).
		SetClientID("bench-" + mode).
		SetCleanSession(false).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, _ paho.Message) { received() })
	switch mode {
	case modeCeiling:
	case modeFloor:
		def := config.Default()
		runtime.GOMAXPROCS(max(1, runtime.NumCPU()/2)) // as `facmon run` does
		acks := newGroupAcker(def.MQTT.MaxInflight/2, def.Spool.CommitInterval.D())
		go acks.run()
		mqtt.Transport(opts, "tcp", 10*time.Second).
			SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
				acks.add(m)
				received()
			})
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want %s or %s\n", bareModeEnv, mode, modeCeiling, modeFloor)
		return 2
	}
	sub := paho.NewClient(opts)
	if tok := sub.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		fmt.Fprintf(os.Stderr, "bare subscriber: connect: %v\n", tokenErr(tok))
		return 1
	}
	defer sub.Disconnect(250)
	if tok := sub.Subscribe("facmon/+/+/+/telemetry", 1, nil); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		fmt.Fprintf(os.Stderr, "bare subscriber: subscribe: %v\n", tokenErr(tok))
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

// groupAcker acks messages as facmon's batcher does after a group commit:
// all at once, when window of them wait or the first has waited linger.
type groupAcker struct {
	window int
	linger time.Duration
	mu     sync.Mutex
	held   []paho.Message
	first  time.Time
	kick   chan struct{}
}

func newGroupAcker(window int, linger time.Duration) *groupAcker {
	return &groupAcker{window: window, linger: linger, kick: make(chan struct{}, 1)}
}

func (g *groupAcker) add(m paho.Message) {
	g.mu.Lock()
	g.held = append(g.held, m)
	n := len(g.held)
	if n == 1 {
		g.first = time.Now()
	}
	g.mu.Unlock()
	if n == 1 || n == g.window {
		select {
		case g.kick <- struct{}{}:
		default:
		}
	}
}

func (g *groupAcker) run() {
	timer := time.NewTimer(time.Hour)
	for {
		select {
		case <-g.kick:
		case <-timer.C:
		}
		g.mu.Lock()
		wait := time.Duration(0)
		if len(g.held) > 0 && len(g.held) < g.window {
			wait = g.linger - time.Since(g.first)
		}
		if len(g.held) == 0 || wait > 0 {
			g.mu.Unlock()
			if wait > 0 {
				timer.Reset(wait)
			}
			continue
		}
		group := g.held
		g.held = make([]paho.Message, 0, cap(group))
		g.mu.Unlock()
		for _, m := range group {
			m.Ack()
		}
	}
}

// bareSubscriber is the parent's handle on the subscriber process.
type bareSubscriber struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	errs  strings.Builder
}

func startBareSubscriber(s *scope, broker string, readings int, mode string) *bareSubscriber {
	s.Helper()
	c := &bareSubscriber{lines: make(chan string, 4)}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), bareBrokerEnv+"="+broker, bareReadingsEnv+"="+strconv.Itoa(readings), bareModeEnv+"="+mode)
	c.cmd.Stderr = &c.errs
	c.cmd.SysProcAttr = sysProcAttr()
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		s.Fatalf("bare subscriber: %v", err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		s.Fatalf("bare subscriber: %v", err)
	}
	if err := c.cmd.Start(); err != nil {
		s.Fatalf("bare subscriber: start: %v", err)
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
		s.Fatalf("bare subscriber: want ready, got %q", line)
	}
	return c
}

// next returns the subscriber's next line, failing the run if it exits or
// says nothing within timeout.
func (c *bareSubscriber) next(s *scope, timeout time.Duration) string {
	s.Helper()
	select {
	case line, ok := <-c.lines:
		if !ok {
			s.Fatalf("bare subscriber exited early: %s", strings.TrimSpace(c.errs.String()))
		}
		return line
	case <-time.After(timeout):
		s.Fatalf("bare subscriber said nothing within %v", timeout)
	}
	return ""
}

// field parses the number after want in a "want NUMBER" line.
func (c *bareSubscriber) field(s *scope, want string, timeout time.Duration) int64 {
	s.Helper()
	line := c.next(s, timeout)
	v, ok := strings.CutPrefix(line, want+" ")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		s.Fatalf("bare subscriber: want %q and a number, got %q", want, line)
	}
	return n
}
