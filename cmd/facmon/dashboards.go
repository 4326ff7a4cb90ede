package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/config/yamlcheck"

	"github.com/facmon/facmon/dashboards"
	"github.com/facmon/facmon/dashboards/grafana"
	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/config"
)

// cmdDashboards exports facmon's Grafana dashboards as JSON files or pushes
// them through Grafana's HTTP API.
func cmdDashboards(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "dashboards export|push [flags]"
	if len(args) == 0 || (args[0] != "export" && args[0] != "push") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: facmon "+synopsis)
			fmt.Fprintln(stdout, "\n  export  write one JSON file per dashboard (--dir DIR), for Grafana's file provisioning")
			fmt.Fprintln(stdout, "  push    create or update the folder, optionally the datasource, and every dashboard in a Grafana (--grafana-url URL)")
			fmt.Fprintln(stdout, "\nfacmon dashboards export --help and facmon dashboards push --help list their flags.")
			return nil
		}
		return usagef("want: facmon %s", synopsis)
	}
	if args[0] == "export" {
		return dashboardsExport(args[1:], stdout)
	}
	return dashboardsPush(ctx, args[1:], stdout, stderr)
}

// dashboardFlags are the flags that choose what is generated.
type dashboardFlags struct {
	config, lang string
}

func (f *dashboardFlags) add(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	fs.StringVar(&f.config, "config", "", "YAML configuration file whose offices the dashboards show (default: built-in defaults, the 13 wards of Hải Châu)")
	fs.StringVar(&f.lang, "lang", string(dashboards.Vietnamese), "language of the dashboards' text: vi or en")
}

// build generates the dashboards, and returns the configuration they were
// generated from.
func (f *dashboardFlags) build() ([]dashboards.Board, dashboards.Lang, config.Config, error) {
	lang, err := dashboards.ParseLang(f.lang)
	if err != nil {
		return nil, "", config.Config{}, usagef("--lang: %v", err)
	}
	cfg, err := config.Load(f.config, config.Overrides{})
	if err != nil {
		if ps, ok := yamlcheck.AsProblems(err); ok {
			return nil, "", cfg, usagef("%d problem(s):\n%s", len(ps), ps.Error())
		}
		return nil, "", cfg, usageError{err}
	}
	boards, err := dashboards.All(dashboards.Options{Lang: lang, Offices: cfg.Offices})
	if err != nil {
		return nil, "", cfg, usageError{err}
	}
	return boards, lang, cfg, nil
}

func dashboardsExport(args []string, stdout io.Writer) error {
	fs := newFlagSet("dashboards export", "dashboards export --dir DIR [--lang vi|en] [--config FILE]", stdout)
	dir := fs.String("dir", "", "directory to write the dashboards' JSON files into, created if missing (required); the repository keeps them in deploy/grafana/dashboards")
	var f dashboardFlags
	f.add(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		return usagef("--dir DIR is required")
	}
	boards, _, _, err := f.build()
	if err != nil {
		return err
	}
	paths, err := dashboards.Export(*dir, boards)
	if err != nil {
		return err
	}
	for i, p := range paths {
		fmt.Fprintf(stdout, "%s  %s\n", p, boards[i].Title())
	}
	fmt.Fprintf(stdout, "%d dashboards written to %s\n", len(paths), *dir)
	return nil
}

