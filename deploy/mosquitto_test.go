package deploy

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/service/servicecheck"
	"github.com/facmon/facmon/internal/testenv"
)

// shippedBroker is Debian's Mosquitto started with deploy/mosquitto as
// shipped, only its paths moved into a temp dir and its port made free:
// certificates from openssl, passwords from mosquitto_passwd.
type shippedBroker struct {
	url    string
	caFile string
	roots  *x509.CertPool
}

func startShippedMosquitto(t *testing.T, users map[string]string) shippedBroker {
	t.Helper()
	bin := testenv.RequireBinary(t, "mosquitto", "mosquitto", nil)
	passwd := testenv.RequireBinary(t, "mosquitto_passwd", "mosquitto", nil)
	openssl := testenv.RequireBinary(t, "openssl", "deploy-tools", nil)
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	require.NoError(t, os.MkdirAll(certs, 0o700))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "data"), 0o700))
	run := func(name string, args ...string) {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
	}
	in := func(f string) string { return filepath.Join(certs, f) }
	run(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=facmon test CA",
		"-keyout", in("ca-key.pem"), "-out", in("ca.pem"))
	run(openssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
		"-keyout", in("server-key.pem"), "-out", in("server.csr"))
	require.NoError(t, os.WriteFile(in("san.ext"), []byte("subjectAltName=IP:127.0.0.1,DNS:localhost\n"), 0o600))
	run(openssl, "x509", "-req", "-days", "2", "-in", in("server.csr"), "-CA", in("ca.pem"), "-CAkey", in("ca-key.pem"),
		"-CAcreateserial", "-extfile", in("san.ext"), "-out", in("server.pem"))
	first := true
	for u, p := range users {
		args := []string{"-b", filepath.Join(dir, "passwd"), u, p}
		if first {
			args = append([]string{"-c"}, args...)
			first = false
		}
		run(passwd, args...)
	}
	acl, err := os.ReadFile(filepath.Join("mosquitto", "acl"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "acl"), acl, 0o600))

	conf, err := os.ReadFile(filepath.Join("mosquitto", "mosquitto.conf"))
	require.NoError(t, err)
	port := testenv.FreePort(t)
	c := string(conf)
	require.Contains(t, c, "listener 8883\n")
	c = strings.ReplaceAll(c, "/etc/mosquitto/", dir+"/")
	c = strings.ReplaceAll(c, "/var/lib/mosquitto/", dir+"/data/")
	c = strings.Replace(c, "listener 8883\n", fmt.Sprintf("listener %d 127.0.0.1\n", port), 1)
	c += "\nlog_dest stdout\nlog_type all\n"
	if os.Geteuid() == 0 {
		// As root Mosquitto drops to the mosquitto user, which cannot read
		// the test's private dir.
		if u, err := user.Current(); err == nil {
			c += "user " + u.Username + "\n"
		}
	}
	confPath := filepath.Join(dir, "mosquitto.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(c), 0o600))
	p := testenv.NewProcess("mosquitto", bin, []string{"-c", confPath}, dir, filepath.Join(dir, "mosquitto.log"))
	p.RegisterCleanup(t)
	require.NoError(t, p.Start())
	require.NoError(t, p.WaitReady(10*time.Second, 0, func() error {
		conn, err := net.DialTimeout("tcp", testenv.HostPort(port), time.Second)
		if err == nil {
			conn.Close()
		}
		return err
	}))
	caPEM, err := os.ReadFile(in("ca.pem"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	return shippedBroker{url: fmt.Sprintf("ssl://127.0.0.1:%d", port), caFile: in("ca.pem"), roots: roots}
}

type received struct {
	mu   sync.Mutex
	msgs map[string][]string // topic -> payloads
}

func (r *received) handler(_ paho.Client, m paho.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs[m.Topic()] = append(r.msgs[m.Topic()], string(m.Payload()))
}

func (r *received) has(topic, payload string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.msgs[topic] {
		if p == payload {
			return true
		}
	}
	return false
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ps := range r.msgs {
		n += len(ps)
	}
	return n
}

func (b shippedBroker) connect(t *testing.T, user, pass string, tlsOn bool) (paho.Client, error) {
	t.Helper()
	url := b.url
	if !tlsOn {
		url = strings.Replace(url, "ssl://", "tcp://", 1)
	}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("%s-%d", user, time.Now().UnixNano())).
		SetConnectTimeout(5 * time.Second).SetAutoReconnect(false).
		SetTLSConfig(&tls.Config{RootCAs: b.roots, MinVersion: tls.VersionTLS12})
	if user != "" {
		o.SetUsername(user).SetPassword(pass)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect timed out")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func subscribe(t *testing.T, c paho.Client, filter string) (*received, byte) {
	t.Helper()
	r := &received{msgs: map[string][]string{}}
	tok := c.Subscribe(filter, 1, r.handler)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	return r, tok.(*paho.SubscribeToken).Result()[filter]
}

func publish(t *testing.T, c paho.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
}

// The shipped broker configuration, as an attacker on the offices'
// network would meet it: TLS and a password for everyone, a device can
// publish only as itself and read nothing, facmon reads every device
// (also through a shared subscription) and its group's membership but
// publishes no device topic, and anonymous or plain-text clients are
// refused.
func TestShippedMosquittoConfig(t *testing.T) {
	b := startShippedMosquitto(t, map[string]string{"facmon": "facmon-pw", "door-1": "door-1-pw", "door-2": "door-2-pw"})

	_, err := b.connect(t, "", "", true)
	assert.Error(t, err, "an anonymous client is refused")
	_, err = b.connect(t, "door-1", "wrong", true)
	assert.Error(t, err, "a wrong password is refused")
	_, err = b.connect(t, "door-1", "door-1-pw", false)
	assert.Error(t, err, "plain TCP is refused: the only listener speaks TLS")

	facmon, err := b.connect(t, "facmon", "facmon-pw", true)
	require.NoError(t, err)
	facmonSeen, code := subscribe(t, facmon, "facmon/#")
	require.NotEqual(t, byte(0x80), code)
	shared, code := subscribe(t, facmon, "$share/district/facmon/+/+/+/telemetry")
	require.NotEqual(t, byte(0x80), code, "the ACL lets facmon share the devices' topics over a group")
	cluster, _ := subscribe(t, facmon, "facmon-cluster/district/members/+")
	door1, err := b.connect(t, "door-1", "door-1-pw", true)
	require.NoError(t, err)
	door1Seen, _ := subscribe(t, door1, "facmon/#")
	door2, err := b.connect(t, "door-2", "door-2-pw", true)
	require.NoError(t, err)

	// Forbidden first, then the allowed message that proves the path
	// works: once it has arrived, the forbidden ones would have too.
	publish(t, door1, "facmon/thanh-binh/door/door-2/telemetry", `{"state":"open","spoofed":true}`)
	publish(t, facmon, "facmon/thanh-binh/door/door-1/telemetry", `{"state":"open","from":"facmon"}`)
	publish(t, door1, "facmon-cluster/district/members/facmon-a", `{"state":"offline"}`)
	publish(t, door2, "facmon/thanh-binh/door/door-2/telemetry", `{"state":"shut"}`)
	publish(t, door1, "facmon/thanh-binh/door/door-1/status", "online")
	testenv.Eventually(t, 10*time.Second, "the devices' own messages reach facmon", func() (bool, string) {
		return facmonSeen.has("facmon/thanh-binh/door/door-2/telemetry", `{"state":"shut"}`) &&
			facmonSeen.has("facmon/thanh-binh/door/door-1/status", "online") &&
			shared.has("facmon/thanh-binh/door/door-2/telemetry", `{"state":"shut"}`), fmt.Sprint(facmonSeen.msgs)
	})
	time.Sleep(300 * time.Millisecond)
	assert.False(t, facmonSeen.has("facmon/thanh-binh/door/door-2/telemetry", `{"state":"open","spoofed":true}`), "door-1 published as door-2")
	assert.False(t, facmonSeen.has("facmon/thanh-binh/door/door-1/telemetry", `{"state":"open","from":"facmon"}`), "facmon published a device topic")
	assert.Equal(t, 2, facmonSeen.count(), "facmon got exactly the two allowed messages: %v", facmonSeen.msgs)
	assert.Zero(t, door1Seen.count(), "a device reads no one's topics: %v", door1Seen.msgs)

	publish(t, facmon, "facmon-cluster/district/members/facmon-b", `{"instance":"facmon-b","state":"online"}`)
	testenv.Eventually(t, 10*time.Second, "facmon's membership announcements pass", func() (bool, string) {
		return cluster.has("facmon-cluster/district/members/facmon-b", `{"instance":"facmon-b","state":"online"}`), fmt.Sprint(cluster.msgs)
	})
	assert.False(t, cluster.has("facmon-cluster/district/members/facmon-a", `{"state":"offline"}`), "a device forged a member's status")
}

// facmon itself, as an instance of a shared group, over the shipped
// broker's TLS listener with its password: its three connections are let
// in, its shared subscription gets the devices' readings and its
// membership announcement passes the ACL, so it owns the wards.
func TestFacmonThroughTheShippedMosquitto(t *testing.T) {
	b := startShippedMosquitto(t, map[string]string{"facmon": "facmon-pw", "door-1": "door-1-pw"})
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "mqtt-password")
	require.NoError(t, os.WriteFile(pwFile, []byte("facmon-pw\n"), 0o600))
	cfgPath := filepath.Join(dir, "facmon.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(fmt.Sprintf(`mqtt:
  url: %s
  client_id: facmon-a
  shared_group: district
  username: facmon
  password_file: %s
  tls: {ca_file: %s}
  max_reconnect_interval: 1s
`, b.url, pwFile, b.caFile)), 0o600))
	port := testenv.FreePort(t)
	bin := buildFacmon(t)
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--influx-url", "http://127.0.0.1:1",
		"--listen", testenv.HostPort(port), "--spool-dir", filepath.Join(dir, "spool"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("facmon log:\n%s", logs.String())
		}
	})
	metric := func(name string) float64 {
		m, err := servicecheck.ScrapeMetrics("http://" + testenv.HostPort(port))
		if err != nil {
			return -1
		}
		return m[name]
	}
	testenv.Eventually(t, 20*time.Second, "facmon connected on its three connections and owning the wards", func() (bool, string) {
		ok := metric("facmon_mqtt_connected") == 1 && metric("facmon_mqtt_evaluation_connected") == 1 && metric("facmon_wards_owned") == 13
		return ok, fmt.Sprintf("connected %v, evaluation %v, wards owned %v", metric("facmon_mqtt_connected"), metric("facmon_mqtt_evaluation_connected"), metric("facmon_wards_owned"))
	})
	door, err := b.connect(t, "door-1", "door-1-pw", true)
	require.NoError(t, err)
	publish(t, door, "facmon/thanh-binh/door/door-1/telemetry", `{"state":"open"}`)
	testenv.Eventually(t, 10*time.Second, "the reading taken by the shared subscription and evaluated", func() (bool, string) {
		got, eval := metric(`facmon_readings_received_total{source="mqtt"}`), metric("facmon_mqtt_evaluation_messages_total")
		return got == 1 && eval >= 1, fmt.Sprintf("stored side %v, evaluation side %v", got, eval)
	})
}
