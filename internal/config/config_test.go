package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/config/yamlcheck"
)

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("", Overrides{})
	require.NoError(t, err)
	assert.Len(t, cfg.Offices, 13)
	assert.Equal(t, "thanh-binh", cfg.Offices[0].ID)
	assert.Equal(t, "Hòa Cường Nam", cfg.Offices[12].Name)
	assert.ElementsMatch(t, []string{"door", "hvac", "server", "camera"}, sortedKeys(cfg.Profiles))
	assert.Equal(t, "facmon/{ward}/{class}/{device}/telemetry", cfg.MQTT.Topics[0].Pattern)
	assert.Equal(t, 64<<10, cfg.MQTT.MaxPayloadBytes)
}

func TestExampleConfigIsValid(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "deploy", "facmon.example.yaml"), Overrides{})
	require.NoError(t, err)
	assert.Len(t, cfg.Offices, 13)
}

func TestFileOverDefaults(t *testing.T) {
	cfg, err := Parse("f.yaml", []byte(`
mqtt:
  url: ssl://broker.danang.gov.vn:8883
  max_inflight: 200
influx:
  flush_interval: 250ms
spool:
  max_bytes: 512MiB
profiles:
  lift:
    fields: {floor: int, moving: bool}
`), Overrides{})
	require.NoError(t, err)
	assert.Equal(t, "ssl://broker.danang.gov.vn:8883", cfg.MQTT.URL)
	assert.Equal(t, 200, cfg.MQTT.MaxInflight)
	assert.Equal(t, "facmon-collector", cfg.MQTT.ClientID, "unset keys keep their defaults")
	assert.Equal(t, 250*time.Millisecond, cfg.Influx.FlushInterval.D())
	assert.Equal(t, ByteSize(512<<20), cfg.Spool.MaxBytes)
	assert.Contains(t, cfg.Profiles, "lift", "profiles add to the built-in ones")
	assert.Contains(t, cfg.Profiles, "door")
}

func TestOverridesWin(t *testing.T) {
	cfg, err := Parse("f.yaml", []byte("mqtt:\n  url: tcp://a:1883\n"), Overrides{
		MQTTURL: "tcp://127.0.0.1:18830", InfluxURL: "http://127.0.0.1:18086", InfluxBucket: "test/autogen", Listen: "127.0.0.1:0",
	})
	require.NoError(t, err)
	assert.Equal(t, "tcp://127.0.0.1:18830", cfg.MQTT.URL)
	assert.Equal(t, "http://127.0.0.1:18086", cfg.Influx.URL)
	assert.Equal(t, "test/autogen", cfg.Influx.Bucket)
	assert.Equal(t, "127.0.0.1:0", cfg.Web.Listen)
}

func TestBadOverrideNamesTheFlag(t *testing.T) {
	_, err := Parse("f.yaml", []byte("mqtt:\n  url: tcp://a:1883\n"), Overrides{MQTTURL: "localhost"})
	require.Error(t, err)
	assert.Equal(t, `mqtt.url: want a URL such as tcp://host:1883 or ssl://host:8883, got "localhost" (from --mqtt-url)`, err.Error())
}

