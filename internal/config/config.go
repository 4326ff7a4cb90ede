// Package config holds facmon's configuration: one YAML file, built-in
// defaults in one place, and command-line overrides applied on top.
package config

import (
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/duration"
	"github.com/facmon/facmon/internal/web"
	"github.com/facmon/facmon/reports"
)

// Config is the whole configuration file.
type Config struct {
	Log    Log    `yaml:"log"`
	MQTT   MQTT   `yaml:"mqtt"`
	Influx Influx `yaml:"influx"`
	Spool  Spool  `yaml:"spool"`
	Web    Web    `yaml:"web"`
	Ingest Ingest `yaml:"ingest"`
	// Scrape lists the service applications' /metrics endpoints.
	Scrape []ScrapeTarget `yaml:"scrape"`
	// Liveness gives the heartbeat after which a silent device is down.
	Liveness Liveness `yaml:"liveness"`
	// Maintenance lists planned windows: alerts are recorded but not
	// notified, and reports count the time as planned, not down.
	Maintenance []maintenance.Window `yaml:"maintenance"`
	// Alerts configures rules, their state and the notifiers.
	Alerts Alerts `yaml:"alerts"`
	// Reports sets the SLA targets of the uptime reports.
	Reports  reports.Config     `yaml:"reports"`
	Profiles map[string]Profile `yaml:"profiles"`
	// Calendars are named opening schedules (weekly hours and holidays)
	// that offices refer to; alert rules and reports use the same ones.
	Calendars map[string]calendar.Config `yaml:"calendars"`
	Offices   []Office                   `yaml:"offices"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json (production) or text
}

// MQTT configures the MQTT collector.
type MQTT struct {
	URL          string         `yaml:"url"`
	ClientID     string         `yaml:"client_id"`
	Username     string         `yaml:"username"`
	PasswordFile string         `yaml:"password_file"`
	TLS          clientauth.TLS `yaml:"tls"`
	KeepAlive    Duration       `yaml:"keepalive"`
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// MaxReconnectInterval caps the exponential reconnect backoff.
	MaxReconnectInterval Duration `yaml:"max_reconnect_interval"`
	// MaxInflight is how many unacknowledged messages facmon holds at
	// once. It should not exceed the broker's per-client inflight limit
	// (Mosquitto: max_inflight_messages) or acks will wait on each other.
	MaxInflight     int     `yaml:"max_inflight"`
	MaxPayloadBytes int     `yaml:"max_payload_bytes"`
	Topics          []Topic `yaml:"topics"`
	// SharedGroup makes this instance one of a group that shares the
	// district: the broker spreads the readings over the group for
	// storage ($share/<group>/...), every instance evaluates all of them,
	// and each ward's derived points are written by the instance that
	// owns it. Each instance needs its own client_id.
	SharedGroup string `yaml:"shared_group"`
}

// Topic maps one MQTT topic shape to tags and a payload kind.
type Topic struct {
	// Pattern is an MQTT topic with named segments, e.g.
	// "facmon/{ward}/{class}/{device}/telemetry". Named segments are
	// ward, class, device, site and room; "+" and a final "#" match
	// without capturing.
	Pattern string `yaml:"pattern"`
	// Kind is "telemetry" (a JSON object of fields) or "status" (online
	// or offline, the devices' retained status and last will; see Status).
	Kind string `yaml:"kind"`
	// Tags gives fixed tag values for what the topic does not carry,
	// e.g. the class of every Tasmota plug.
	Tags map[string]string `yaml:"tags"`
	// Fields maps payload paths (dot-separated for nested objects, as
	// Tasmota's "AM2301.Temperature") to profile field names. When set,
	// only mapped paths are read.
	Fields map[string]string `yaml:"fields"`
	// Status says how a status topic's payload reads as online or
	// offline. Left out, the whole payload is the value and the built-in
	// words apply (online/offline, up/down, 1/0, true/false, any case),
	// which fit Tasmota's LWT and Shelly's online topic as they are.
	Status StatusPayload `yaml:"status,omitempty"`
}

// StatusPayload reads a status payload that is not a bare word, e.g.
// Zigbee2MQTT's {"state":"online"}: {path: state, online: [online],
// offline: [offline]}.
type StatusPayload struct {
	// Path, when set, is where the value sits in a JSON object payload
	// (dot-separated for nested objects, as in fields). A string value is
	// compared as it is; a number or boolean by its JSON text (1, true).
	Path string `yaml:"path,omitempty"`
	// Online and Offline are the values meaning up and down, compared
	// without regard to case or surrounding space. Either left out keeps
	// its built-in words.
	Online  []string `yaml:"online,omitempty"`
	Offline []string `yaml:"offline,omitempty"`
}

// IsZero reports whether nothing was configured, so the plain defaults
// apply.
func (s StatusPayload) IsZero() bool {
	return s.Path == "" && len(s.Online) == 0 && len(s.Offline) == 0
}

// OnlineWords returns the configured online values or the built-in ones.
func (s StatusPayload) OnlineWords() []string {
	if len(s.Online) > 0 {
		return s.Online
	}
	return []string{"online", "up", "1", "true"}
}

// OfflineWords returns the configured offline values or the built-in ones.
func (s StatusPayload) OfflineWords() []string {
	if len(s.Offline) > 0 {
		return s.Offline
	}
	return []string{"offline", "down", "0", "false"}
}

// Influx configures where readings are stored.
type Influx struct {
	URL       string `yaml:"url"`
	Bucket    string `yaml:"bucket"` // "db/rp" or "db" on InfluxDB 1.8
	Org       string `yaml:"org"`
	TokenFile string `yaml:"token_file"`
	// ReadTokenFile holds the token facmon queries with (the liveness
	// seed, the uptime report), so the writing token can be write-only;
	// empty: TokenFile.
	ReadTokenFile string `yaml:"read_token_file"`
	// BatchSize is the most points sent in one write.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval is how long a partial batch may wait for more points.
	FlushInterval Duration `yaml:"flush_interval"`
	Timeout       Duration `yaml:"timeout"`
	// CreateDatabase creates the database (1.x) or bucket (2.x) at start-up
	// when it is missing and the credentials allow it.
	CreateDatabase bool `yaml:"create_database"`
	// MaxRetryInterval caps the backoff between retries of a failed write.
	MaxRetryInterval Duration `yaml:"max_retry_interval"`
}

// QueryTokenFile is the file of the token facmon queries with.
func (i Influx) QueryTokenFile() string {
	if i.ReadTokenFile != "" {
		return i.ReadTokenFile
	}
	return i.TokenFile
}

// Spool configures the local durable queue between MQTT acks and InfluxDB.
type Spool struct {
	Dir      string   `yaml:"dir"`
	MaxBytes ByteSize `yaml:"max_bytes"`
	// CommitInterval is the longest a reading waits for its group fsync.
	CommitInterval Duration `yaml:"commit_interval"`
	// ShutdownDrain is how long a stopping facmon keeps sending the spool
	// to InfluxDB before it exits; what is left is sent on the next start.
	ShutdownDrain Duration `yaml:"shutdown_drain"`
}

// Web configures the HTTP server and the limits that keep slow or idle
// clients from holding it.
type Web struct {
	Listen            string   `yaml:"listen"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	// ReportTimeout replaces WriteTimeout for the uptime report download.
	ReportTimeout  Duration `yaml:"report_timeout"`
	IdleTimeout    Duration `yaml:"idle_timeout"`
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	MaxBodyBytes   ByteSize `yaml:"max_body_bytes"`
}

