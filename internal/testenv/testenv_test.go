package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mqttClient runs mosquitto_pub or mosquitto_sub against host 127.0.0.1 and returns
// stdout, and an error holding stderr when the tool fails.
func mqttClient(t *testing.T, tool string, port int, args ...string) (string, error) {
	t.Helper()
	bin := RequireBinary(t, tool, "mosquitto", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %v: %v: %s", tool, args, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

func mustPub(t *testing.T, port int, args ...string) {
	t.Helper()
	if _, err := mqttClient(t, "mosquitto_pub", port, args...); err != nil {
		t.Fatal(err)
	}
}

// retained reads the retained message of topic (-W: give up after a few seconds
// when there is none; exit status 27 then).
func retained(t *testing.T, port int, topic string, extra ...string) (string, error) {
	t.Helper()
	out, err := mqttClient(t, "mosquitto_sub", port, append([]string{"-t", topic, "-C", "1", "-W", "3"}, extra...)...)
	return strings.TrimSpace(out), err
}

func mustRetained(t *testing.T, port int, topic, want string, extra ...string) {
	t.Helper()
	got, err := retained(t, port, topic, extra...)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("retained message on %s = %q, want %q", topic, got, want)
	}
}

func TestFreePortDistinct(t *testing.T) {
	t.Parallel()
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("FreePort returned %d twice", p)
		}
		seen[p] = true
		if p <= 0 || p > 65535 {
			t.Fatalf("FreePort returned %d", p)
		}
	}
}

func TestMosquittoPublishSubscribeRetained(t *testing.T) {
	t.Parallel()
	b := StartMosquitto(t)
	if want := "tcp://127.0.0.1:" + strconv.Itoa(b.Port); b.URL != want {
		t.Fatalf("URL = %q, want %q", b.URL, want)
	}
	const topic = "facmon/thanh-binh/door/d1/status"
	mustPub(t, b.Port, "-t", topic, "-m", "online", "-r", "-q", "1")
	mustRetained(t, b.Port, topic, "online")

	conf, err := os.ReadFile(b.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"per_listener_settings false", "allow_anonymous true", "persistence false",
		"max_inflight_messages 1000", "max_queued_messages 1000000", "listener " + strconv.Itoa(b.Port) + " 127.0.0.1"} {
		if !strings.Contains(string(conf), line+"\n") {
			t.Errorf("config lacks %q:\n%s", line, conf)
		}
	}
	if !strings.Contains(b.Log(), "running") {
		t.Errorf("log does not show the broker running:\n%s", b.Log())
	}
}

func TestMosquittoWithoutPersistenceForgets(t *testing.T) {
	t.Parallel()
	b := StartMosquitto(t)
	mustPub(t, b.Port, "-t", "facmon/x", "-m", "gone", "-r")
	mustRetained(t, b.Port, "facmon/x", "gone")
	b.Stop()
	b.Start()
	// -W 1: nothing is expected, so do not wait long for it (exit status 27).
	if got, err := mqttClient(t, "mosquitto_sub", b.Port, "-t", "facmon/x", "-C", "1", "-W", "1"); err == nil || got != "" {
		t.Fatalf("without persistence, the retained message survived a restart: %q, %v", got, err)
	}
}

func TestMosquittoPassword(t *testing.T) {
	t.Parallel()
	b := StartMosquitto(t, WithPassword("ward-gw", "s3cret"), WithPassword("collector", "other"))
	if b.Username != "ward-gw" || b.Password != "s3cret" {
		t.Fatalf("Username/Password = %q/%q", b.Username, b.Password)
	}
	for name, creds := range map[string][]string{
		"anonymous":      nil,
		"wrong password": {"-u", "ward-gw", "-P", "nope"},
		"unknown user":   {"-u", "nobody", "-P", "s3cret"},
	} {
		_, err := mqttClient(t, "mosquitto_pub", b.Port, append(creds, "-t", "facmon/x", "-m", "x")...)
		if err == nil || !strings.Contains(err.Error(), "not authorised") {
			t.Errorf("%s: want a 'not authorised' refusal, got %v", name, err)
		}
	}
	mustPub(t, b.Port, "-u", "ward-gw", "-P", "s3cret", "-t", "facmon/x", "-m", "ok", "-r")
	mustRetained(t, b.Port, "facmon/x", "ok", "-u", "collector", "-P", "other")
}

func TestMosquittoTLS(t *testing.T) {
	t.Parallel()
	b := StartMosquitto(t, WithTLS())
	if b.TLSPort == 0 || b.TLSURL != "ssl://127.0.0.1:"+strconv.Itoa(b.TLSPort) || b.TLSPort == b.Port {
		t.Fatalf("TLSURL %q, TLSPort %d, Port %d", b.TLSURL, b.TLSPort, b.Port)
	}
	// The server certificate must verify for the address clients dial.
	mustPub(t, b.TLSPort, "--cafile", b.CAFile, "-t", "facmon/tls", "-m", "secret", "-r", "-q", "1")
	// Readable over TLS with the client certificate, and over the plain listener:
	// one broker, two listeners.
	mustRetained(t, b.TLSPort, "facmon/tls", "secret", "--cafile", b.CAFile, "--cert", b.CertFile, "--key", b.KeyFile)
	mustRetained(t, b.Port, "facmon/tls", "secret")

	// Go clients (paho) use ClientTLSConfig.
	conn, err := tls.Dial("tcp", HostPort(b.TLSPort), b.ClientTLSConfig(t))
	if err != nil {
		t.Fatalf("Go TLS handshake: %v", err)
	}
	conn.Close()
	// A client that does not trust the test CA is refused by its own verification.
	_, err = tls.Dial("tcp", HostPort(b.TLSPort), &tls.Config{RootCAs: x509.NewCertPool()})
	if err == nil {
		t.Fatal("TLS handshake succeeded without trusting the test CA")
	}
}

