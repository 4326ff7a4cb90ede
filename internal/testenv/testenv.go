// Package testenv starts the real services facmon's integration tests run against —
// Mosquitto and InfluxDB 1.8.3 — on free loopback ports, each in its own temporary
// directory, and tears them down when the test ends.
//
// It is a normal (non-_test) package so that the tests of every other package can
// import it. Tests that need a service fail, never skip, when its binary is missing:
// a silently skipped integration test looks exactly like a passing one. Install the
// binaries with scripts/deps.sh.
//
// The Start* functions and the methods that take no testing.TB report through the
// testing.TB given at start, so call them from the test's own goroutine.
package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// logTailLines is how much of a service's log a failing test shows.
const logTailLines = 40

var (
	portsMu sync.Mutex
	// portsGiven holds every port FreePort returned in this process, so two services
	// of the same test binary can never be handed the same port even after the
	// first one has released it for a restart.
	portsGiven = map[int]bool{}
)

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on right now and that
// FreePort has not returned before in this process.
//
// Another process may still grab the port before the service binds it; the Start*
// functions detect "address already in use" and retry on fresh ports.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testenv: FreePort: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		portsMu.Lock()
		dup := portsGiven[port]
		portsGiven[port] = true
		portsMu.Unlock()
		if !dup {
			return port
		}
	}
	t.Fatalf("testenv: FreePort: no unused port after 100 tries")
	return 0
}

// Eventually calls cond immediately and then every 100 ms until it reports true, and
// fails the test with what and the last detail cond returned if that does not happen
// within timeout. Use it instead of sleeps: it is as fast as the system allows and
// says what was still wrong when it gives up.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("testenv: %s: still not true after %v: %s", what, timeout, detail)
			return
		}
		<-tick.C
	}
}

// --------------------------------------------------------------------- binaries

var (
	goBinOnce sync.Once
	goBinDirs []string
)

// goBinDirectories lists where `go install` puts binaries: GOBIN, else the first
// GOPATH entry's bin. `go env` is asked first because it also knows values set with
// `go env -w`; the GOPATH variable and $HOME/go are the fallback when go is absent.
func goBinDirectories() []string {
	goBinOnce.Do(func() {
		var dirs []string
		if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
			lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
			if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
				dirs = append(dirs, strings.TrimSpace(lines[0]))
			}
			if len(lines) > 1 {
				for _, p := range filepath.SplitList(strings.TrimSpace(lines[1])) {
					dirs = append(dirs, filepath.Join(p, "bin"))
				}
			}
		}
		if gobin := os.Getenv("GOBIN"); gobin != "" {
			dirs = append(dirs, gobin)
		}
		for _, p := range filepath.SplitList(os.Getenv("GOPATH")) {
			dirs = append(dirs, filepath.Join(p, "bin"))
		}
		if home, err := os.UserHomeDir(); err == nil {
			dirs = append(dirs, filepath.Join(home, "go", "bin"))
		}
		goBinDirs = dirs
	})
	return goBinDirs
}

// findBinary returns the candidates for name, PATH first, then the Go bin
// directories, keeping only executables for which accept (if non-nil) says yes.
func findBinary(name string, accept func(path string) bool) (string, bool) {
	var cands []string
	if p, err := exec.LookPath(name); err == nil {
		cands = append(cands, p)
	}
	for _, d := range goBinDirectories() {
		cands = append(cands, filepath.Join(d, name))
	}
	for _, p := range cands {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		if accept == nil || accept(p) {
			return p, true
		}
	}
	return "", false
}

// requireBinary finds name or fails the test with the command that installs it.
func requireBinary(t testing.TB, name, component string, accept func(string) bool) string {
	t.Helper()
	p, ok := findBinary(name, accept)
	if !ok {
		t.Fatalf("testenv: %s not installed: run scripts/deps.sh %s", name, component)
	}
	return p
}

// --------------------------------------------------------------------- processes

