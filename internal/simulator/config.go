package simulator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/fleet"
)

// Client modes.
const (
	// ModePerDevice gives every device its own MQTT connection and last will, as real
	// devices have; a dropped connection then shows up at the broker exactly as in the field.
	ModePerDevice = "per-device"
	// ModeGateway opens one connection per ward that publishes for all its devices, for
	// fleets too large for one connection each. There is no per-device last will, so
	// statuses are published explicitly; if the process dies without its graceful end,
	// the devices' retained status stays "online".
	ModeGateway = "gateway"
)

// maxDevicesPerClass bounds a ward's devices of one class; beyond this it is a typo, not a fleet.
const maxDevicesPerClass = 999

// Config configures a simulated fleet. Start from DefaultConfig and change what you need.
// New and NewModel take BrokerURL, TopicPrefix, Wards (if nil), Devices (if nil),
// Interval, Location, Now, ClientMode and QoS from DefaultConfig when they are zero;
// Seed, Duration, Faults and the credentials are used as given.
type Config struct {
	BrokerURL          string // tcp://, mqtt://, ssl://, tls://, mqtts://, tcps://, ws://, wss://
	Username, Password string
	TLS                *tls.Config // for ssl/tls/mqtts/tcps/wss; nil means system roots

	TopicPrefix string         // first topic level, "facmon"
	Wards       []fleet.Ward   // the offices simulated, in order
	Devices     map[string]int // devices per class in every ward; a class not in the map has none

	Interval time.Duration // between two telemetry messages of one device
	Duration time.Duration // how long Run publishes; 0 = until its context ends
	Faults   []Fault

	Location *time.Location // office hours are local time of this zone
	Seed     int64
	// Now is read once, when Run starts (or by NewModel's caller); the simulated clock then
	// advances with the monotonic clock, so a fixed Now gives a reproducible run.
	Now func() time.Time

	ClientMode string // ModePerDevice or ModeGateway
	// QoS of telemetry. Status messages and last wills always use QoS 1. 0 in a Config
	// passed to New means the default, 1: at-least-once is what facmon promises end to end.
	QoS byte
}

// DefaultConfig is the single source of the simulator's defaults.
func DefaultConfig() Config {
	return Config{
		BrokerURL:   "tcp://127.0.0.1:1883",
		TopicPrefix: "facmon",
		Wards:       fleet.DefaultWards(),
		Devices:     fleet.DefaultDevices(),
		Interval:    10 * time.Second,
		Location:    fleet.Vietnam(),
		Seed:        1,
		Now:         time.Now,
		ClientMode:  ModePerDevice,
		QoS:         1,
	}
}

// WithDefaults fills the fields whose zero value cannot be meant literally.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.BrokerURL == "" {
		c.BrokerURL = d.BrokerURL
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = d.TopicPrefix
	}
	if c.Wards == nil {
		c.Wards = d.Wards
	}
	if c.Devices == nil {
		c.Devices = d.Devices
	}
	if c.Interval == 0 {
		c.Interval = d.Interval
	}
	if c.Location == nil {
		c.Location = d.Location
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.ClientMode == "" {
		c.ClientMode = d.ClientMode
	}
	if c.QoS == 0 {
		c.QoS = d.QoS
	}
	// Callers keep their slices and maps; the simulator must not see later changes.
	c.Wards = slices.Clone(c.Wards)
	devs := make(map[string]int, len(c.Devices))
	for k, v := range c.Devices {
		devs[k] = v
	}
	c.Devices = devs
	c.Faults = slices.Clone(c.Faults)
	return c
}

// validateModel checks everything the device model depends on.
func (c Config) validateModel() error {
	var errs []error
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, "+#") ||
		strings.HasPrefix(c.TopicPrefix, "/") || strings.HasSuffix(c.TopicPrefix, "/") {
		errs = append(errs, fmt.Errorf("topic prefix %q: must be non-empty, without wildcards or leading/trailing '/'", c.TopicPrefix))
	}
	errs = append(errs, fleet.ValidateWards(c.Wards)...)
	total := 0
	for class, n := range c.Devices {
		switch {
		case !slices.Contains(fleet.Classes(), class):
			errs = append(errs, fmt.Errorf("devices: unknown class %q (known: %s)", class, strings.Join(fleet.Classes(), ", ")))
		case n < 0 || n > maxDevicesPerClass:
			errs = append(errs, fmt.Errorf("devices: %s=%d out of range 0..%d", class, n, maxDevicesPerClass))
		}
		total += n
	}
	if total == 0 {
		errs = append(errs, errors.New("devices: every class is 0, nothing to simulate"))
	}
	if c.Interval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("interval %v: must be at least 100ms", c.Interval))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration %v: must not be negative", c.Duration))
	}
	if c.QoS > 2 {
		errs = append(errs, fmt.Errorf("qos %d: must be 0, 1 or 2", c.QoS))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, f := range c.Faults {
		if err := f.Check(c); err != nil {
			errs = append(errs, fmt.Errorf("fault %d (%s): %w", i+1, f, err))
		}
	}
	return errors.Join(errs...)
}

// ValidateTransport checks what only Run needs and returns the broker URL with its
// default port filled in, because paho dials uri.Host verbatim.
func (c Config) ValidateTransport() (*url.URL, error) {
	var errs []error
	u, err := url.Parse(c.BrokerURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("broker url %q: want scheme://host[:port], e.g. tcp://127.0.0.1:1883", c.BrokerURL)
	}
	ports := map[string]string{
		"tcp": "1883", "mqtt": "1883",
		"ssl": "8883", "tls": "8883", "mqtts": "8883", "tcps": "8883", "mqtt+ssl": "8883",
		"ws": "80", "wss": "443",
	}
	port, ok := ports[u.Scheme]
	if !ok {
		errs = append(errs, fmt.Errorf("broker url %q: unsupported scheme %q (tcp, mqtt, ssl, tls, mqtts, tcps, ws, wss)", c.BrokerURL, u.Scheme))
	} else if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	if c.ClientMode != ModePerDevice && c.ClientMode != ModeGateway {
		errs = append(errs, fmt.Errorf("client mode %q: must be %q or %q", c.ClientMode, ModePerDevice, ModeGateway))
	}
	return u, errors.Join(errs...)
}

// ParseDevices parses "door=2,hvac=3,server=1,camera=4". The string describes a whole
// office: a class it does not mention gets no devices.
func ParseDevices(s string) (map[string]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("devices: empty, want e.g. door=2,hvac=3,server=1,camera=4")
	}
	out := map[string]int{}
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		class, num, ok := strings.Cut(part, "=")
		class, num = strings.TrimSpace(class), strings.TrimSpace(num)
		if !ok || class == "" {
			return nil, fmt.Errorf("devices: %q: want class=count", part)
		}
		if !slices.Contains(fleet.Classes(), class) {
			return nil, fmt.Errorf("devices: %q: unknown class %q (known: %s)", part, class, strings.Join(fleet.Classes(), ", "))
		}
		if _, dup := out[class]; dup {
			return nil, fmt.Errorf("devices: %q: class %s given twice", part, class)
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("devices: %q: count %q is not a whole number", part, num)
		}
		if n < 0 || n > maxDevicesPerClass {
			return nil, fmt.Errorf("devices: %q: count %d out of range 0..%d", part, n, maxDevicesPerClass)
		}
		out[class] = n
		total += n
	}
	if total == 0 {
		return nil, fmt.Errorf("devices: %q: every count is 0, nothing to simulate", s)
	}
	return out, nil
}
