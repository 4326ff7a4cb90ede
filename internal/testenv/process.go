package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is one service process run by a test: started in its own process group
// so that Stop and Kill reach any children too, with stdout and stderr appended to
// a log file, restartable, and watched so that an exit nobody asked for is reported
// (RegisterCleanup). Every real service of testenv and the facmon binary in the
// fault and benchmark tests run through it.
type Process struct {
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

// NewProcess describes a process; nothing runs until Start. name is used in
// messages, dir is the working directory, logPath the file output is appended to.
func NewProcess(name, bin string, args []string, dir, logPath string) *Process {
	return &Process{name: name, bin: bin, args: args, dir: dir, logPath: logPath}
}

// SetArgs replaces the arguments of the next Start, e.g. a new port after
// another process took the last one.
func (p *Process) SetArgs(args []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.args = args
}

// Start runs the process; it fails when it is already running.
func (p *Process) Start() error {
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

// Pid is the running process's id, 0 when it is not running.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process is alive; when it is not, err says how it ended.
func (p *Process) Running() (bool, error) {
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

// Signal sends sig to the whole process group and returns the channel that is
// closed when the process has exited, or nil when it is not running.
func (p *Process) Signal(sig syscall.Signal) chan struct{} {
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

// Stop sends SIGTERM and waits up to grace for a clean exit (Mosquitto writes its
// persistence file, InfluxDB closes its shards), then SIGKILLs. It reports whether
// the process had to be killed.
func (p *Process) Stop(grace time.Duration) (killed bool) {
	done := p.Signal(syscall.SIGTERM)
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	case <-time.After(grace):
		p.Kill()
		return true
	}
}

// Kill SIGKILLs the process group and waits until the process is reaped, so that
// its ports are free when kill returns.
func (p *Process) Kill() {
	if done := p.Signal(syscall.SIGKILL); done != nil {
		<-done
	}
}

// Done is closed when the current run has been reaped; nil before the first Start.
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// ExitCode is the exit code of the last run that ended, -1 while it runs or
// when a signal ended it.
func (p *Process) ExitCode() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.done == nil || !isClosed(p.done) {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// State is the kernel's account of the last run that ended (exit code,
// CPU time, peak RSS in its rusage), nil while it runs or before it started.
func (p *Process) State() *os.ProcessState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.done == nil || !isClosed(p.done) {
		return nil
	}
	return p.cmd.ProcessState
}

// WaitErr is how the last run that ended ended (nil for exit code 0).
func (p *Process) WaitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// LogPath is the file the output is appended to.
func (p *Process) LogPath() string { return p.logPath }

// takeCrashes returns and forgets the unexpected exits seen so far.
func (p *Process) takeCrashes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.crashed
	p.crashed = nil
	return c
}

func (p *Process) forgetLastCrash() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.crashed); n > 0 {
		p.crashed = p.crashed[:n-1]
	}
}

func (p *Process) markLogShown() {
	n := p.LogSize()
	p.mu.Lock()
	p.shownLog = n
	p.mu.Unlock()
}

func (p *Process) shownLogSize() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shownLog
}

// LogSize is the log's length now: the offset to pass to LogSince or WaitReady
// to see only what a new run writes.
func (p *Process) LogSize() int64 {
	st, err := os.Stat(p.logPath)
	if err != nil {
		return 0
	}
	return st.Size()
}

// LogSince returns the log written after byte offset off.
func (p *Process) LogSince(off int64) string {
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

// Log is everything the process wrote, over all its runs.
func (p *Process) Log() string { return p.LogSince(0) }

// Tail returns the last n lines of the log.
func (p *Process) Tail(n int) string {
	return tailLines(p.Log(), n)
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

// ErrAddrInUse marks a start that failed because another process took a port
// between FreePort and the service's bind: the caller retries on new ports.
var ErrAddrInUse = errors.New("address already in use")

// WaitReady waits until ready returns nil while the process stays alive. A process
// that exits during startup ends the wait at once, with its log tail.
func (p *Process) WaitReady(timeout time.Duration, logOffset int64, ready func() error) error {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		if alive, werr := p.Running(); !alive {
			// Reported here with its log; not again as a crash at cleanup.
			p.forgetLastCrash()
			since := p.LogSince(logOffset)
			p.markLogShown()
			err := fmt.Errorf("%s exited during startup (%v); log:\n%s", p.name, werr, tailLines(since, logTailLines))
			if strings.Contains(strings.ToLower(since), "address already in use") {
				err = fmt.Errorf("%w: %w", ErrAddrInUse, err)
			}
			return err
		}
		if lastErr = ready(); lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			p.Kill()
			p.markLogShown()
			return fmt.Errorf("%s not ready after %v: %v; log:\n%s", p.name, timeout, lastErr, p.Tail(logTailLines))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RegisterCleanup kills the process at the end of the test, reports a process that
// died on its own (a crashed service must not pass unnoticed), and shows the log
// tail when the test failed. t.TempDir must have been called before, so that this
// cleanup runs first (cleanups are LIFO) and the directory is removed only after
// the process is gone.
func (p *Process) RegisterCleanup(t testing.TB) {
	t.Cleanup(func() {
		crashes := p.takeCrashes()
		p.Kill()
		if len(crashes) > 0 {
			t.Errorf("testenv: %s exited unexpectedly during the test: %s", p.name, strings.Join(crashes, "; "))
		}
		// Skip the tail when a start-up failure has just quoted the same lines.
		if t.Failed() && p.LogSize() != p.shownLogSize() {
			t.Logf("testenv: %s log %s (last %d lines):\n%s", p.name, p.logPath, logTailLines, p.Tail(logTailLines))
		}
	})
}
