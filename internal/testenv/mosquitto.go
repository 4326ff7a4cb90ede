package testenv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Broker is a Mosquitto 2 broker started by StartMosquitto, listening on 127.0.0.1
// only.
type Broker struct {
	URL  string // tcp://127.0.0.1:PORT
	Port int
	// Set by WithTLS: a second listener with TLS, and the PEM files a client needs.
	TLSURL   string // ssl://127.0.0.1:PORT
	TLSPort  int
	CAFile   string // the test CA that signed the server and client certificates
	CertFile string // client certificate (CN facmon-test-client)
	KeyFile  string // client key
	// Set by WithPassword (the first user given).
	Username, Password string

	Dir        string // the broker's private directory: config, log, persistence, password file, certificates
	ConfigFile string
	LogFile    string
	DBFile     string // persistence file, set by WithPersistence

	t   testing.TB
	p   *Process
	pki *testPKI
}

// Pid is mosquitto's process id (0 when stopped), for benchmarks that
// account for its CPU.
func (b *Broker) Pid() int { return b.p.Pid() }

// BrokerOption configures StartMosquitto.
type BrokerOption func(*brokerConfig)

type brokerConfig struct {
	persistence bool
	users       [][2]string
	tls         bool
	requireCert bool
	extra       []string
}

// WithPersistence turns on Mosquitto's persistence in the broker's directory, so
// that retained messages, persistent sessions and their queued messages survive
// Stop/Start (SIGTERM always writes the database).
//
// The database is also saved every second (autosave_interval 1 with
// autosave_on_changes false, i.e. time based), so a Kill loses at most about the
// last second — the same trade-off as a production broker, only with a shorter
// interval. autosave_on_changes true with interval 1 would rewrite the whole
// database on every retained or queued message, quadratic under load tests.
func WithPersistence() BrokerOption {
	return func(c *brokerConfig) { c.persistence = true }
}

// WithPassword adds a user to the broker's password file (mosquitto_passwd -b) and
// turns anonymous access off. It may be given several times for several users.
func WithPassword(user, pass string) BrokerOption {
	return func(c *brokerConfig) { c.users = append(c.users, [2]string{user, pass}) }
}

// WithTLS generates a test CA, a server certificate for 127.0.0.1/::1/localhost and a
// client certificate, and adds a second listener with TLS on another free port
// (Broker.TLSURL). Client certificates are verified when presented but not
// required; see WithTLSClientCert.
func WithTLS() BrokerOption {
	return func(c *brokerConfig) { c.tls = true }
}

// WithTLSClientCert is WithTLS with require_certificate true: the TLS listener
// refuses clients without a certificate signed by the test CA.
func WithTLSClientCert() BrokerOption {
	return func(c *brokerConfig) { c.tls, c.requireCert = true, true }
}

// WithConfig appends lines to the generated mosquitto.conf. They come after the
// listeners, so listener options (mount_point, …) apply to the last listener
// (the TLS one with WithTLS); global options apply to all.
func WithConfig(extra string) BrokerOption {
	return func(c *brokerConfig) { c.extra = append(c.extra, extra) }
}

// StartMosquitto starts a Mosquitto broker on a free loopback port and returns once
// it accepts connections. It is killed when the test ends.
func StartMosquitto(t testing.TB, opts ...BrokerOption) *Broker {
	t.Helper()
	var cfg brokerConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin := RequireBinary(t, "mosquitto", "mosquitto", nil)
	var passwdBin string
	if len(cfg.users) > 0 {
		passwdBin = RequireBinary(t, "mosquitto_passwd", "mosquitto", nil)
	}

	dir := t.TempDir()
	b := &Broker{
		t:          t,
		Dir:        dir,
		ConfigFile: filepath.Join(dir, "mosquitto.conf"),
		LogFile:    filepath.Join(dir, "mosquitto.log"),
	}
	if cfg.persistence {
		b.DBFile = filepath.Join(dir, "mosquitto.db")
	}
	if len(cfg.users) > 0 {
		b.Username, b.Password = cfg.users[0][0], cfg.users[0][1]
		pwFile := filepath.Join(dir, "passwd")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i, u := range cfg.users {
			args := []string{"-b", pwFile, u[0], u[1]}
			if i == 0 {
				args = append([]string{"-c"}, args...) // -c creates (overwrites) the file
			}
			if err := runTool(ctx, passwdBin, args...); err != nil {
				t.Fatalf("testenv: writing the mosquitto password file: %v", err)
			}
		}
	}
	if cfg.tls {
		pki, err := newTestPKI(filepath.Join(dir, "tls"))
		if err != nil {
			t.Fatalf("testenv: generating TLS certificates: %v", err)
		}
		b.pki = pki
		b.CAFile, b.CertFile, b.KeyFile = pki.CAFile, pki.ClientCertFile, pki.ClientKeyFile
	}

	b.p = &Process{name: "mosquitto", bin: bin, args: []string{"-c", b.ConfigFile}, dir: dir, logPath: b.LogFile}
	b.p.RegisterCleanup(t)

	// Another process can take a port between FreePort and mosquitto's bind: retry
	// on fresh ports a few times before giving up.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		b.Port = FreePort(t)
		b.URL = "tcp://" + HostPort(b.Port)
		if cfg.tls {
			b.TLSPort = FreePort(t)
			b.TLSURL = "ssl://" + HostPort(b.TLSPort)
		}
		if err = os.WriteFile(b.ConfigFile, []byte(b.config(&cfg)), 0o600); err != nil {
			t.Fatalf("testenv: %v", err)
		}
		if err = b.launch(); err == nil || !errors.Is(err, ErrAddrInUse) {
			break
		}
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return b
}

