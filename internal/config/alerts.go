package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/config/yamlcheck"
)

// Alerts configures the alert engine and its notifiers.
type Alerts struct {
	// Rules replaces the built-in rules when given (see
	// deploy/facmon.example.yaml for them, each documented).
	Rules []rule.Rule `yaml:"rules"`
	// Include adds rules from other files (globs, relative to the config
	// file); each holds a "rules:" list.
	Include []string `yaml:"include"`
	// StateDir keeps alert state and incident history across restarts;
	// default: alerts/ inside spool.dir, next to the rest of facmon's data.
	StateDir string `yaml:"state_dir"`
	// EvalInterval is how often time-based conditions are evaluated.
	EvalInterval Duration `yaml:"eval_interval"`
	// APITokenFile holds the bearer token that state-changing API calls
	// (acknowledge) require.
	APITokenFile string `yaml:"api_token_file"`
	// ExternalURL is facmon's address as people reach it, for the links
	// in notifications.
	ExternalURL string `yaml:"external_url"`
	// FlapCount transitions within FlapWindow mark an alert as flapping.
	FlapCount  int           `yaml:"flap_count"`
	FlapWindow Duration      `yaml:"flap_window"`
	Notifiers  notify.Config `yaml:"notifiers"`

	// included holds the rules read from Include files, with their origin.
	included []includedRule
}

type includedRule struct {
	file string
	line int
	rule rule.Rule
}

// AllRules returns the rules in force: the configured (or built-in) ones
// followed by the included ones.
func (a Alerts) AllRules() []rule.Rule {
	rules := a.Rules
	if rules == nil {
		rules = rule.Defaults()
	}
	out := append([]rule.Rule(nil), rules...)
	for _, ir := range a.included {
		out = append(out, ir.rule)
	}
	return out
}

// ClassFields returns each profile's fields, for rule validation.
func (cfg Config) ClassFields() map[string]map[string]string {
	out := map[string]map[string]string{}
	for class, p := range cfg.Profiles {
		out[class] = p.Fields
	}
	return out
}

// CompileRules validates and compiles every rule in force.
func (cfg Config) CompileRules() ([]*rule.Compiled, error) {
	compiled, ps := rule.Compile(cfg.Alerts.AllRules(), cfg.ClassFields())
	if len(ps) > 0 {
		return nil, fmt.Errorf("alert rules: %v", ps[0])
	}
	return compiled, nil
}

// loadIncludes reads the included rule files, reporting problems with
// their own file and line.
func (cfg *Config) loadIncludes(base string) yamlcheck.Problems {
	var ps yamlcheck.Problems
	dir := filepath.Dir(base)
	for i, pat := range cfg.Alerts.Include {
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(dir, pat)
		}
		files, err := filepath.Glob(pat)
		if err != nil || len(files) == 0 {
			ps = append(ps, yamlcheck.Problem{Path: fmt.Sprintf("alerts.include[%d]", i), Msg: fmt.Sprintf("%q matches no file", cfg.Alerts.Include[i])})
			continue
		}
		sort.Strings(files)
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				ps = append(ps, yamlcheck.Problem{File: f, Msg: err.Error()})
				continue
			}
			var doc struct {
				Rules []rule.Rule `yaml:"rules"`
			}
			var root yaml.Node
			if err := yaml.Unmarshal(data, &root); err != nil {
				ps = append(ps, yamlcheck.Problem{File: f, Line: yamlcheck.ErrorLine(err), Msg: "not valid YAML: " + yamlcheck.CleanError(err)})
				continue
			}
			if len(root.Content) == 0 {
				continue
			}
			lines := map[string]int{}
			fps := yamlcheck.Check(root.Content[0], typeOf(&doc), lines)
			for j := range fps {
				fps[j].File = f
			}
			if len(fps) > 0 {
				ps = append(ps, fps...)
				continue
			}
			if err := root.Content[0].Decode(&doc); err != nil {
				ps = append(ps, yamlcheck.Problem{File: f, Line: yamlcheck.ErrorLine(err), Msg: yamlcheck.CleanError(err)})
				continue
			}
			for j, r := range doc.Rules {
				cfg.Alerts.included = append(cfg.Alerts.included, includedRule{file: f, line: lines[fmt.Sprintf("rules[%d]", j)], rule: r})
			}
		}
	}
	return ps
}

// validateAlerts checks rules (with the file and line of included ones)
// and the notifier settings.
func (cfg Config) validateAlerts(c *checker) {
	a := cfg.Alerts
	if a.EvalInterval < Duration(1e8) {
		c.add("alerts.eval_interval", "must be at least 100ms")
	}
	if a.FlapCount < 2 {
		c.add("alerts.flap_count", "must be at least 2")
	}
	if a.FlapWindow <= 0 {
		c.add("alerts.flap_window", "must be positive")
	}
	checkReadable(c, "alerts.api_token_file", a.APITokenFile)
	if a.ExternalURL != "" && !strings.HasPrefix(a.ExternalURL, "http://") && !strings.HasPrefix(a.ExternalURL, "https://") {
		c.add("alerts.external_url", "want an http:// or https:// URL")
	}
	nconfigured := len(a.Rules)
	if a.Rules == nil {
		nconfigured = len(rule.Defaults())
	}
	_, ps := rule.Compile(a.AllRules(), cfg.ClassFields())
	for _, p := range ps {
		if p.Index < nconfigured {
			if a.Rules == nil {
				c.add("alerts.rules", "built-in rule %d: %s: %s", p.Index, p.Path, p.Msg)
				continue
			}
			c.add(fmt.Sprintf("alerts.rules[%d].%s", p.Index, p.Path), "%s", p.Msg)
			continue
		}
		ir := a.included[p.Index-nconfigured]
		c.ps = append(c.ps, yamlcheck.Problem{File: ir.file, Line: ir.line, Path: fmt.Sprintf("rules[%d].%s", p.Index-nconfigured, p.Path), Msg: p.Msg, KeepFile: true})
	}
	for _, fe := range a.Notifiers.Validate("alerts.notifiers") {
		c.add(fe.Path, "%s", fe.Msg)
	}
}

// AlertStateDir is where alert state lives.
func (cfg Config) AlertStateDir() string {
	if cfg.Alerts.StateDir != "" {
		return cfg.Alerts.StateDir
	}
	return filepath.Join(cfg.Spool.Dir, "alerts")
}
