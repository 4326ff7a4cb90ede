package main

import (
	"context"
	"fmt"
	"io"

	"github.com/facmon/facmon/internal/config/yamlcheck"

	"github.com/facmon/facmon/internal/config"
)

func cmdConfig(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: facmon config check --config FILE [override flags]")
			return nil
		}
		return usagef("want: facmon config check --config FILE")
	}
	fs := newFlagSet("config check", "config check --config FILE [override flags]", stdout)
	path := fs.String("config", "", "the YAML configuration file to check (required)")
	var o config.Overrides
	addOverrideFlags(fs, &o)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *path == "" {
		return usagef("--config FILE is required")
	}
	cfg, err := config.Load(*path, o)
	if err != nil {
		if ps, ok := yamlcheck.AsProblems(err); ok {
			return usagef("%d problem(s):\n%s", len(ps), ps.Error())
		}
		return usageError{err}
	}
	fmt.Fprintf(stdout, "%s: ok: %d offices, %d device classes, %d topic patterns; broker %s, InfluxDB %s bucket %s\n",
		*path, len(cfg.Offices), len(cfg.Profiles), len(cfg.MQTT.Topics), cfg.MQTT.URL, cfg.Influx.URL, cfg.Influx.Bucket)
	return nil
}

// addOverrideFlags declares the flags that override the file, shared by
// every command that reads the configuration.
func addOverrideFlags(fs interface {
	StringVar(p *string, name, value, usage string)
}, o *config.Overrides) {
	fs.StringVar(&o.MQTTURL, "mqtt-url", "", "MQTT broker URL (overrides mqtt.url); with --demo, where the embedded broker listens")
	fs.StringVar(&o.MQTTClientID, "mqtt-client-id", "", "MQTT client id, which also names the instance in a shared group (overrides mqtt.client_id)")
	fs.StringVar(&o.SharedGroup, "shared-group", "", "share the district with the other instances of this group (overrides mqtt.shared_group)")
	fs.StringVar(&o.InfluxURL, "influx-url", "", "InfluxDB URL (overrides influx.url)")
	fs.StringVar(&o.InfluxBucket, "influx-bucket", "", "bucket, or database[/retention-policy] on InfluxDB 1.8 (overrides influx.bucket)")
	fs.StringVar(&o.InfluxReadToken, "influx-read-token-file", "", "file holding the InfluxDB token facmon queries with, when the writing one is write-only (overrides influx.read_token_file)")
	fs.StringVar(&o.InfluxTokenFile, "influx-token-file", "", "file holding the InfluxDB token, user:password on 1.8 (overrides influx.token_file)")
	fs.StringVar(&o.Listen, "listen", "", "web server address host:port (overrides web.listen)")
	fs.StringVar(&o.LogLevel, "log-level", "", "debug, info, warn or error (overrides log.level)")
	fs.StringVar(&o.LogFormat, "log-format", "", "json or text (overrides log.format)")
	fs.StringVar(&o.SpoolDir, "spool-dir", "", "directory of the local disk spool (overrides spool.dir)")
	fs.StringVar(&o.AlertmanagerURL, "alertmanager-url", "", "Alertmanager URL(s), comma-separated for an HA cluster (overrides alerts.notifiers.alertmanager.urls)")
}
