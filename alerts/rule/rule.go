// Package rule defines alert rules as configured in YAML and compiles
// them for the engine: kinds, thresholds with hysteresis, office-hours
// limits, severities, labels and the Vietnamese and English summaries.
package rule

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/facmon/facmon/internal/duration"
)

// Kinds of rule.
const (
	KindThreshold = "threshold" // field compared with a value, with for / clear / clear_for
	KindState     = "state"     // field equal to a value for longer than for
	KindAbsence   = "absence"   // device offline: last will / offline status, or silent past its heartbeat
	KindForecast  = "forecast"  // linear fit over a window reaches a limit within a horizon
	KindGroup     = "group"     // a fraction of a ward's devices offline at once
	KindPipeline  = "pipeline"  // facmon's own health: broker, spool, readings
)

// Pipeline checks.
const (
	CheckBrokerDisconnected = "broker_disconnected"
	CheckSpoolBacklog       = "spool_backlog" // oldest spooled reading older than value seconds
	CheckNoReadings         = "no_readings"   // no reading at all for longer than for
	CheckDeviceLimit        = "device_limit"  // a new device id was refused for the device limits within the last 10 minutes
)

// Duration is facmon's YAML duration ("30s", "5m", "3d").
type Duration = duration.Duration

// Rule is one alert rule as written in the configuration.
type Rule struct {
	Name     string `yaml:"name"`
	Kind     string `yaml:"kind"`
	Severity string `yaml:"severity"` // critical, warning, info

	// What it watches: a device class (empty: every class, for absence),
	// optionally narrowed to wards or devices. Measurement defaults to the
	// class; scraped apps use class "app" with measurement "scrape".
	Class       string   `yaml:"class"`
	Measurement string   `yaml:"measurement"`
	Wards       []string `yaml:"wards"`
	Devices     []string `yaml:"devices"`

	// threshold, state, forecast: the field, and for threshold an optional
	// second field subtracted from it (temp_c minus setpoint_c).
	Field      string `yaml:"field"`
	MinusField string `yaml:"minus_field"`
	// threshold: op and value; clear is the value at which a firing alert
	// clears (hysteresis; default: value), held for clear_for.
	Op       string   `yaml:"op"` // > >= < <= == !=
	Value    *float64 `yaml:"value"`
	Clear    *float64 `yaml:"clear"`
	ClearFor Duration `yaml:"clear_for"`
	// state: the value the field must equal (compared as text: "open",
	// "true", "E4"); with op "!=" the value it must differ from ("" for
	// "any fault code").
	Equals string `yaml:"equals"`
	// forecast: fit over window, fire when limit is reached within horizon.
	Window  Duration `yaml:"window"`
	Limit   *float64 `yaml:"limit"`
	Horizon Duration `yaml:"horizon"`
	// group: fire when at least fraction (0..1) of the ward's devices, and
	// at least min_devices, are offline.
	Fraction   float64 `yaml:"fraction"`
	MinDevices int     `yaml:"min_devices"`
	// pipeline: which check.
	Check string `yaml:"check"`

	// For is how long the condition must hold before the alert fires.
	For Duration `yaml:"for"`
	// OfficeHours limits the rule to the ward's opening hours.
	OfficeHours bool `yaml:"office_hours"`
	// EscalateAfter re-notifies, with label escalation="1", an alert still
	// firing and unacknowledged after this long.
	EscalateAfter Duration `yaml:"escalate_after"`

	Labels    map[string]string `yaml:"labels"`
	SummaryVI string            `yaml:"summary_vi"`
	SummaryEN string            `yaml:"summary_en"`
	// Doc says what the rule is for; shown in `facmon alerts rules`.
	Doc string `yaml:"doc"`
}

// Compiled is a validated rule, ready for the engine.
type Compiled struct {
	Rule
	summaryVI, summaryEN *template.Template
	wards, devices       map[string]bool
}

// Problem is a rule error: Path is relative to the rule ("field", "op").
type Problem struct {
	Index int
	Path  string
	Msg   string
}

