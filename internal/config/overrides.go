package config

import "strings"

// Overrides are command-line values that replace what the file says, so a
// script can point facmon anywhere without editing YAML. Empty means unset.
type Overrides struct {
	MQTTURL         string
	MQTTClientID    string
	SharedGroup     string
	InfluxURL       string
	InfluxBucket    string
	InfluxTokenFile string
	InfluxReadToken string
	Listen          string
	LogLevel        string
	LogFormat       string
	SpoolDir        string
	AlertmanagerURL string
}

// flagOf names the flag that sets a config path, for error messages about
// values that came from the command line rather than the file.
var flagOf = map[string]string{
	"mqtt.url":                      "--mqtt-url",
	"mqtt.client_id":                "--mqtt-client-id",
	"mqtt.shared_group":             "--shared-group",
	"influx.url":                    "--influx-url",
	"influx.bucket":                 "--influx-bucket",
	"influx.token_file":             "--influx-token-file",
	"influx.read_token_file":        "--influx-read-token-file",
	"web.listen":                    "--listen",
	"log.level":                     "--log-level",
	"log.format":                    "--log-format",
	"spool.dir":                     "--spool-dir",
	"alerts.notifiers.alertmanager": "--alertmanager-url",
}

// Apply writes the set overrides into cfg and returns the config paths it
// changed.
func (o Overrides) Apply(cfg *Config) []string {
	var set []string
	apply := func(path string, v string, dst *string) {
		if v != "" {
			*dst = v
			set = append(set, path)
		}
	}
	apply("mqtt.url", o.MQTTURL, &cfg.MQTT.URL)
	apply("mqtt.client_id", o.MQTTClientID, &cfg.MQTT.ClientID)
	apply("mqtt.shared_group", o.SharedGroup, &cfg.MQTT.SharedGroup)
	apply("influx.url", o.InfluxURL, &cfg.Influx.URL)
	apply("influx.bucket", o.InfluxBucket, &cfg.Influx.Bucket)
	apply("influx.token_file", o.InfluxTokenFile, &cfg.Influx.TokenFile)
	apply("influx.read_token_file", o.InfluxReadToken, &cfg.Influx.ReadTokenFile)
	apply("web.listen", o.Listen, &cfg.Web.Listen)
	apply("log.level", o.LogLevel, &cfg.Log.Level)
	apply("log.format", o.LogFormat, &cfg.Log.Format)
	apply("spool.dir", o.SpoolDir, &cfg.Spool.Dir)
	if o.AlertmanagerURL != "" {
		cfg.Alerts.Notifiers.Alertmanager.URLs = strings.Split(o.AlertmanagerURL, ",")
		set = append(set, "alerts.notifiers.alertmanager")
	}
	return set
}

func flagFor(path string, set []string) string {
	for _, p := range set {
		if path == p || strings.HasPrefix(path, p+".") {
			return flagOf[p]
		}
	}
	return ""
}
