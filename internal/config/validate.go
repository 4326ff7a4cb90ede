package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/collectors/mqtt/topic"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/config/yamlcheck"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/redact"
)

var (
	officeIDRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	fieldNameRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
)

type checker struct{ ps yamlcheck.Problems }

func (c *checker) add(path, format string, args ...any) {
	c.ps = append(c.ps, yamlcheck.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks the whole configuration and returns every problem as
// Problems (without lines; Load adds them).
func (cfg Config) Validate() error {
	c := &checker{}
	switch cfg.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		c.add("log.level", "unknown level %q (want debug, info, warn or error)", cfg.Log.Level)
	}
	switch cfg.Log.Format {
	case "json", "text":
	default:
		c.add("log.format", "unknown format %q (want json or text)", cfg.Log.Format)
	}
	cfg.validateMQTT(c)
	cfg.validateInflux(c)
	if cfg.Spool.Dir == "" {
		c.add("spool.dir", "must be set")
	}
	if cfg.Spool.MaxBytes < 1<<20 {
		c.add("spool.max_bytes", "must be at least 1MiB")
	}
	if cfg.Spool.CommitInterval <= 0 {
		c.add("spool.commit_interval", "must be positive")
	}
	if cfg.Spool.ShutdownDrain < 0 {
		c.add("spool.shutdown_drain", "must not be negative")
	}
	if _, _, err := net.SplitHostPort(cfg.Web.Listen); err != nil {
		c.add("web.listen", "want host:port, got %q", cfg.Web.Listen)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"web.read_header_timeout", cfg.Web.ReadHeaderTimeout}, {"web.read_timeout", cfg.Web.ReadTimeout},
		{"web.write_timeout", cfg.Web.WriteTimeout}, {"web.report_timeout", cfg.Web.ReportTimeout},
		{"web.idle_timeout", cfg.Web.IdleTimeout},
	} {
		if d.v <= 0 {
			c.add(d.key, "must be positive")
		}
	}
	if cfg.Web.MaxHeaderBytes < 4<<10 {
		c.add("web.max_header_bytes", "must be at least 4KiB")
	}
	if cfg.Web.MaxBodyBytes < 16<<10 {
		c.add("web.max_body_bytes", "must be at least 16KiB (an acknowledgement's body may take that)")
	}
	if cfg.Ingest.MaxPast <= 0 {
		c.add("ingest.max_past", "must be positive")
	}
	if cfg.Ingest.MaxFuture <= 0 {
		c.add("ingest.max_future", "must be positive")
	}
	if cfg.Ingest.MaxDevicesPerOffice < 1 {
		c.add("ingest.max_devices_per_office", "must be at least 1")
	}
	if cfg.Ingest.MaxDevices < cfg.Ingest.MaxDevicesPerOffice {
		c.add("ingest.max_devices", "must be at least ingest.max_devices_per_office")
	}
	cfg.validateProfiles(c)
	cfg.validateAlerts(c)
	cfg.validateCalendars(c)
	if cfg.Liveness.SampleInterval < Duration(time.Second) {
		c.add("liveness.sample_interval", "must be at least 1s")
	}
	if cfg.Liveness.SeedLookback < 0 {
		c.add("liveness.seed_lookback", "must not be negative (0 turns seeding at start-up off)")
	}
	for _, k := range sortedKeys(cfg.Liveness.Heartbeat) {
		if cfg.Liveness.Heartbeat[k] < Duration(time.Second) {
			c.add("liveness.heartbeat."+k, "must be at least 1s")
		}
	}
	for _, k := range sortedKeys(cfg.Liveness.Devices) {
		if w, d, ok := strings.Cut(k, "/"); !ok || w == "" || d == "" {
			c.add("liveness.devices."+k, "keys are ward/device")
		}
		if cfg.Liveness.Devices[k] < Duration(time.Second) {
			c.add("liveness.devices."+k, "must be at least 1s")
		}
	}
	if _, err := cfg.MaintenanceSchedule(); err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "[") {
			idx, rest, _ := strings.Cut(msg, ": ")
			c.add("maintenance"+idx, "%s", rest)
		} else {
			c.add("maintenance", "%s", msg)
		}
	}
	cfg.validateOffices(c)
	cfg.validateScrape(c)
	for _, e := range cfg.Reports.Validate() {
		c.add("reports."+e.Path, "%s", e.Msg)
	}
	if len(c.ps) > 0 {
		return c.ps
	}
	return nil
}