// Each case is a file and the exact problems config check must report,
// with their lines: the operator should not have to hunt.
func TestProblemsNameLineAndPath(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want []string
	}{
		{"unknown top-level key", "mqtt:\n  url: tcp://a:1883\nmqtt_url: x\n",
			[]string{`c.yaml:3: mqtt_url: unknown key "mqtt_url" (known here: alerts, calendars, influx, ingest, liveness, log, maintenance, mqtt, offices, profiles, reports, scrape, spool, web)`}},
		{"unknown nested key", "influx:\n  url: http://a:8086\n  bukket: x\n",
			[]string{`c.yaml:3: influx.bukket: unknown key "bukket"`}},
		{"wrong scalar type", "mqtt:\n  max_inflight: lots\n",
			[]string{`c.yaml:2: mqtt.max_inflight: want a whole number, got "lots"`}},
		{"bad duration", "influx:\n  flush_interval: 5 minutes\n",
			[]string{`c.yaml:2: influx.flush_interval: bad duration "5 minutes"`}},
		{"bad bool", "influx:\n  create_database: maybe\n",
			[]string{`c.yaml:2: influx.create_database: want true or false, got "maybe"`}},
		{"list where a map is wanted", "web:\n  - listen\n",
			[]string{`c.yaml:2: web: want a mapping of keys to values`}},
		{"duplicate key", "web:\n  listen: a:1\n  listen: b:2\n",
			[]string{`c.yaml:3: web.listen: key given twice`}},
		{"semantic errors keep their lines", "mqtt:\n  url: tcp://a:1883\n  max_inflight: 0\nweb:\n  listen: nowhere\n",
			[]string{`c.yaml:3: mqtt.max_inflight: must be between 1 and 65535, got 0`, `c.yaml:5: web.listen: want host:port, got "nowhere"`}},
		{"bad topic pattern", "mqtt:\n  topics:\n    - pattern: facmon/{ward}/{floor}/telemetry\n      kind: telemetry\n",
			[]string{`c.yaml:3: mqtt.topics[0].pattern: segment 3: unknown name {floor}`}},
		{"pattern without device", "mqtt:\n  topics:\n    - pattern: facmon/{ward}/{class}/telemetry\n      kind: telemetry\n",
			[]string{`c.yaml:3: mqtt.topics[0]: pattern "facmon/{ward}/{class}/telemetry" neither captures {device} nor sets tags.device`}},
		{"bad kind", "mqtt:\n  topics:\n    - pattern: facmon/{ward}/{class}/{device}\n      kind: metrics\n",
			[]string{`c.yaml:4: mqtt.topics[0].kind: unknown kind "metrics" (want telemetry or status)`}},
		{"field map to unknown field", "mqtt:\n  topics:\n    - pattern: tele/{device}/SENSOR\n      kind: telemetry\n      tags: {ward: thanh-binh, class: hvac}\n      fields:\n        AM2301.Temperature: temperature\n",
			[]string{`c.yaml:7: mqtt.topics[0].fields.AM2301.Temperature: "temperature" is not a field of the hvac profile`}},
		{"bad field type", "profiles:\n  lift:\n    fields:\n      floor: integer32\n",
			[]string{`c.yaml:4: profiles.lift.fields.floor: unknown field type "integer32" (want float, int, bool or string)`}},
		{"reserved field", "profiles:\n  lift:\n    fields:\n      seq: int\n",
			[]string{`c.yaml:4: profiles.lift.fields.seq: "seq" is reserved`}},
		{"offices", "offices:\n  - id: Thanh Binh\n    name: Thanh Bình\n  - id: thuan-phuoc\n  - id: thuan-phuoc\n    name: Thuận Phước\n    merged_into: hai-chau-9\n",
			[]string{
				`c.yaml:2: offices[0].id: "Thanh Binh" is not an ASCII slug (a-z, 0-9, -)`,
				`c.yaml:4: offices[1].name: every office needs a display name`,
				`c.yaml:5: offices[2].id: "thuan-phuoc" already used by offices[1]`,
				`c.yaml:7: offices[2].merged_into: unknown key "merged_into" (known here: calendar, devices, id, name)`,
			}},
		{"missing password file", "mqtt:\n  username: facmon\n  password_file: /nonexistent/pw\n",
			[]string{`c.yaml:3: mqtt.password_file: cannot read /nonexistent/pw: no such file or directory`}},
		{"bad calendar", "calendars:\n  office:\n    weekly:\n      mon-fry: [\"07:30-11:30\"]\n",
			[]string{`c.yaml:4: calendars.office.weekly.mon-fry: unknown day range "mon-fry"`}},
		{"unknown calendar", "offices:\n  - id: a\n    name: A\n    calendar: night-shift\n",
			[]string{`c.yaml:4: offices[0].calendar: no calendar "night-shift" in calendars`}},
		{"bad maintenance", "maintenance:\n  - name: patching\n    days: sun\n    hours: 22:00\n",
			[]string{`c.yaml:4: maintenance[0].hours: "22:00": want HH:MM-HH:MM`}},
		{"not yaml", "mqtt: [\n", []string{`c.yaml:1: not valid YAML`}},
		{"two documents", "web: {}\n---\nweb: {}\n", []string{`c.yaml:2: more than one YAML document`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml), Overrides{})
			require.Error(t, err)
			ps, ok := yamlcheck.AsProblems(err)
			require.True(t, ok, "%T %v", err, err)
			require.Len(t, ps, len(tc.want), ps.Error())
			for i, w := range tc.want {
				assert.True(t, strings.HasPrefix(ps[i].Error(), w), "got  %s\nwant %s…", ps[i].Error(), w)
			}
		})
	}
}

