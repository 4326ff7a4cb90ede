package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/logging"
	"github.com/facmon/facmon/internal/service"
	"github.com/facmon/facmon/internal/storage"
)

// cmdQuarantine shows or replays the points InfluxDB refused for good.
func cmdQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "quarantine list|replay [--config FILE] [override flags]"
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprintln(stdout, "Usage: facmon "+synopsis)
			fmt.Fprintln(stdout, "\n  list    count the quarantined points by the reason InfluxDB gave")
			fmt.Fprintln(stdout, "  replay  send them to InfluxDB again (after fixing the cause); refused ones stay quarantined")
			return nil
		}
		return usagef("want: facmon %s", synopsis)
	}
	sub := args[0]
	fs := newFlagSet("quarantine "+sub, synopsis, stdout)
	path := fs.String("config", "", "YAML configuration file (default: built-in defaults)")
	var o config.Overrides
	addOverrideFlags(fs, &o)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(*path, o)
	if err != nil {
		return usageError{err}
	}
	q := storage.NewQuarantine(service.QuarantinePath(cfg))
	if sub == "list" {
		return listQuarantine(q.Path(), stdout)
	}
	log := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	influx, err := service.NewInflux(cfg, q, log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	defer influx.Close()
	n, err := q.Replay(ctx, influx)
	if err != nil {
		return fmt.Errorf("replayed %d points, then: %w", n, err)
	}
	left, _ := countQuarantined(q.Path())
	fmt.Fprintf(stdout, "replayed %d points from %s; %d refused again and kept there\n", n, q.Path(), left)
	return nil
}

func listQuarantine(path string, w io.Writer) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		fmt.Fprintf(w, "%s: no quarantined points\n", path)
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	reasons := map[string]int{}
	var order []string
	total := 0
	reason := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			// "# TIME status=N message": group by status and message.
			if _, rest, ok := strings.Cut(line[2:], " "); ok {
				reason = rest
			}
			continue
		}
		if line == "" {
			continue
		}
		if _, seen := reasons[reason]; !seen {
			order = append(order, reason)
		}
		reasons[reason]++
		total++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d quarantined points\n", path, total)
	for _, r := range order {
		fmt.Fprintf(w, "%8d  %s\n", reasons[r], r)
	}
	return nil
}

func countQuarantined(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			n++
		}
	}
	return n, nil
}