func TestMosquittoTLSClientCertRequired(t *testing.T) {
	t.Parallel()
	b := StartMosquitto(t, WithTLSClientCert())
	if _, err := mqttClient(t, "mosquitto_pub", b.TLSPort, "--cafile", b.CAFile, "-t", "facmon/x", "-m", "x"); err == nil {
		t.Fatal("publish without a client certificate succeeded on a require_certificate listener")
	}
	mustPub(t, b.TLSPort, "--cafile", b.CAFile, "--cert", b.CertFile, "--key", b.KeyFile, "-t", "facmon/x", "-m", "mtls", "-r")
	mustRetained(t, b.Port, "facmon/x", "mtls")
}

func TestMosquittoPersistenceStopStart(t *testing.T) {
	t.Parallel()
	b := StartMosquitto(t, WithPersistence())
	port, url := b.Port, b.URL
	mustPub(t, b.Port, "-t", "facmon/hai-chau-1/hvac/ac1/status", "-m", "offline", "-r", "-q", "1")
	b.Stop()
	if b.Running() {
		t.Fatal("broker still running after Stop")
	}
	if _, err := os.Stat(b.DBFile); err != nil {
		t.Fatalf("no persistence file after Stop: %v", err)
	}
	if err := dialOK(b.Addr()); err == nil {
		t.Fatal("port still accepts connections after Stop")
	}
	b.Start()
	if b.Port != port || b.URL != url {
		t.Fatalf("restarted on %s, want %s", b.URL, url)
	}
	mustRetained(t, b.Port, "facmon/hai-chau-1/hvac/ac1/status", "offline")
}

func TestMosquittoKillKeepsAutosaved(t *testing.T) {
	t.Parallel()
	b := StartMosquitto(t, WithPersistence())
	const payload = "autosaved-before-kill"
	mustPub(t, b.Port, "-t", "facmon/k", "-m", payload, "-r", "-q", "1")
	// autosave_interval 1: the retained payload reaches the database file within
	// about a second, without a clean shutdown.
	Eventually(t, 10*time.Second, "retained payload in "+b.DBFile, func() (bool, string) {
		db, err := os.ReadFile(b.DBFile)
		if err != nil {
			return false, err.Error()
		}
		return bytes.Contains(db, []byte(payload)), fmt.Sprintf("%d bytes, payload absent", len(db))
	})
	b.Kill()
	if b.Running() {
		t.Fatal("broker still running after Kill")
	}
	if err := dialOK(b.Addr()); err == nil {
		t.Fatal("port still accepts connections after Kill")
	}
	b.Start()
	mustRetained(t, b.Port, "facmon/k", payload)
}

// fakeTB records Fatalf and Errorf instead of failing the test, to test the
// harness's failure paths. Its Fatalf returns: the harness must not go on after it.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed []string
	errors []string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = append(f.failed, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Errorf(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}

func TestMosquittoStartupFailureShowsLog(t *testing.T) {
	t.Parallel()
	f := &fakeTB{TB: t}
	StartMosquitto(f, WithConfig("no_such_option 1"))
	if len(f.failed) != 1 || !strings.Contains(f.failed[0], "exited during startup") || !strings.Contains(f.failed[0], "no_such_option") {
		t.Fatalf("want one failure quoting mosquitto's complaint, got %q", f.failed)
	}
}

func TestCrashIsReported(t *testing.T) {
	t.Parallel()
	f := &fakeTB{}
	t.Run("broker", func(t *testing.T) {
		f.TB = t
		b := StartMosquitto(f)
		// Somebody else kills the broker: the test must not pass as if nothing happened.
		if err := syscall.Kill(b.p.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		Eventually(t, 5*time.Second, "broker gone", func() (bool, string) { return !b.Running(), "still running" })
	})
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "mosquitto exited unexpectedly") {
		t.Fatalf("want the crash reported at cleanup, got %q", f.errors)
	}
}

func TestEventually(t *testing.T) {
	t.Parallel()
	n := 0
	Eventually(t, 5*time.Second, "third call", func() (bool, string) {
		n++
		return n >= 3, strconv.Itoa(n)
	})
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}

	f := &fakeTB{TB: t}
	start := time.Now()
	Eventually(f, 300*time.Millisecond, "door d1 closes", func() (bool, string) { return false, "state=open" })
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", time.Since(start))
	}
	if len(f.failed) != 1 || !strings.Contains(f.failed[0], "door d1 closes") || !strings.Contains(f.failed[0], "state=open") {
		t.Fatalf("failure message %q should name what and the last detail", f.failed)
	}
}

func TestMissingBinaryMessage(t *testing.T) {
	f := &fakeTB{TB: t}
	RequireBinary(f, "facmon-no-such-binary", "mosquitto", nil)
	if len(f.failed) != 1 || !strings.Contains(f.failed[0], "not installed: run scripts/deps.sh mosquitto") {
		t.Fatalf("got %q", f.failed)
	}
}