// Limits are the web server's limits as configured.
func (w Web) Limits() web.Limits {
	return web.Limits{
		ReadHeaderTimeout: w.ReadHeaderTimeout.D(),
		ReadTimeout:       w.ReadTimeout.D(),
		WriteTimeout:      w.WriteTimeout.D(),
		LongWriteTimeout:  w.ReportTimeout.D(),
		IdleTimeout:       w.IdleTimeout.D(),
		MaxHeaderBytes:    int(w.MaxHeaderBytes),
		MaxBodyBytes:      int64(w.MaxBodyBytes),
	}
}

// Ingest bounds what is accepted from devices.
type Ingest struct {
	// MaxPast and MaxFuture bound a device-supplied timestamp around the
	// receive time; outside the window the reading is rejected.
	MaxPast   Duration `yaml:"max_past"`
	MaxFuture Duration `yaml:"max_future"`
	// MaxDevicesPerOffice and MaxDevices bound the distinct device ids
	// taken from offices with no inventory (any id is accepted there);
	// a new id beyond them is rejected as device_limit.
	MaxDevicesPerOffice int `yaml:"max_devices_per_office"`
	MaxDevices          int `yaml:"max_devices"`
}

// Profile types the fields of one device class.
type Profile struct {
	Fields map[string]string `yaml:"fields"` // field name -> float|int|bool|string
}

// Office is one ward (or commune) office. Offices are configuration, not
// code: an administrative unit renamed keeps its id, so its history stays
// queryable under it.
type Office struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Calendar names the office's entry in calendars (default "office").
	Calendar string `yaml:"calendar"`
	// Devices, when given, is the inventory: other device ids under this
	// office are rejected as unknown.
	Devices []string `yaml:"devices"`
}

// Duration is a time.Duration written as "10s", "5m" or "3d" in YAML.
type Duration = duration.Duration

// ByteSize is a size written as 1GiB, 64KiB or a plain number of bytes.
type ByteSize int64

// UnmarshalYAML accepts plain integers or numbers with a binary unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// DefaultCalendar is the calendar offices use unless they name another.
const DefaultCalendar = "office"

// OfficeCalendars builds every office's calendar, by office id.
func (cfg Config) OfficeCalendars() (map[string]*calendar.Calendar, error) {
	built := map[string]*calendar.Calendar{}
	for name, cc := range cfg.Calendars {
		c, err := calendar.New(cc)
		if err != nil {
			return nil, fmt.Errorf("calendars.%s.%w", name, err)
		}
		built[name] = c
	}
	out := make(map[string]*calendar.Calendar, len(cfg.Offices))
	for _, o := range cfg.Offices {
		name := o.Calendar
		if name == "" {
			name = DefaultCalendar
		}
		c, ok := built[name]
		if !ok {
			return nil, fmt.Errorf("office %s: no calendar %q", o.ID, name)
		}
		out[o.ID] = c
	}
	return out, nil
}