func (cfg Config) validateMQTT(c *checker) {
	m := cfg.MQTT
	u, err := url.Parse(m.URL)
	switch {
	case err != nil || u.Host == "":
		c.add("mqtt.url", "want a URL such as tcp://host:1883 or ssl://host:8883, got %q", redact.URL(m.URL))
	default:
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			c.add("mqtt.url", "unknown scheme %q (want tcp, ssl, ws or wss)", u.Scheme)
		}
		if u.User != nil {
			c.add("mqtt.url", "must not carry credentials; use mqtt.username and mqtt.password_file")
		}
	}
	if m.ClientID == "" {
		c.add("mqtt.client_id", "must be set: the persistent session is bound to a fixed client id")
	}
	if m.SharedGroup != "" && strings.ContainsAny(m.SharedGroup, "/+#$") {
		c.add("mqtt.shared_group", "%q must be one topic level: no /, +, # or $", m.SharedGroup)
	}
	if strings.ContainsAny(m.ClientID, "/+#") {
		c.add("mqtt.client_id", "%q must not contain /, + or #: it names the instance in its group's topics", m.ClientID)
	}
	if m.PasswordFile != "" && m.Username == "" {
		c.add("mqtt.password_file", "given without mqtt.username")
	}
	checkReadable(c, "mqtt.password_file", m.PasswordFile)
	checkReadable(c, "mqtt.tls.ca_file", m.TLS.CAFile)
	checkReadable(c, "mqtt.tls.cert_file", m.TLS.CertFile)
	checkReadable(c, "mqtt.tls.key_file", m.TLS.KeyFile)
	if (m.TLS.CertFile == "") != (m.TLS.KeyFile == "") {
		c.add("mqtt.tls", "cert_file and key_file go together")
	}
	if m.KeepAlive < Duration(1e9) {
		c.add("mqtt.keepalive", "must be at least 1s")
	}
	if m.ConnectTimeout <= 0 {
		c.add("mqtt.connect_timeout", "must be positive")
	}
	if m.MaxReconnectInterval <= 0 {
		c.add("mqtt.max_reconnect_interval", "must be positive")
	}
	if m.MaxInflight < 1 || m.MaxInflight > 65535 {
		c.add("mqtt.max_inflight", "must be between 1 and 65535, got %d", m.MaxInflight)
	}
	if m.MaxPayloadBytes < 64 || m.MaxPayloadBytes > 256<<20 {
		c.add("mqtt.max_payload_bytes", "must be between 64 and 268435456, got %d", m.MaxPayloadBytes)
	}
	if len(m.Topics) == 0 {
		c.add("mqtt.topics", "at least one topic pattern is needed")
	}
	for i, t := range m.Topics {
		cfg.validateTopic(c, fmt.Sprintf("mqtt.topics[%d]", i), t)
	}
}

func (cfg Config) validateTopic(c *checker, path string, t Topic) {
	pat, err := topic.Compile(t.Pattern)
	if err != nil {
		c.add(path+".pattern", "%v", err)
		return
	}
	switch t.Kind {
	case "telemetry", "status":
	default:
		c.add(path+".kind", "unknown kind %q (want telemetry or status)", t.Kind)
	}
	for _, k := range sortedKeys(t.Tags) {
		v := t.Tags[k]
		switch k {
		case topic.Ward, topic.Class, topic.Device, topic.Site, topic.Room:
		default:
			c.add(path+".tags."+k, "unknown tag (want ward, class, device, site or room)")
			continue
		}
		if pat.Captures(k) {
			c.add(path+".tags."+k, "also captured by the pattern; give one or the other")
		}
		if !reading.ValidID(v) {
			c.add(path+".tags."+k, "%q is not a valid id (letters, digits, - _ . : up to 64)", v)
		}
	}
	for _, need := range []string{topic.Ward, topic.Class, topic.Device} {
		if !pat.Captures(need) && t.Tags[need] == "" {
			c.add(path, "pattern %q neither captures {%s} nor sets tags.%s", t.Pattern, need, need)
		}
	}
	if !t.Status.IsZero() {
		if t.Kind != "status" {
			c.add(path+".status", "only a topic of kind status reads a status payload")
		} else {
			validateStatusPayload(c, path+".status", t.Status)
		}
	}
	if len(t.Fields) > 0 {
		if t.Kind == "status" {
			c.add(path+".fields", "a status topic has no fields to map")
		}
		class := t.Tags[topic.Class]
		prof, known := cfg.Profiles[class]
		for _, src := range sortedKeys(t.Fields) {
			dst := t.Fields[src]
			if src == "" {
				c.add(path+".fields", "empty payload path")
			}
			if dst != reading.KeyTimestamp && dst != reading.KeySeq && class != "" && known {
				if _, ok := prof.Fields[dst]; !ok {
					c.add(path+".fields."+src, "%q is not a field of the %s profile", dst, class)
				}
			}
		}
	}
}

// validateStatusPayload checks a status topic's path and values. The path
// is read with the same JSON path lookup as fields, whose wildcard,
// query and modifier characters would make it match something else than
// the key the operator wrote, so they are refused.
func validateStatusPayload(c *checker, path string, s StatusPayload) {
	if s.Path != "" {
		for _, seg := range strings.Split(s.Path, ".") {
			if seg == "" || strings.ContainsAny(seg, "*?#|@!\\{}[]()=<>,\"' \t") {
				c.add(path+".path", "%q is not a path of plain keys separated by dots (e.g. state or status.online)", s.Path)
				break
			}
		}
	}
	seen := map[string]string{}
	for _, list := range []struct {
		key  string
		vals []string
	}{{"online", s.Online}, {"offline", s.Offline}} {
		for i, v := range list.vals {
			at := fmt.Sprintf("%s.%s[%d]", path, list.key, i)
			w := strings.ToLower(strings.TrimSpace(v))
			if w == "" {
				c.add(at, "empty value")
				continue
			}
			if prev, dup := seen[w]; dup {
				c.add(at, "%q is also listed at %s; a value means online or offline, not both", v, prev)
				continue
			}
			seen[w] = at
		}
	}
	// A list left out keeps the built-in words, which must not contradict
	// the other list's values either (offline: [up] with the default
	// online words).
	for _, def := range []struct {
		key   string
		given []string
		words []string
	}{{"online", s.Online, s.OnlineWords()}, {"offline", s.Offline, s.OfflineWords()}} {
		if len(def.given) > 0 {
			continue
		}
		for _, w := range def.words {
			if prev, dup := seen[w]; dup {
				c.add(prev, "%q is one of the built-in %s words (%s); list %s values too", w, def.key, strings.Join(def.words, ", "), def.key)
			}
		}
	}
}

