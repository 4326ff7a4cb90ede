package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/internal/cluster"
)

// sessionAdopter takes over the storage session of a gone instance of the
// group. Mosquitto keeps giving a dead member its share of the readings,
// queued for its client id until it returns (mosquitto #2662): until then
// they would be stored late, stamped with the time they finally arrive,
// and a member that never returns would let its queue fill up and
// overflow. So one survivor (chosen by hashing, as the wards are) connects
// with the gone member's client id, which resumes its session: the broker
// hands it what was in flight and queued, and the share from then on,
// which it stores and acknowledges like its own. It never reconnects that
// session: when the member returns, its connection takes the session back
// and the adoption ends.
type sessionAdopter struct {
	opts   mqtt.Options
	sink   mqtt.Sink
	log    *slog.Logger
	gauge  prometheus.Gauge
	views  chan cluster.View
	mu     sync.Mutex
	active map[string]*adoption
	// received counts what the adopted sessions took, kept when they end,
	// as facmon_readings_received_total{source="mqtt-adopted"}: the
	// invariant of /metrics holds with the readings they stored.
	receivedBefore float64
}

type adoption struct {
	cancel context.CancelFunc
	done   chan struct{}
	ended  time.Time // when it stopped on its own; zero while it runs
	// reg holds the adopted collector's metrics, which would collide
	// with this instance's own collector's.
	reg *prometheus.Registry
}

// adoptRetry is how long after an adoption ended by itself (its connection
// lost, or taken back by an instance with the same client id that is not
// a live member) it is tried again.
const adoptRetry = 10 * time.Second

func newSessionAdopter(opts mqtt.Options, sink mqtt.Sink, log *slog.Logger, reg prometheus.Registerer) *sessionAdopter {
	a := &sessionAdopter{opts: opts, sink: sink, log: log.With("component", "cluster"), views: make(chan cluster.View, 1), active: map[string]*adoption{},
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "facmon_cluster_adopted_sessions",
			Help: "Storage sessions of gone instances of the group that this instance has taken over until they return.",
		})}
	received := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "facmon_readings_received_total", Help: "Readings received, by source (mqtt messages, facmon heartbeats).",
		ConstLabels: prometheus.Labels{"source": "mqtt-adopted"},
	}, a.received)
	reg.MustRegister(a.gauge, received)
	return a
}

func (a *sessionAdopter) received() float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.receivedBefore
	for _, ad := range a.active {
		n += receivedOf(ad.reg)
	}
	return n
}

func receivedOf(reg *prometheus.Registry) float64 {
	fams, err := reg.Gather()
	if err != nil {
		return 0
	}
	n := 0.0
	for _, f := range fams {
		if f.GetName() == "facmon_readings_received_total" {
			for _, m := range f.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// onView takes the latest view without waiting (the membership's OnView).
func (a *sessionAdopter) onView(v cluster.View) {
	select {
	case <-a.views:
	default:
	}
	a.views <- v
}

// Run follows the views until ctx ends, then ends every adoption.
func (a *sessionAdopter) Run(ctx context.Context) error {
	var last cluster.View
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			a.mu.Lock()
			for m := range a.active {
				a.stopLocked(m)
			}
			a.mu.Unlock()
			return nil
		case last = <-a.views:
		case <-tick.C:
		}
		a.reconcile(ctx, last)
	}
}

func (a *sessionAdopter) reconcile(ctx context.Context, v cluster.View) {
	want := map[string]bool{}
	for _, m := range v.Gone() {
		if v.Adopts(m) {
			want[m] = true
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for m, ad := range a.active {
		if !want[m] {
			a.stopLocked(m)
			continue
		}
		select {
		case <-ad.done:
			if ad.ended.IsZero() {
				ad.ended = time.Now()
			}
		default:
		}
	}
	for m := range want {
		ad := a.active[m]
		if ad != nil && (ad.ended.IsZero() || time.Since(ad.ended) < adoptRetry) {
			continue
		}
		a.startLocked(ctx, m)
	}
	running := 0
	for _, ad := range a.active {
		if ad.ended.IsZero() {
			running++
		}
	}
	a.gauge.Set(float64(running))
}

func (a *sessionAdopter) startLocked(ctx context.Context, member string) {
	o := a.opts
	o.Broker.ClientID, o.Broker.NoReconnect = member, true
	reg := prometheus.NewRegistry()
	c, err := mqtt.New(o, a.sink, a.log.With("adopted_session", member), reg)
	if err != nil {
		a.log.Error("cannot take over a gone instance's session", "instance", member, "err", err)
		return
	}
	if old := a.active[member]; old != nil {
		a.receivedBefore += receivedOf(old.reg)
	}
	cctx, cancel := context.WithCancel(ctx)
	ad := &adoption{cancel: cancel, done: make(chan struct{}), reg: reg}
	a.active[member] = ad
	a.log.Warn("taking over the storage session of a gone instance until it returns", "instance", member)
	go func() {
		defer close(ad.done)
		go func() {
			// The connection lost (the member back, taking its session)
			// ends the adoption: it never reconnects.
			wasUp := false
			for {
				select {
				case <-cctx.Done():
					return
				case <-time.After(200 * time.Millisecond):
				}
				up := c.Connected()
				if wasUp && !up {
					cancel()
					return
				}
				wasUp = wasUp || up
			}
		}()
		if err := c.Run(cctx); err != nil {
			a.log.Warn("the taken-over session ended", "instance", member, "err", err)
		}
	}()
}

func (a *sessionAdopter) stopLocked(member string) {
	ad := a.active[member]
	if ad == nil {
		return
	}
	ad.cancel()
	<-ad.done
	a.receivedBefore += receivedOf(ad.reg)
	delete(a.active, member)
	a.log.Info("handed the storage session back", "instance", member)
}
