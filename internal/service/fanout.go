package service

import (
	"context"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/internal/reading"
	"github.com/prometheus/client_golang/prometheus"
)

// fanout hands every reading to storage, to the liveness tracker and,
// without blocking, to the alert engine. Storage decides the ack; alerts
// never hold ingest up. Liveness is fed here, not by the engine, so a
// reading the engine's full queue drops still counts for the status page,
// device_availability and device_liveness, which then agree with what
// InfluxDB holds.
//
// In a shared group the storage connection's fan-out has no observers:
// the group's follower shows liveness and the engine every reading.
type fanout struct {
	store    mqtt.Sink
	observer readingObserver // nil: storage only
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

func (f *fanout) observe(r *reading.Reading) {
	if f.observer != nil {
		f.observer.Observe(r)
	}
}

func (f *fanout) Flush(ctx context.Context) error { return f.store.Flush(ctx) }

// countingSink counts facmon's own points as received once storage took
// them.
type countingSink struct {
	store pointSink
	n     prometheus.Counter
}

func (c countingSink) Deliver(r *reading.Reading, a reading.Acker) error {
	if err := c.store.Deliver(r, a); err != nil {
		return err
	}
	c.n.Inc()
	return nil
}