func (cfg Config) validateInflux(c *checker) {
	in := cfg.Influx
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add("influx.url", "want an http:// or https:// URL, got %q", redact.URL(in.URL))
	} else if u.User != nil {
		c.add("influx.url", "must not carry credentials; put the token (or user:password on InfluxDB 1.8) in influx.token_file")
	}
	if in.Bucket == "" {
		c.add("influx.bucket", "must be set (on InfluxDB 1.8: database or database/retention-policy)")
	}
	checkReadable(c, "influx.token_file", in.TokenFile)
	checkReadable(c, "influx.read_token_file", in.ReadTokenFile)
	if in.BatchSize < 1 || in.BatchSize > 100000 {
		c.add("influx.batch_size", "must be between 1 and 100000, got %d", in.BatchSize)
	}
	if in.FlushInterval <= 0 {
		c.add("influx.flush_interval", "must be positive")
	}
	if in.Timeout <= 0 {
		c.add("influx.timeout", "must be positive")
	}
	if in.MaxRetryInterval <= 0 {
		c.add("influx.max_retry_interval", "must be positive")
	}
}

func (cfg Config) validateProfiles(c *checker) {
	if len(cfg.Profiles) == 0 {
		c.add("profiles", "at least one device class profile is needed")
	}
	for _, class := range sortedKeys(cfg.Profiles) {
		path := "profiles." + class
		if !reading.ValidID(class) {
			c.add(path, "%q is not a valid class id", class)
		}
		if class == reading.MeasurementDeviceStatus || class == "alert_event" {
			c.add(path, "%q is reserved for facmon's own measurements", class)
		}
		p := cfg.Profiles[class]
		if len(p.Fields) == 0 {
			c.add(path+".fields", "a profile needs at least one field")
		}
		for _, name := range sortedKeys(p.Fields) {
			if !fieldNameRe.MatchString(name) {
				c.add(path+".fields."+name, "field names are snake_case, with the unit in the name (temp_c)")
			}
			if name == reading.KeyTimestamp || name == reading.KeySeq {
				c.add(path+".fields."+name, "%q is reserved (ts and seq are honoured on every payload)", name)
			}
			if _, err := reading.ParseKind(p.Fields[name]); err != nil {
				c.add(path+".fields."+name, "%v", err)
			}
		}
	}
}

func (cfg Config) validateCalendars(c *checker) {
	for _, name := range sortedKeys(cfg.Calendars) {
		if _, err := calendar.New(cfg.Calendars[name]); err != nil {
			// calendar errors start with the key they are about.
			key, msg, ok := strings.Cut(err.Error(), ": ")
			if ok && !strings.Contains(key, " ") {
				c.add("calendars."+name+"."+key, "%s", msg)
			} else {
				c.add("calendars."+name, "%v", err)
			}
		}
	}
}

func (cfg Config) validateOffices(c *checker) {
	if len(cfg.Offices) == 0 {
		c.add("offices", "at least one office is needed")
	}
	ids := map[string]int{}
	for i, o := range cfg.Offices {
		path := "offices[" + strconv.Itoa(i) + "]"
		if !officeIDRe.MatchString(o.ID) {
			c.add(path+".id", "%q is not an ASCII slug (a-z, 0-9, -)", o.ID)
		}
		if prev, dup := ids[o.ID]; dup {
			c.add(path+".id", "%q already used by offices[%d]", o.ID, prev)
		}
		ids[o.ID] = i
		if o.Name == "" {
			c.add(path+".name", "every office needs a display name")
		}
		if cal := o.Calendar; cal != "" {
			if _, ok := cfg.Calendars[cal]; !ok {
				c.add(path+".calendar", "no calendar %q in calendars", cal)
			}
		} else if _, ok := cfg.Calendars[DefaultCalendar]; !ok {
			c.add(path+".calendar", "not set, and calendars has no %q entry", DefaultCalendar)
		}
		for j, d := range o.Devices {
			if !reading.ValidID(d) {
				c.add(fmt.Sprintf("%s.devices[%d]", path, j), "%q is not a valid device id", d)
			}
		}
	}
}

func checkReadable(c *checker, path, file string) {
	if err := notify.CheckReadable(file); err != nil {
		c.add(path, "%v", err)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
