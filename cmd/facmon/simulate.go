package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/backfill"
	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/config"
	human "github.com/facmon/facmon/internal/duration"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/logging"
	"github.com/facmon/facmon/internal/simulator"
	"github.com/facmon/facmon/internal/simulator/publisher"
)

// faultList collects repeated --fault flags.
type faultList []simulator.Fault

func (f *faultList) String() string {
	parts := make([]string, len(*f))
	for i, x := range *f {
		parts[i] = x.String()
	}
	return strings.Join(parts, " ")
}

func (f *faultList) Set(s string) error {
	x, err := simulator.ParseFault(s)
	if err != nil {
		return err
	}
	*f = append(*f, x)
	return nil
}

func cmdSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("simulate", "simulate --mqtt-url URL [--wards N] [--devices door=2,hvac=3,server=1,camera=4] [--interval 10s] [--duration D] [--fault KIND@WARD/DEVICE[,after=D][,for=D]]...\n       facmon simulate --backfill DURATION [--interval 1m] [--wards N] [--devices …] [--seed S] [--until TIME] --influx-url URL --influx-bucket B", stdout)
	def := simulator.DefaultConfig()
	mqttURL := fs.String("mqtt-url", "tcp://127.0.0.1:1883", "broker to publish to (tcp://, ssl://, ws://)")
	wards := fs.Int("wards", len(def.Wards), "how many of the 13 Hải Châu wards to simulate (1-13)")
	devices := fs.String("devices", "door=2,hvac=3,server=1,camera=4", "devices per ward and class")
	interval := fs.Duration("interval", def.Interval, "telemetry interval of each device")
	duration := fs.Duration("duration", 0, "stop after this long (0: until Ctrl-C)")
	mode := fs.String("mode", simulator.ModePerDevice, "per-device (an MQTT client and last will per device) or gateway (one connection per ward, for large fleets)")
	seed := fs.Int64("seed", time.Now().UnixNano(), "random seed, for a reproducible run")
	username := fs.String("username", "", "MQTT username")
	passwordFile := fs.String("password-file", "", "file holding the MQTT password")
	caFile := fs.String("tls-ca-file", "", "CA certificate for ssl:// brokers")
	certFile := fs.String("tls-cert-file", "", "client certificate")
	keyFile := fs.String("tls-key-file", "", "client key")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	appsListen := addAppsFlag(fs)
	backfillFor := fs.String("backfill", "", "instead of publishing, write the fleet's simulated history of this long (e.g. 30d, 72h) straight into InfluxDB, ending now: readings, statuses, liveness, alert events, app metrics, with a month's faults")
	until := fs.String("until", "", "with --backfill: the end of the history, RFC 3339 (default now); the same --until writes the same points")
	ifNoHistory := fs.Bool("if-no-history", false, "with --backfill: do nothing when the database already holds more than a day of history")
	configPath := fs.String("config", "", "with --backfill: the facmon configuration whose rules, offices and heartbeats the history follows (default: built-in defaults)")
	influxURL := fs.String("influx-url", "", "with --backfill: InfluxDB URL (default: the configuration's influx.url)")
	influxBucket := fs.String("influx-bucket", "", "with --backfill: bucket, or database on InfluxDB 1.8 (default: the configuration's influx.bucket)")
	influxTokenFile := fs.String("influx-token-file", "", "with --backfill: file holding the InfluxDB token, user:password on 1.8")
	var faults faultList
	fs.Var(&faults, "fault", "inject a fault, repeatable: door-stuck-open, ac-failure, camera-not-recording, disk-filling, device-offline (KIND@WARD/DEVICE), ward-outage, app-down, queue-stuck (KIND@WARD); optional ,after=30s,for=5m")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *backfillFor == "" {
		for _, name := range []string{"until", "if-no-history", "config", "influx-url", "influx-bucket", "influx-token-file"} {
			if set[name] {
				return usagef("--%s: only with --backfill", name)
			}
		}
	}
	devs, err := simulator.ParseDevices(*devices)
	if err != nil {
		return usagef("--devices: %v", err)
	}
	if *wards < 1 || *wards > len(def.Wards) {
		return usagef("--wards: want 1 to %d, got %d", len(def.Wards), *wards)
	}
	if *backfillFor != "" {
		req := backfillRequest{wards: def.Wards[:*wards], devices: devs, seed: defaultBackfillSeed, interval: time.Minute, until: time.Now(), ifNoHistory: *ifNoHistory}
		d, err := human.Parse(*backfillFor)
		if req.duration = d.D(); err != nil || req.duration <= 0 {
			return usagef("--backfill %q: want a positive duration such as 30d or 72h", *backfillFor)
		}
		if set["interval"] {
			req.interval = *interval
		}
		if req.interval < time.Second || req.interval > time.Hour {
			return usagef("--interval %s: want 1s to 1h", req.interval)
		}
		if set["seed"] {
			req.seed = *seed
		}
		if *until != "" {
			if req.until, err = time.Parse(time.RFC3339, *until); err != nil {
				return usagef("--until %q: want an RFC 3339 time such as 2026-12-01T00:00:00+07:00", *until)
			}
		}
		if len(faults) > 0 || set["duration"] || set["mode"] || *appsListen != "" {
			return usagef("--backfill plans its own faults and writes to InfluxDB: --fault, --duration, --mode and --apps-listen do not apply")
		}
		req.cfg, err = config.Load(*configPath, config.Overrides{InfluxURL: *influxURL, InfluxBucket: *influxBucket, InfluxTokenFile: *influxTokenFile})
		if err != nil {
			return usageError{err}
		}
		req.cfg.Maintenance = append(req.cfg.Maintenance, backfill.DemoMaintenance())
		return runBackfill(ctx, req, stdout, logging.New(stderr, *logLevel, "text"))
	}
	cfg := def
	cfg.BrokerURL = *mqttURL
	cfg.Wards = def.Wards[:*wards]
	cfg.Devices = devs
	cfg.Interval = *interval
	cfg.Duration = *duration
	cfg.Faults = faults
	cfg.Seed = *seed
	cfg.ClientMode = *mode
	cfg.Username = *username
	if *passwordFile != "" {
		pw, err := clientauth.ReadSecret(*passwordFile)
		if err != nil {
			return usagef("--password-file: %v", err)
		}
		cfg.Password = pw
	}
	tlsCfg := clientauth.TLS{CAFile: *caFile, CertFile: *certFile, KeyFile: *keyFile}
	if tlsCfg.Enabled() {
		tc, err := tlsCfg.Build("tls")
		if err != nil {
			return usagef("--tls-ca-file, --tls-cert-file or --tls-key-file: %v", err)
		}
		cfg.TLS = tc
	}
	log := logging.New(stderr, *logLevel, "text")
	sim, err := publisher.New(cfg, log)
	if err != nil {
		return usageError{err}
	}
	if *appsListen != "" {
		stopApps, err := runSimulatedApps(ctx, *appsListen, cfg, log, stdout)
		if err != nil {
			return err
		}
		defer stopApps()
	}
	fmt.Fprintf(stdout, "simulating %d wards × %d devices every %s to %s\n", len(cfg.Wards), countDevices(devs), cfg.Interval, cfg.BrokerURL)
	if err := sim.Run(ctx); err != nil {
		return err
	}
	st := sim.Stats()
	var total uint64
	for _, n := range st.Telemetry {
		total += n
	}
	fmt.Fprintf(stdout, "published %d telemetry messages (%v), %d publish errors\n", total, st.Telemetry, st.PublishErrors)
	for _, e := range sim.FaultEvents() {
		fmt.Fprintf(stdout, "fault %s %s/%s from %s to %s\n", e.Kind, e.Ward, e.Device, e.Start.Format(time.RFC3339), e.End.Format(time.RFC3339))
	}
	return nil
}

func countDevices(d map[string]int) int {
	n := 0
	for _, v := range d {
		n += v
	}
	return n
}

// newDemoSimulator is the in-process simulator of `run --demo`: the 13
// wards of the configuration publishing to the embedded broker.
func newDemoSimulator(cfg config.Config, log *slog.Logger) (*publisher.Simulator, error) {
	sc := simulator.DefaultConfig()
	sc.BrokerURL = cfg.MQTT.URL
	sc.Wards = sc.Wards[:0]
	for _, o := range cfg.Offices {
		sc.Wards = append(sc.Wards, fleet.Ward{ID: o.ID, Name: o.Name})
	}
	sc.Seed = time.Now().UnixNano()
	return publisher.New(sc, log)
}