func (p Problem) Error() string { return fmt.Sprintf("[%d].%s: %s", p.Index, p.Path, p.Msg) }

var nameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// Compile validates every rule and returns all problems at once.
// classFields gives the fields of each class profile ("" key unused).
func Compile(rules []Rule, classFields map[string]map[string]string) ([]*Compiled, []Problem) {
	var out []*Compiled
	var ps []Problem
	seen := map[string]int{}
	for i, r := range rules {
		add := func(path, format string, args ...any) {
			ps = append(ps, Problem{Index: i, Path: path, Msg: fmt.Sprintf(format, args...)})
		}
		if !nameRe.MatchString(r.Name) {
			add("name", "%q: want an identifier such as DoorStuckOpen", r.Name)
		}
		if j, dup := seen[r.Name]; dup {
			add("name", "%q already used by rule [%d]", r.Name, j)
		}
		seen[r.Name] = i
		switch r.Severity {
		case "critical", "warning", "info":
		default:
			add("severity", "%q: want critical, warning or info", r.Severity)
		}
		if r.Class != "" {
			if _, ok := classFields[r.Class]; !ok && r.Class != "app" {
				add("class", "no profile for class %q", r.Class)
			}
		}
		needField := func() {
			if r.Class == "" {
				add("class", "a %s rule needs a class", r.Kind)
				return
			}
			fields := classFields[r.Class]
			if r.Measurement != "" && r.Measurement != r.Class {
				fields = nil // another measurement (scraped metrics): its fields are not profiled
			}
			if r.Field == "" {
				add("field", "a %s rule needs a field", r.Kind)
			} else if fields != nil {
				if _, ok := fields[r.Field]; !ok {
					add("field", "%q is not a field of the %s profile", r.Field, r.Class)
				}
			}
			if r.MinusField != "" && fields != nil {
				if _, ok := fields[r.MinusField]; !ok {
					add("minus_field", "%q is not a field of the %s profile", r.MinusField, r.Class)
				}
			}
		}
		switch r.Kind {
		case KindThreshold:
			needField()
			switch r.Op {
			case ">", ">=", "<", "<=", "==", "!=":
			default:
				add("op", "%q: want > >= < <= == or !=", r.Op)
			}
			if r.Value == nil {
				add("value", "a threshold rule needs a value")
			} else if r.Clear != nil {
				v, c := *r.Value, *r.Clear
				if (strings.HasPrefix(r.Op, ">") && c > v) || (strings.HasPrefix(r.Op, "<") && c < v) {
					add("clear", "%g would clear before the alert fires at %g: hysteresis goes the other way", c, v)
				}
			}
		case KindState:
			needField()
			switch r.Op {
			case "", "==", "!=":
			default:
				add("op", "%q: a state rule compares with == or !=", r.Op)
			}
			if r.Equals == "" && r.Op != "!=" {
				add("equals", "a state rule needs the value to watch for")
			}
		case KindForecast:
			needField()
			if r.Limit == nil {
				add("limit", "a forecast rule needs a limit")
			}
			if r.Window <= 0 {
				add("window", "a forecast rule needs a window to fit over")
			}
			if r.Horizon <= 0 {
				add("horizon", "a forecast rule needs a horizon")
			}
		case KindAbsence:
		case KindGroup:
			if r.Fraction <= 0 || r.Fraction > 1 {
				add("fraction", "%g: want a fraction in (0, 1]", r.Fraction)
			}
			if r.MinDevices < 1 {
				add("min_devices", "want at least 1")
			}
		case KindPipeline:
			switch r.Check {
			case CheckBrokerDisconnected, CheckNoReadings, CheckDeviceLimit:
			case CheckSpoolBacklog:
				if r.Value == nil {
					add("value", "spool_backlog needs value: the oldest age in seconds")
				}
			default:
				add("check", "%q: want broker_disconnected, spool_backlog, no_readings or device_limit", r.Check)
			}
		default:
			add("kind", "%q: want threshold, state, absence, forecast, group or pipeline", r.Kind)
		}
		if r.For < 0 || r.ClearFor < 0 || r.EscalateAfter < 0 {
			add("for", "durations must not be negative")
		}
		for k := range r.Labels {
			switch k {
			case "alertname", "severity", "ward", "class", "device", "escalation":
				add("labels."+k, "reserved label; facmon sets it")
			}
		}
		c := &Compiled{Rule: r}
		var err error
		if r.SummaryVI == "" || r.SummaryEN == "" {
			add("summary_vi", "both summary_vi and summary_en are needed: technicians read Vietnamese, and English is kept for everyone else")
		}
		if c.summaryVI, err = template.New("vi").Option("missingkey=error").Parse(r.SummaryVI); err != nil {
			add("summary_vi", "template: %v", err)
		} else if _, err := render(c.summaryVI, sampleData); err != nil {
			add("summary_vi", "template: %v", err)
		}
		if c.summaryEN, err = template.New("en").Option("missingkey=error").Parse(r.SummaryEN); err != nil {
			add("summary_en", "template: %v", err)
		} else if _, err := render(c.summaryEN, sampleData); err != nil {
			add("summary_en", "template: %v", err)
		}
		c.wards = set(r.Wards)
		c.devices = set(r.Devices)
		out = append(out, c)
	}
	sort.SliceStable(ps, func(a, b int) bool { return ps[a].Index < ps[b].Index })
	return out, ps
}

