package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/internal/backfill"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/service"
	"github.com/facmon/facmon/internal/storage"
)

// backfillRequest is what `facmon simulate --backfill` was asked for.
type backfillRequest struct {
	duration    time.Duration
	until       time.Time
	interval    time.Duration
	wards       []fleet.Ward
	devices     map[string]int
	seed        int64
	cfg         config.Config
	ifNoHistory bool
}

// defaultBackfillSeed makes two runs without --seed write the same points.
const defaultBackfillSeed = 20151001

// backfillWindow is the history's range: it ends at until, cut to the
// interval, and starts DURATION before on a whole hour, so that two runs
// within the same hour start their models at the same instant and write
// the same points.
func backfillWindow(until time.Time, d, interval time.Duration) (from, to time.Time) {
	to = until.Truncate(interval)
	from = to.Add(-d).Truncate(time.Hour)
	return from, to
}

func runBackfill(ctx context.Context, req backfillRequest, stdout io.Writer, log *slog.Logger) error {
	from, to := backfillWindow(req.until, req.duration, req.interval)
	cfg := req.cfg
	token, err := service.InfluxToken(cfg)
	if err != nil {
		return usageError{err}
	}
	iopts := storage.InfluxOptions{URL: cfg.Influx.URL, Bucket: cfg.Influx.Bucket, Org: cfg.Influx.Org, Token: token,
		Timeout: cfg.Influx.Timeout.D(), MaxRetryInterval: cfg.Influx.MaxRetryInterval.D(), CreateDatabase: true}
	if req.ifNoHistory {
		has, err := backfill.HasHistory(ctx, storage.NewInfluxQL(iopts), to)
		if err != nil {
			return fmt.Errorf("backfill: checking %s for history: %w", cfg.Influx.URL, err)
		}
		if has {
			fmt.Fprintf(stdout, "backfill skipped: database %q already holds history\n", cfg.Influx.Bucket)
			return nil
		}
	}
	w := storage.NewInflux(iopts, backfill.RefuseBadPoints{}, log.With("component", "influx"), prometheus.NewRegistry())
	defer w.Close()
	if err := w.Ping(ctx); err != nil {
		return fmt.Errorf("backfill: InfluxDB at %s: %w", cfg.Influx.URL, err)
	}
	fmt.Fprintf(stdout, "backfill: writing %s of %d wards (%s to %s, a reading a device every %s) into %s database %q\n",
		days(req.duration), len(req.wards), from.In(ict).Format("02/01/2006 15:04"), to.In(ict).Format("02/01/2006 15:04"), req.interval, cfg.Influx.URL, cfg.Influx.Bucket)
	start := time.Now()
	last := -1
	st, err := backfill.Run(ctx, backfill.Options{
		Config: cfg, Wards: req.wards, Devices: req.devices, Seed: req.seed,
		From: from, To: to, Interval: req.interval, Writer: w, Log: log,
		Progress: func(done float64) {
			if pct := int(done * 100); pct/10 != last/10 {
				last = pct
				fmt.Fprintf(stdout, "backfill: %3d%% after %s\n", pct, time.Since(start).Round(time.Second))
			}
		},
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	fmt.Fprintf(stdout, "backfill: done, %d points in %s (%.0f points/s); faults planned: %d; facmon down %d times\n",
		st.Total(), took.Round(time.Second), float64(st.Total())/took.Seconds(), len(st.Plan.Incidents), len(st.Plan.FacmonDown))
	for _, in := range st.Plan.Incidents {
		dev := in.Ward
		if in.Device != "" {
			dev += "/" + in.Device
		}
		fmt.Fprintf(stdout, "  fault %-20s %-28s %s – %s\n", in.Kind, dev, in.From.In(ict).Format("02/01 15:04"), in.To.In(ict).Format("02/01 15:04"))
	}
	for _, s := range st.Plan.FacmonDown {
		fmt.Fprintf(stdout, "  facmon down                                   %s – %s\n", s.From.In(ict).Format("02/01 15:04"), s.To.In(ict).Format("02/01 15:04"))
	}
	return nil
}

var ict = time.FixedZone("ICT", 7*3600)

// days says a whole number of days as such ("30 days"), else as Go does.
func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n == 1 {
			return "1 day"
		} else {
			return fmt.Sprintf("%d days", n)
		}
	}
	return d.String()
}
