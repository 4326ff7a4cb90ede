package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/facmon/facmon/alerts/engine/store"

	"github.com/facmon/facmon/alerts/view"

	"github.com/facmon/facmon/alerts/engine/lifecycle"

	"github.com/facmon/facmon/alerts/api"
	"github.com/facmon/facmon/internal/clientauth"
	"github.com/facmon/facmon/internal/config"
)

// cmdAlerts talks to a running facmon's alert API.
func cmdAlerts(ctx context.Context, args []string, stdout, _ io.Writer) error {
	const synopsis = "alerts list|history|ack ID|unack ID|rules [--url URL] [--token-file F] [--by NAME] [--comment TEXT]"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, "Usage: facmon "+synopsis)
		fmt.Fprintln(stdout, "\n  list               active alerts, most severe first (--ward, --rule, --state firing|pending)")
		fmt.Fprintln(stdout, "  history            incidents of the last 7 days (--from/--to for another range)")
		fmt.Fprintln(stdout, "  ack ID             acknowledge a firing alert and silence it in Alertmanager (needs the API token)")
		fmt.Fprintln(stdout, "  unack ID           withdraw the acknowledgement; its Alertmanager silence is expired")
		fmt.Fprintln(stdout, "  rules              the rules in force, from --config (no server needed)")
		if len(args) == 0 {
			return usagef("want a subcommand")
		}
		return nil
	}
	sub, rest := args[0], args[1:]
	var id string
	if sub == "ack" || sub == "unack" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return usagef("%s needs the alert id (see facmon alerts list)", sub)
		}
		id, rest = rest[0], rest[1:]
	}
	fs := newFlagSet("alerts "+sub, synopsis, stdout)
	base := fs.String("url", "http://127.0.0.1:8080", "facmon's web address")
	tokenFile := fs.String("token-file", "", "file holding the API bearer token (alerts.api_token_file of the server); or env FACMON_API_TOKEN")
	by := fs.String("by", os.Getenv("USER"), "who acknowledges")
	comment := fs.String("comment", "", "acknowledgement comment")
	from := fs.String("from", "", "history from (RFC 3339 or YYYY-MM-DD)")
	to := fs.String("to", "", "history to (RFC 3339 or YYYY-MM-DD)")
	cfgPath := fs.String("config", "", "configuration file (for rules)")
	asJSON := fs.Bool("json", false, "print JSON")
	ward := fs.String("ward", "", "list: only this ward's alerts")
	ruleName := fs.String("rule", "", "list: only this rule's alerts")
	state := fs.String("state", "", "list: only firing or only pending alerts")
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	switch sub {
	case "list":
		var out struct {
			Alerts []view.Alert `json:"alerts"`
		}
		// Page by page: the server answers at most api.MaxLimit at a time.
		q := url.Values{"limit": {strconv.Itoa(api.MaxLimit)}}
		for k, v := range map[string]string{"ward": *ward, "rule": *ruleName, "state": *state} {
			if v != "" {
				q.Set(k, v)
			}
		}
		for {
			var page api.AlertsPage
			if err := getJSON(ctx, client, *base+"/api/alerts?"+q.Encode(), &page); err != nil {
				return err
			}
			out.Alerts = append(out.Alerts, page.Alerts...)
			if page.NextCursor == "" {
				break
			}
			q.Set("cursor", page.NextCursor)
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(out)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tSEVERITY\tALERT\tWARD\tDEVICE\tSINCE\tACK\tSUMMARY")
		for _, a := range out.Alerts {
			since := a.FiringSince
			if a.State != lifecycle.StateFiring {
				since = a.PendingSince
			}
			ack := "-"
			if a.Acked {
				ack = a.AckBy
				if a.SilenceID != "" {
					ack += " [silence " + a.SilenceID + "]"
				} else {
					ack += " [silence pending]"
				}
			}
			if a.Suppressed != "" {
				ack += " (" + a.Suppressed + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.State, a.Severity, a.Rule, a.Ward, a.Device, since.Local().Format("2006-01-02 15:04"), ack, a.SummaryVI)
		}
		return tw.Flush()
	case "history":
		q := url.Values{}
		if *from != "" {
			q.Set("from", *from)
		}
		if *to != "" {
			q.Set("to", *to)
		}
		var out struct {
			Events []store.HistoryEvent `json:"events"`
		}
		if err := getJSON(ctx, client, *base+"/api/alerts/history?"+q.Encode(), &out); err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(out)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tSTATE\tALERT\tWARD\tDEVICE\tBY\tSUMMARY")
		for _, e := range out.Events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Local().Format("2006-01-02 15:04:05"), e.State, e.Rule, e.Ward, e.Device, e.AckBy, e.SummaryVI)
		}
		return tw.Flush()
	case "ack", "unack":
		token := os.Getenv("FACMON_API_TOKEN")
		if *tokenFile != "" {
			t, err := clientauth.ReadSecret(*tokenFile)
			if err != nil {
				return usagef("--token-file: %v", err)
			}
			token = t
		}
		if token == "" {
			return usagef("%s needs the API token: --token-file FILE or FACMON_API_TOKEN", sub)
		}
		if strings.TrimSpace(*by) == "" {
			return usagef("--by NAME is required")
		}
		u := *base + "/api/alerts/" + url.PathEscape(id) + "/ack"
		method, verb := http.MethodPost, "acknowledged"
		var body io.Reader
		if sub == "ack" {
			data, _ := json.Marshal(api.AckRequest{By: *by, Comment: *comment})
			body = bytes.NewReader(data)
		} else {
			method, verb = http.MethodDelete, "acknowledgement withdrawn:"
			u += "?" + url.Values{"by": {*by}}.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, method, u, body)
		if err != nil {
			return usageError{err}
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", sub, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", sub, apiMessage(resp))
		}
		var in view.Alert
		_ = json.NewDecoder(resp.Body).Decode(&in)
		if sub == "ack" {
			fmt.Fprintf(stdout, "%s %s (%s %s/%s) by %s; Alertmanager is silenced for it\n", verb, in.ID, in.Rule, in.Ward, in.Device, in.AckBy)
		} else {
			fmt.Fprintf(stdout, "%s %s (%s %s/%s)\n", verb, in.ID, in.Rule, in.Ward, in.Device)
		}
		return nil
	case "rules":
		cfg, err := config.Load(*cfgPath, config.Overrides{})
		if err != nil {
			return usageError{err}
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tKIND\tSEVERITY\tCLASS\tFOR\tOFFICE HOURS\tWHAT")
		for _, r := range cfg.Alerts.AllRules() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%v\t%s\n", r.Name, r.Kind, r.Severity, r.Class, r.For.D(), r.OfficeHours, r.Doc)
		}
		return tw.Flush()
	}
	return usagef("unknown subcommand %q (want list, history, ack, unack or rules)", sub)
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%w (is facmon running at --url?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", apiMessage(resp))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func apiMessage(resp *http.Response) string {
	var e struct {
		Error string `json:"error"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return fmt.Sprintf("%s: %s", resp.Status, e.Error)
	}
	return resp.Status
}
