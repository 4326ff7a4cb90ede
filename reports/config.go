package reports

import (
	"fmt"
	"sort"
)

// Config is the "reports" section of facmon's configuration file:
//
//	reports:
//	  sla: {door: 99, hvac: 98, server: 99.5, camera: 99}
//	  default_sla: 99      # classes not listed in sla
//	  worst_devices: 10    # how many devices the "worst devices" table lists
//
// The zero value is usable: every class then has the 99 % target.
type Config struct {
	// SLA is the availability target in percent per device class.
	SLA map[string]float64 `yaml:"sla"`
	// DefaultSLA applies to classes not in SLA; 0 means 99.
	DefaultSLA float64 `yaml:"default_sla"`
	// WorstDevices is the length of the worst-devices table; 0 means 10.
	WorstDevices int `yaml:"worst_devices"`
}

// DefaultSLATarget is the target of a class nobody configured.
const DefaultSLATarget = 99.0

// DefaultConfig is the built-in reports configuration.
func DefaultConfig() Config {
	// Servers carry every office's applications, so they are held higher;
	// air conditioners stop for filter cleaning and refrigerant service
	// more often than a door or a camera, so they are held lower.
	return Config{
		SLA:        map[string]float64{"door": 99, "hvac": 98, "server": 99.5, "camera": 99},
		DefaultSLA: DefaultSLATarget, WorstDevices: 10,
	}
}

// Target returns the SLA target of a class in percent.
func (c Config) Target(class string) float64 {
	if t, ok := c.SLA[class]; ok {
		return t
	}
	if c.DefaultSLA > 0 {
		return c.DefaultSLA
	}
	return DefaultSLATarget
}

func (c Config) worst() int {
	if c.WorstDevices > 0 {
		return c.WorstDevices
	}
	return 10
}

// FieldError is one problem in the reports section; Path is relative to
// it (e.g. "sla.door"), so the caller prefixes "reports.".
type FieldError struct {
	Path string
	Msg  string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Msg }

// Validate returns every problem of the section, in a stable order.
func (c Config) Validate() []FieldError {
	var out []FieldError
	classes := make([]string, 0, len(c.SLA))
	for k := range c.SLA {
		classes = append(classes, k)
	}
	sort.Strings(classes)
	for _, k := range classes {
		if v := c.SLA[k]; !(v > 0 && v <= 100) {
			out = append(out, FieldError{"sla." + k, fmt.Sprintf("want a percentage above 0 and at most 100, got %v", v)})
		}
	}
	if c.DefaultSLA != 0 && !(c.DefaultSLA > 0 && c.DefaultSLA <= 100) {
		out = append(out, FieldError{"default_sla", fmt.Sprintf("want a percentage above 0 and at most 100, got %v", c.DefaultSLA)})
	}
	if c.WorstDevices < 0 {
		out = append(out, FieldError{"worst_devices", "must not be negative"})
	}
	return out
}
