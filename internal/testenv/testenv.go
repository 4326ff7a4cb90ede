// Package testenv starts the real services facmon's integration tests run against —
// Mosquitto here, InfluxDB 1.8.3 in testenv/influxdb and Alertmanager in
// testenv/alertmanager — on free loopback ports, each in its own temporary
// directory, and tears them down when the test ends. Process is the one harness
// that starts, watches, stops and kills them, and facmon itself where a test runs
// the binary.
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
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

// FindBinary returns the candidates for name, PATH first, then the Go bin
// directories, keeping only executables for which accept (if non-nil) says yes.
func FindBinary(name string, accept func(path string) bool) (string, bool) {
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

// RequireBinary finds name or fails the test with the command that installs it.
func RequireBinary(t testing.TB, name, component string, accept func(string) bool) string {
	t.Helper()
	p, ok := FindBinary(name, accept)
	if !ok {
		t.Fatalf("testenv: %s not installed: run scripts/deps.sh %s", name, component)
	}
	return p
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
