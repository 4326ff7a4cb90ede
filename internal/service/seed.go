package service

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/storage"
)

// seedLookback is how far back start-up looks for what devices last did:
// longer than any stop of facmon worth reporting, short enough that a
// device removed long ago is not brought back.
const seedLookback = 14 * 24 * time.Hour

// seedLiveness gives the liveness tracker what InfluxDB holds, so a device
// that fell silent while facmon was stopped is recorded down from its last
// reading. InfluxDB may be down at start: it is tried again with backoff
// while the first heartbeat lasts, and start-up never waits for it.
func (s *Service) seedLiveness(ctx context.Context, errs prometheus.Counter) {
	token, err := InfluxToken(s.cfg)
	if err != nil {
		s.log.Warn("liveness not seeded from InfluxDB", "err", err)
		return
	}
	q := storage.NewInfluxQL(storage.InfluxOptions{URL: s.cfg.Influx.URL, Bucket: s.cfg.Influx.Bucket, Org: s.cfg.Influx.Org, Token: token, Timeout: s.cfg.Influx.Timeout.D()})
	fields := map[string][]string{}
	for c, p := range s.cfg.Profiles {
		for f := range p.Fields {
			fields[c] = append(fields[c], f)
		}
		slices.Sort(fields[c])
	}
	wait := time.Second
	for attempt := 1; ; attempt++ {
		seeds, err := liveness.LoadSeeds(ctx, q, fields, seedLookback, time.Now())
		if err == nil {
			s.liveness.Seed(seeds)
			s.log.Info("liveness seeded from InfluxDB", "devices", len(seeds))
			return
		}
		errs.Inc()
		if attempt == 6 || ctx.Err() != nil {
			s.log.Warn("liveness not seeded from InfluxDB: devices silent since before the start are recorded from their next reading only", "err", err)
			return
		}
		s.log.Info("liveness seed: InfluxDB not answering yet; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}