// HostPort is the loopback address of port.
func HostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// config renders mosquitto.conf; see mosquitto.conf(5).
func (b *Broker) config(c *brokerConfig) string {
	var s strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&s, format+"\n", a...) }
	w("# generated by facmon internal/testenv")
	// Authentication settings are global: the same for the plain and the TLS listener.
	w("per_listener_settings false")
	// Run as root, mosquitto switches to the "mosquitto" user (or nobody), which
	// cannot write to the test's private temp dir. Stay the current user.
	if os.Geteuid() == 0 {
		if u, err := user.Current(); err == nil {
			w("user %s", u.Username)
		}
	}
	if len(c.users) > 0 {
		w("allow_anonymous false")
		w("password_file %s", filepath.Join(b.Dir, "passwd"))
	} else {
		w("allow_anonymous true")
	}
	// The default of 20 unacked QoS 1 messages per client throttles a collector that
	// acks only after its spool commit (see PITFALLS.md); the queue is raised so load
	// tests measure facmon, not the broker dropping messages.
	w("max_inflight_messages 1000")
	w("max_queued_messages 1000000")
	if c.persistence {
		w("persistence true")
		// The trailing slash matters: older mosquitto versions concatenate the
		// location and the file name.
		w("persistence_location %s/", b.Dir)
		w("persistence_file mosquitto.db")
		w("autosave_interval 1")
		w("autosave_on_changes false")
	} else {
		w("persistence false")
	}
	w("log_dest file %s", b.LogFile)
	w("log_type error")
	w("log_type warning")
	w("log_type notice")
	w("log_type information")
	w("connection_messages true")
	w("log_timestamp true")
	w("log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S")
	w("")
	w("listener %d 127.0.0.1", b.Port)
	if c.tls {
		w("")
		w("listener %d 127.0.0.1", b.TLSPort)
		w("cafile %s", b.pki.CAFile)
		w("certfile %s", b.pki.ServerCertFile)
		w("keyfile %s", b.pki.ServerKeyFile)
		w("require_certificate %t", c.requireCert)
	}
	if len(c.extra) > 0 {
		w("")
		w("# WithConfig")
		for _, e := range c.extra {
			w("%s", strings.TrimRight(e, "\n"))
		}
	}
	return s.String()
}

var mosquittoRunning = regexp.MustCompile(`mosquitto version \S+ running`)

// launch starts the process and waits until it has opened every listener: its log
// says "running" (printed after all listeners are bound, so a port squatted by
// another process cannot pass for the broker) and the ports accept connections.
func (b *Broker) launch() error {
	off := b.p.LogSize()
	if err := b.p.Start(); err != nil {
		return err
	}
	return b.p.WaitReady(15*time.Second, off, func() error {
		if !mosquittoRunning.MatchString(b.p.LogSince(off)) {
			return errors.New(`no "mosquitto version ... running" in the log yet`)
		}
		if err := dialOK(HostPort(b.Port)); err != nil {
			return err
		}
		if b.TLSPort != 0 {
			return dialOK(HostPort(b.TLSPort))
		}
		return nil
	})
}

// Addr is the plain listener's host:port.
func (b *Broker) Addr() string { return HostPort(b.Port) }

// Stop sends SIGTERM and waits for the broker to exit; with WithPersistence, the
// database has been written when Stop returns. A broker that needs more than 30 s
// is killed and the test marked failed.
func (b *Broker) Stop() {
	b.t.Helper()
	if b.p.Stop(30 * time.Second) {
		b.t.Errorf("testenv: mosquitto did not exit within 30s of SIGTERM and was killed")
	}
}

// Kill sends SIGKILL (no persistence save) and waits until the process is gone.
func (b *Broker) Kill() { b.p.Kill() }

// Start restarts a stopped or killed broker on the same ports, with the same
// configuration and data directory. The test fails if it cannot.
func (b *Broker) Start() {
	b.t.Helper()
	if err := b.launch(); err != nil {
		b.t.Fatalf("testenv: restarting mosquitto on port %d: %v", b.Port, err)
	}
}

// Running reports whether the broker process is alive.
func (b *Broker) Running() bool {
	alive, _ := b.p.Running()
	return alive
}

// Log returns the broker's whole log (all runs).
func (b *Broker) Log() string { return b.p.Log() }

// ClientTLSConfig returns a tls.Config for Go clients (paho) of the TLS listener:
// it trusts the test CA only and presents the client certificate.
func (b *Broker) ClientTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	if b.pki == nil {
		t.Fatalf("testenv: ClientTLSConfig: broker was started without WithTLS")
	}
	c, err := b.pki.clientTLSConfig()
	if err != nil {
		t.Fatalf("testenv: ClientTLSConfig: %v", err)
	}
	return c
}