func TestEmptyFileMeansDefaults(t *testing.T) {
	for _, content := range []string{"", "# nothing\n", "---\n"} {
		cfg, err := Parse("e.yaml", []byte(content), Overrides{})
		require.NoError(t, err, "%q", content)
		assert.Len(t, cfg.Offices, 13)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "64KiB": 64 << 10, "512 MiB": 512 << 20, "1000": 1000, "2MB": 2e6} {
		got, err := ParseByteSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "-1", "1.5GiB", "lots"} {
		_, err := ParseByteSize(in)
		assert.Error(t, err, in)
	}
}

// FuzzParse: arbitrary bytes as a config file never panic, and whatever
// is accepted validates.
func FuzzParse(f *testing.F) {
	f.Add([]byte("mqtt:\n  url: tcp://a:1883\n"))
	f.Add([]byte("offices:\n  - id: a\n    name: A\n"))
	f.Add([]byte("profiles: {x: {fields: {a: int}}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data, Overrides{})
		if err == nil {
			require.NoError(t, cfg.Validate())
		}
	})
}

func TestExampleConfigShipsTheBuiltInRules(t *testing.T) {
	cfg, err := Load(filepath.Join("..", "..", "deploy", "facmon.example.yaml"), Overrides{})
	require.NoError(t, err)
	assert.Equal(t, rule.Defaults(), cfg.Alerts.Rules, "deploy/facmon.example.yaml lists exactly the built-in rules")
	_, err = cfg.CompileRules()
	require.NoError(t, err)
}

func TestAlertRuleProblems(t *testing.T) {
	_, err := Parse("c.yaml", []byte(`alerts:
  rules:
    - name: TooHot
      kind: threshold
      severity: urgent
      class: hvac
      field: temperature
      op: ">"
      value: 30
      clear: 31
      for: 10 minutes
      summary_vi: "x"
      summary_en: "{{.Nope}}"
`), Overrides{})
	require.Error(t, err)
	got := err.Error()
	assert.Contains(t, got, `c.yaml:11: alerts.rules[0].for: bad duration "10 minutes"`)

	_, err = Parse("c.yaml", []byte(`alerts:
  rules:
    - name: TooHot
      kind: threshold
      severity: urgent
      class: hvac
      field: temperature
      op: ">"
      value: 30
      clear: 31
      summary_vi: "x"
      summary_en: "{{.Nope}}"
`), Overrides{})
	require.Error(t, err)
	got = err.Error()
	for _, want := range []string{
		`c.yaml:5: alerts.rules[0].severity: "urgent": want critical, warning or info`,
		`c.yaml:7: alerts.rules[0].field: "temperature" is not a field of the hvac profile`,
		`c.yaml:10: alerts.rules[0].clear: 31 would clear before the alert fires at 30`,
		`c.yaml:12: alerts.rules[0].summary_en: template:`,
	} {
		assert.Contains(t, got, want)
	}
}

func TestIncludedRulesReportTheirOwnFileAndLine(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "rules"), 0o750))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules", "lift.yaml"), []byte(`rules:
  - name: GoodRule
    kind: state
    severity: info
    class: door
    field: state
    equals: open
    summary_vi: a
    summary_en: b
  - name: BadRule
    kind: sideways
    severity: info
    summary_vi: a
    summary_en: b
