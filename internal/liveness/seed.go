package liveness

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/facmon/facmon/internal/storage"
)

// A device that fell silent while facmon was stopped says nothing when
// facmon starts again: without what InfluxDB holds, the tracker would not
// know it, and the reports would count its silence as up. So at start-up
// the tracker is seeded with each device's last reading, last status and
// last recorded liveness transition.

// Seed is what InfluxDB holds of one device.
type Seed struct {
	Key
	LastSeen    time.Time
	StatusKnown bool
	StatusUp    bool
	StatusAt    time.Time
	// Recorded is set when a device_liveness transition exists; RecordedUp
	// is its value, so a device already recorded down is not recorded again.
	Recorded   bool
	RecordedUp bool
	RecordedAt time.Time
}

// Querier runs InfluxQL; storage.InfluxQL satisfies it.
type Querier interface {
	Query(ctx context.Context, q string) ([]storage.Result, error)
}

// LoadSeeds reads the seeds of every device heard from within lookback of
// now: the newest point of any profile field of each class measurement
// (fields maps a class to its fields: a reading carries some of them, and
// InfluxQL's last(*) gives no time), the last device_status and the last
// device_liveness point.
func LoadSeeds(ctx context.Context, q Querier, fields map[string][]string, lookback time.Duration, now time.Time) ([]Seed, error) {
	since := strconv.FormatInt(now.Add(-lookback).UnixNano(), 10)
	var stmts []string
	for c, fs := range fields {
		for _, f := range fs {
			stmts = append(stmts, fmt.Sprintf("SELECT last(%s) FROM %s WHERE time > %s GROUP BY ward, class, device",
				storage.QuoteIdent(f), storage.QuoteIdent(c), since))
		}
	}
	telemetry := len(stmts)
	stmts = append(stmts,
		fmt.Sprintf("SELECT last(%s) FROM %s WHERE time > %s GROUP BY ward, class, device", storage.QuoteIdent("up"), storage.QuoteIdent("device_status"), since),
		fmt.Sprintf("SELECT last(%s) FROM %s WHERE time > %s GROUP BY ward, class, device", storage.QuoteIdent("up"), storage.QuoteIdent(MeasurementTransitions), since))
	res, err := q.Query(ctx, strings.Join(stmts, "; "))
	if err != nil {
		return nil, fmt.Errorf("liveness seeds: %w", err)
	}
	seeds := map[Key]*Seed{}
	get := func(s storage.Series) *Seed {
		k := Key{s.Tags["ward"], s.Tags["class"], s.Tags["device"]}
		if k.Ward == "" || k.Device == "" {
			return nil
		}
		sd := seeds[k]
		if sd == nil {
			sd = &Seed{Key: k}
			seeds[k] = sd
		}
		return sd
	}
	for i, r := range res {
		for _, s := range r.Series {
			sd := get(s)
			if sd == nil || len(s.Values) == 0 {
				continue
			}
			at := s.Time(0)
			var up int64
			if len(s.Values[0]) > 1 {
				up, _ = storage.Int(s.Values[0][1])
			}
			switch {
			case i < telemetry:
				if at.After(sd.LastSeen) {
					sd.LastSeen = at
				}
			case i == telemetry:
				sd.StatusKnown, sd.StatusUp, sd.StatusAt = true, up == 1, at
			default:
				sd.Recorded, sd.RecordedUp, sd.RecordedAt = true, up == 1, at
			}
		}
	}
	out := make([]Seed, 0, len(seeds))
	for _, sd := range seeds {
		out = append(out, *sd)
	}
	return out, nil
}

// Seed adds what InfluxDB holds to the tracker. What the tracker already
// saw since start-up wins where it is newer.
func (t *Tracker) Seed(seeds []Seed) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, sd := range seeds {
		s := t.devices[sd.Key]
		if s == nil {
			s = &State{Key: sd.Key}
			t.devices[sd.Key] = s
		}
		if sd.LastSeen.After(s.LastSeen) {
			s.LastSeen = sd.LastSeen
		}
		if sd.StatusKnown && (!s.StatusKnown || sd.StatusAt.After(s.StatusAt)) {
			s.StatusKnown, s.StatusUp, s.StatusAt = true, sd.StatusUp, sd.StatusAt
		}
		if sd.Recorded && !s.recorded {
			s.recorded, s.recordedUp, s.recordedAt = true, sd.RecordedUp, sd.RecordedAt
			// Recorded down before the stop and heard from since the
			// start: it came back at its first sign of life here, not at
			// its latest.
			if !sd.RecordedUp && !s.firstLife.IsZero() {
				s.backAt = s.firstLife
			}
		}
	}
}
