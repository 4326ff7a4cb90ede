package service

import (
	"context"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/storage"
	"github.com/prometheus/client_golang/prometheus"
)

// fanout hands every reading to storage, to the liveness tracker and,
// without blocking, to the alert engine. Storage decides the ack; alerts
// never hold ingest up. Liveness is fed here, not by the engine, so a
// reading the engine's full queue drops still counts for the status page,
// device_availability and device_liveness, which then agree with what
// InfluxDB holds.
type fanout struct {
	store    mqtt.Sink
	liveness readingObserver
	alerts   readingObserver
}

// readingObserver takes a lent reading without waiting.
type readingObserver interface{ Observe(*reading.Reading) }

func (f *fanout) Deliver(r *reading.Reading, a reading.Acker) error {
	f.observe(r)
	return f.store.Deliver(r, a)
}

// Offer shows liveness and the engine only what storage took, so a
// reading refused now and delivered later is observed once.
func (f *fanout) Offer(r *reading.Reading, a reading.Acker) (bool, error) {
	ok, err := f.store.Offer(r, a)
	if ok {
		f.observe(r)
	}
	return ok, err
}

// observe feeds liveness before the engine: absence rules judge a device
// with its latest reading counted.
func (f *fanout) observe(r *reading.Reading) {
	f.liveness.Observe(r)
	f.alerts.Observe(r)
}

func (f *fanout) Flush(ctx context.Context) error { return f.store.Flush(ctx) }

// countingSink counts facmon's own points as received once storage took
// them.
type countingSink struct {
	store *storage.Batcher
	n     prometheus.Counter
}

func (c countingSink) Deliver(r *reading.Reading, a reading.Acker) error {
	if err := c.store.Deliver(r, a); err != nil {
		return err
	}
	c.n.Inc()
	return nil
}