func dashboardsPush(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := newFlagSet("dashboards push",
		"dashboards push --grafana-url URL [--token-file F] [--lang vi|en] [--config FILE] [--with-datasource [--influx-url URL] [--influx-db NAME] [--influx-token-file F] [--prometheus-url URL]]", stdout)
	grafanaURL := fs.String("grafana-url", "", "Grafana's root URL, with its sub-path if any, e.g. https://grafana.example.vn or https://host/grafana (required)")
	tokenFile := fs.String("token-file", "", "file holding a Grafana service-account token (Editor role; Admin with --with-datasource); default: the GRAFANA_TOKEN environment variable")
	message := fs.String("message", "", "message in the dashboards' version history (default: facmon dashboards push, with the version)")
	timeout := fs.Duration("timeout", 30*time.Second, "timeout of each request to Grafana")
	withDS := fs.Bool("with-datasource", false, "also create or update the InfluxDB datasource (uid "+dashboards.InfluxUID+"), and the Prometheus one with --prometheus-url")
	influxURL := fs.String("influx-url", "", "with --with-datasource: InfluxDB URL as Grafana's server reaches it (default: influx.url of the configuration)")
	influxDB := fs.String("influx-db", "", "with --with-datasource: InfluxQL database (default: the database of influx.bucket, facmon)")
	influxTokenFile := fs.String("influx-token-file", "", "with --with-datasource: file holding the datasource's InfluxDB credentials: user:password (1.8) or a read token (2.x/3.x); default: none")
	promURL := fs.String("prometheus-url", "", "with --with-datasource: URL of the Prometheus that scrapes facmon, for the facmon-itself dashboard (default: that datasource is left alone)")
	var f dashboardFlags
	f.add(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *grafanaURL == "" {
		return usagef("--grafana-url URL is required")
	}
	if !strings.HasPrefix(*grafanaURL, "http://") && !strings.HasPrefix(*grafanaURL, "https://") {
		return usagef("--grafana-url %q: want an http:// or https:// URL", *grafanaURL)
	}
	if !*withDS && (*influxURL != "" || *influxDB != "" || *influxTokenFile != "" || *promURL != "") {
		return usagef("--influx-url, --influx-db, --influx-token-file and --prometheus-url need --with-datasource")
	}
	token, err := grafanaToken(*tokenFile)
	if err != nil {
		return err
	}
	boards, lang, cfg, err := f.build()
	if err != nil {
		return err
	}
	opts := grafana.PushOptions{
		URL:      *grafanaURL,
		Token:    token,
		Lang:     lang,
		Message:  *message,
		Client:   &http.Client{Timeout: *timeout},
		Progress: stdout,
	}
	if opts.Message == "" {
		opts.Message = "facmon dashboards push (facmon " + version + ")"
	}
	if *withDS {
		ds := &grafana.InfluxDatasource{URL: *influxURL, Database: *influxDB}
		if ds.URL == "" {
			ds.URL = cfg.Influx.URL
		}
		if ds.Database == "" {
			ds.Database, _, _ = strings.Cut(cfg.Influx.Bucket, "/")
		}
		if *influxTokenFile != "" {
			secret, err := clientauth.ReadSecret(*influxTokenFile)
			if err != nil {
				return usagef("--influx-token-file: %v", err)
			}
			if user, pass, ok := strings.Cut(secret, ":"); ok {
				ds.User, ds.Password = user, pass
			} else {
				ds.Token = secret
			}
		}
		opts.Influx = ds
		if *promURL != "" {
			opts.Prometheus = &grafana.PrometheusDatasource{URL: *promURL}
		}
	}
	if err := grafana.Push(boards, opts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d dashboards pushed to folder %s of %s\n", len(boards), dashboards.FolderUID, *grafanaURL)
	return nil
}

// grafanaToken reads the service-account token from the file, else from
// GRAFANA_TOKEN. It is never printed.
func grafanaToken(file string) (string, error) {
	if file != "" {
		token, err := clientauth.ReadSecret(file)
		if err != nil {
			return "", usagef("--token-file: %v", err)
		}
		token = strings.TrimSpace(token)
		if token == "" {
			return "", usagef("--token-file %s is empty", file)
		}
		return token, nil
	}
	if token := strings.TrimSpace(os.Getenv("GRAFANA_TOKEN")); token != "" {
		return token, nil
	}
	return "", usageError{errors.New("no Grafana token: give --token-file FILE or set GRAFANA_TOKEN to a service-account token")}
}