func set(xs []string) map[string]bool {
	if len(xs) == 0 {
		return nil
	}
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// MeasurementName is the measurement whose readings the rule reads.
func (c *Compiled) MeasurementName() string {
	if c.Measurement != "" {
		return c.Measurement
	}
	return c.Class
}

// StateActive reports whether a state rule's condition holds for text.
func (c *Compiled) StateActive(text string) bool {
	if c.Op == "!=" {
		return text != c.Equals
	}
	return text == c.Equals
}

// Applies reports whether the rule watches this device.
func (c *Compiled) Applies(ward, class, device string) bool {
	if c.Class != "" && c.Class != class {
		return false
	}
	if c.wards != nil && !c.wards[ward] {
		return false
	}
	if c.devices != nil && !c.devices[device] {
		return false
	}
	return true
}

// AppliesToWard reports whether a ward-level rule watches the ward.
func (c *Compiled) AppliesToWard(ward string) bool { return c.wards == nil || c.wards[ward] }

// Data is what summary templates can use.
type Data struct {
	Rule, Ward, WardName, Class, Device, Field string
	Value, Threshold                           float64
	For                                        string
}

var sampleData = Data{Rule: "R", Ward: "thanh-binh", WardName: "Thanh Bình", Class: "door", Device: "door-1", Field: "state", Value: 1, Threshold: 1, For: "5m"}

func render(t *template.Template, d Data) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Summaries renders the Vietnamese and English summaries.
func (c *Compiled) Summaries(d Data) (vi, en string) {
	vi, err := render(c.summaryVI, d)
	if err != nil {
		vi = c.Name
	}
	en, err = render(c.summaryEN, d)
	if err != nil {
		en = c.Name
	}
	return vi, en
}

// Threshold returns the firing threshold, or 0.
func (c *Compiled) Threshold() float64 {
	if c.Value != nil {
		return *c.Value
	}
	if c.Limit != nil {
		return *c.Limit
	}
	return 0
}

// Compare applies op.
func Compare(v float64, op string, ref float64) bool {
	switch op {
	case ">":
		return v > ref
	case ">=":
		return v >= ref
	case "<":
		return v < ref
	case "<=":
		return v <= ref
	case "==":
		return v == ref
	case "!=":
		return v != ref
	}
	return false
}

// Cleared reports whether a firing threshold alert's value is back on the
// clear side: past the clear value when one is set (hysteresis), else no
// longer past the firing value.
func (c *Compiled) Cleared(v float64) bool {
	if c.Clear == nil {
		return !Compare(v, c.Op, *c.Value)
	}
	switch c.Op {
	case ">", ">=":
		return v < *c.Clear
	case "<", "<=":
		return v > *c.Clear
	}
	return !Compare(v, c.Op, *c.Value)
}