// proc is one service process: started in its own process group so that Stop and
// Kill reach any children too, with stdout and stderr appended to logPath.
type proc struct {
	name    string
	bin     string
	args    []string
	dir     string
	logPath string

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current process has been reaped
	waitErr  error
	expected bool // the current process was stopped or killed on purpose
	crashed  []string
	shownLog int64 // log size when a start-up failure already quoted the log
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("%s is already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer f.Close() // the child has its own copy of the descriptor
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.waitErr, p.expected = cmd, done, nil, false
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.waitErr = err
		if !p.expected {
			p.crashed = append(p.crashed, fmt.Sprintf("pid %d: %v", cmd.Process.Pid, err))
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// running reports whether the process is alive; when it is not, err says how it ended.
// pid is the running process's id, 0 when it is not running.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *proc) running() (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false, errors.New("never started")
	}
	if isClosed(p.done) {
		return false, p.waitErr
	}
	return true, nil
}

// signal sends sig to the whole process group and returns the channel that is
// closed when the process has exited, or nil when it is not running.
func (p *proc) signal(sig syscall.Signal) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return nil
	}
	p.expected = true
	// Negative pid: the process group the service leads (Setpgid).
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		_ = p.cmd.Process.Signal(sig)
	}
	return p.done
}

// stop sends SIGTERM and waits up to grace for a clean exit (Mosquitto writes its
// persistence file, InfluxDB closes its shards), then SIGKILLs. It reports whether
// the process had to be killed.
func (p *proc) stop(grace time.Duration) (killed bool) {
	done := p.signal(syscall.SIGTERM)
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	case <-time.After(grace):
		p.kill()
		return true
	}
}

// kill SIGKILLs the process group and waits until the process is reaped, so that
// its ports are free when kill returns.
func (p *proc) kill() {
	if done := p.signal(syscall.SIGKILL); done != nil {
		<-done
	}
}

// takeCrashes returns and forgets the unexpected exits seen so far.
func (p *proc) takeCrashes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.crashed
	p.crashed = nil
	return c
}

func (p *proc) forgetLastCrash() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.crashed); n > 0 {
		p.crashed = p.crashed[:n-1]
	}
}

func (p *proc) markLogShown() {
	n := p.logSize()
	p.mu.Lock()
	p.shownLog = n
	p.mu.Unlock()
}

func (p *proc) shownLogSize() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shownLog
}

func (p *proc) logSize() int64 {
	st, err := os.Stat(p.logPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// logSince returns the log written after byte offset off.
func (p *proc) logSince(off int64) string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func (p *proc) log() string { return p.logSince(0) }

// tail returns the last n lines of the log.
func (p *proc) tail(n int) string {
	return tailLines(p.log(), n)
}

func tailLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(log is empty)"
	}
	return strings.Join(lines, "\n")
}

// errAddrInUse marks a start that failed because another process took a port
// between FreePort and the service's bind: the caller retries on new ports.
var errAddrInUse = errors.New("address already in use")

// waitReady waits until ready returns nil while the process stays alive. A process
// that exits during startup ends the wait at once, with its log tail.
func (p *proc) waitReady(timeout time.Duration, logOffset int64, ready func() error) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if alive, werr := p.running(); !alive {
			// Reported here with its log; not again as a crash at cleanup.
			p.forgetLastCrash()
			since := p.logSince(logOffset)
			p.markLogShown()
			err := fmt.Errorf("%s exited during startup (%v); log:\n%s", p.name, werr, tailLines(since, logTailLines))
			if strings.Contains(strings.ToLower(since), "address already in use") {
				err = fmt.Errorf("%w: %w", errAddrInUse, err)
			}
			return err
		}
		if lastErr = ready(); lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			p.kill()
			p.markLogShown()
			return fmt.Errorf("%s not ready after %v: %v; log:\n%s", p.name, timeout, lastErr, p.tail(logTailLines))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// registerCleanup kills the process at the end of the test, reports a process that
// died on its own (a crashed service must not pass unnoticed), and shows the log
// tail when the test failed. t.TempDir must have been called before, so that this
// cleanup runs first (cleanups are LIFO) and the directory is removed only after
// the process is gone.
func (p *proc) registerCleanup(t testing.TB) {
	t.Cleanup(func() {
		crashes := p.takeCrashes()
		p.kill()
		if len(crashes) > 0 {
			t.Errorf("testenv: %s exited unexpectedly during the test: %s", p.name, strings.Join(crashes, "; "))
		}
		// Skip the tail when a start-up failure has just quoted the same lines.
		if t.Failed() && p.logSize() != p.shownLogSize() {
			t.Logf("testenv: %s log %s (last %d lines):\n%s", p.name, p.logPath, logTailLines, p.tail(logTailLines))
		}
	})
}

// dialOK reports whether a TCP connection to addr succeeds.
func dialOK(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// runTool runs a short-lived helper (mosquitto_passwd, …) and returns its combined
// output in the error when it fails. The arguments are left out of the error: they
// may hold a password.
func runTool(ctx context.Context, bin string, args ...string) error {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", filepath.Base(bin), err, strings.TrimSpace(out.String()))
	}
	return nil
}