`), 0o600))
	main := filepath.Join(dir, "facmon.yaml")
	require.NoError(t, os.WriteFile(main, []byte("alerts:\n  include: [\"rules/*.yaml\"]\n"), 0o600))
	_, err := Load(main, Overrides{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "rules", "lift.yaml")+`:10: rules[1].kind: "sideways": want threshold, state, absence, forecast, group or pipeline`)

	require.NoError(t, os.WriteFile(main, []byte("alerts:\n  include: [\"nothing/*.yaml\"]\n"), 0o600))
	_, err = Load(main, Overrides{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), main+`:2: alerts.include[0]: "nothing/*.yaml" matches no file`)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "rules", "lift.yaml"), []byte("rules:\n  - name: Extra\n    kind: state\n    severity: info\n    class: door\n    field: state\n    equals: open\n    summary_vi: a\n    summary_en: b\n"), 0o600))
	require.NoError(t, os.WriteFile(main, []byte("alerts:\n  include: [\"rules/*.yaml\"]\n"), 0o600))
	cfg, err := Load(main, Overrides{})
	require.NoError(t, err)
	rules := cfg.Alerts.AllRules()
	assert.Len(t, rules, len(rule.Defaults())+1, "included rules add to the built-in ones")
	assert.Equal(t, "Extra", rules[len(rules)-1].Name)
}

// The web limits: the example file states the built-in defaults, a file
// can change them, and nonsense is refused with its line.
func TestWebLimits(t *testing.T) {
	ex, err := Load(filepath.Join("..", "..", "deploy", "facmon.example.yaml"), Overrides{})
	require.NoError(t, err)
	assert.Equal(t, Default().Web, ex.Web, "deploy/facmon.example.yaml states the built-in web limits")

	cfg, err := Parse("w.yaml", []byte("web:\n  read_timeout: 2s\n  idle_timeout: 90s\n  max_body_bytes: 1MiB\n"), Overrides{})
	require.NoError(t, err)
	l := cfg.Web.Limits()
	assert.Equal(t, 2*time.Second, l.ReadTimeout)
	assert.Equal(t, 90*time.Second, l.IdleTimeout)
	assert.Equal(t, int64(1<<20), l.MaxBodyBytes)
	assert.Equal(t, 10*time.Minute, l.LongWriteTimeout, "the rest keeps its default")

	_, err = Parse("w.yaml", []byte("web:\n  write_timeout: 0s\n  max_header_bytes: 1KiB\n  max_body_bytes: 100\n"), Overrides{})
	ps, ok := yamlcheck.AsProblems(err)
	require.True(t, ok, "%v", err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Error())
	}
	assert.Equal(t, []string{
		"w.yaml:2: web.write_timeout: must be positive",
		"w.yaml:3: web.max_header_bytes: must be at least 4KiB",
		"w.yaml:4: web.max_body_bytes: must be at least 16KiB (an acknowledgement's body may take that)",
	}, got)
}

// deploy/facmon.example.yaml says it shows every key with its default: it
// must load into exactly what facmon uses with no file, section by
// section, so the file cannot drift from the code again.
func TestExampleFileStatesEveryDefault(t *testing.T) {
	def, err := Load("", Overrides{})
	require.NoError(t, err)
	ex, err := Load(filepath.Join("..", "..", "deploy", "facmon.example.yaml"), Overrides{})
	require.NoError(t, err)
	// No rules configured means the built-in rules, which the file lists.
	if def.Alerts.Rules == nil {
		def.Alerts.Rules = rule.Defaults()
	}
	// Compared as YAML, section by section, so an empty list in the file
	// equals a nil one in the code and a drift names its section and key.
	dv, ev := reflect.ValueOf(def), reflect.ValueOf(ex)
	for i := range dv.NumField() {
		f := dv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		want, err := yaml.Marshal(dv.Field(i).Interface())
		require.NoError(t, err)
		got, err := yaml.Marshal(ev.Field(i).Interface())
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "section %q of deploy/facmon.example.yaml differs from the built-in default", name)
	}
}
