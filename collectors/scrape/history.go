package scrape

import (
	"context"
	"time"

	"github.com/facmon/facmon/internal/reading"
)

// Readings is what the collector stores for one scrape of target st that
// started at start and took took: the scrape verdict (up, samples,
// duration) and, when body parsed, its series. A failed fetch is given as
// fetchErr with no body. It serves history written without a live scrape
// (`facmon simulate --backfill`), so that history has exactly the points a
// live scrape leaves.
func Readings(ctx context.Context, st Target, in TimeBounds, body []byte, contentType string, fetchErr error, start time.Time, took time.Duration) ([]*reading.Reading, error) {
	t, err := newTarget(0, st, in)
	if err != nil {
		return nil, err
	}
	var res mapped
	up := int64(0)
	if fetchErr == nil {
		fams, err := parse(ctx, body, contentType)
		if err == nil {
			res = mapFamilies(fams, t.mt, start)
			up = 1
		}
	}
	out := make([]*reading.Reading, 0, 1+len(res.Readings))
	out = append(out, verdict(t, start, took, res.Samples, up))
	return append(out, res.Readings...), nil
}

// verdict is the point that says whether a scrape succeeded.
func verdict(t *target, start time.Time, took time.Duration, samples int, up int64) *reading.Reading {
	return &reading.Reading{
		Measurement: MeasurementScrape,
		Ward:        t.cfg.Ward,
		Class:       ClassApp,
		Device:      t.cfg.App,
		Extra:       t.mt.Labels,
		Fields: []reading.Field{
			{Key: FieldDuration, Kind: reading.Float, Float: took.Seconds()},
			{Key: FieldSamples, Kind: reading.Int, Int: int64(samples)},
			{Key: FieldUp, Kind: reading.Int, Int: up},
		},
		Time:     start,
		Received: start,
	}
}
