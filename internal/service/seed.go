package service

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/storage"
)

// seedBackoff bounds the waits between attempts at reading the seeds.
const (
	seedFirstRetry = time.Second
	seedMaxRetry   = time.Minute
)

// seedLiveness gives the liveness tracker what InfluxDB holds, so a device
// that fell silent while facmon was stopped is recorded down from its last
// reading instead of being unknown until its next one. It runs beside
// ingest and never holds it up: InfluxDB may be down at the start (the
// spool is there for that), so it is asked again with backoff until it
// answers, however long that takes. A seed that arrives late loses to what
// the tracker learned since the start (liveness.Tracker.Seed keeps the
// newer of both), and the query runs outside the tracker's lock.
func (s *Service) seedLiveness(ctx context.Context, q liveness.Querier, errs prometheus.Counter) {
	lookback := s.cfg.Liveness.SeedLookback.D()
	if lookback <= 0 {
		return
	}
	fields := seedFields(s.cfg.Profiles)
	wait := seedFirstRetry
	for attempt := 1; ; attempt++ {
		seeds, err := liveness.LoadSeeds(ctx, q, fields, lookback, time.Now())
		if storage.IsDatabaseNotFound(err) {
			// A new installation: nothing stored, nothing to seed.
			s.log.Info("liveness not seeded: the InfluxDB database does not exist yet", "bucket", s.cfg.Influx.Bucket)
			return
		}
		if err == nil {
			s.liveness.Seed(seeds)
			for _, sd := range seeds {
				s.collector.RememberDevice(sd.Key.Ward, sd.Key.Class, sd.Key.Device)
			}
			s.log.Info("liveness seeded from InfluxDB", "devices", len(seeds), "attempts", attempt)
			return
		}
		if ctx.Err() != nil {
			return
		}
		errs.Inc()
		s.log.Warn("liveness not seeded from InfluxDB yet: a device silent since before the start is not known down until this succeeds; retrying",
			"err", err, "attempt", attempt, "retry_in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, seedMaxRetry)
	}
}

// seedFields lists each class's profile fields: every stored reading has
// at least one of them (a payload with none is refused), with or without
// the optional seq.
func seedFields(profiles map[string]config.Profile) map[string][]string {
	out := map[string][]string{}
	for c, p := range profiles {
		for f := range p.Fields {
			out[c] = append(out[c], f)
		}
		slices.Sort(out[c])
	}
	return out
}

// newSeedQuerier is the InfluxQL client of the seeding.
func (s *Service) newSeedQuerier() (liveness.Querier, error) {
	token, err := InfluxReadToken(s.cfg)
	if err != nil {
		return nil, err
	}
	return storage.NewInfluxQL(storage.InfluxOptions{
		URL: s.cfg.Influx.URL, Bucket: s.cfg.Influx.Bucket, Org: s.cfg.Influx.Org, Token: token,
		Timeout: s.cfg.Influx.Timeout.D(),
	}), nil
}
