package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/internal/reading"
)

// Sink is where an owner's points go: the storage pipeline, which acks a
// point once it is durable in the spool.
type Sink interface {
	Deliver(r *reading.Reading, a reading.Acker) error
}

// GateOptions bound what a non-owner holds.
type GateOptions struct {
	// Hold is how long a point of a ward this instance does not own is
	// kept for a takeover; it must exceed the time an owner's death takes
	// to be noticed (the broker's keepalive and a half). Default 10 min.
	Hold time.Duration
	// MaxHeld caps the points held over all wards; the oldest go first.
	// Default 200,000 (about 40 MB).
	MaxHeld int
}

// Gate passes the points of the wards this instance owns to storage and
// holds the others', to write them if it takes their ward over. Every
// instance computes the same points from the same readings at about the
// same time; the gate makes one of them write each.
type Gate struct {
	opts    GateOptions
	next    Sink
	log     *slog.Logger
	now     func() time.Time
	replays chan []*reading.Reading
	// durable is signalled when every point handed to storage is
	// durable, for the membership to tell the others at once: the
	// sooner they know, the less a survivor writes again.
	durable chan struct{}

	mu      sync.Mutex
	view    View
	held    map[string][]heldPoint
	nHeld   int
	pending map[uint64]time.Time // points handed to storage, not yet durable
	seq     uint64

	metrics gateMetrics
}

type heldPoint struct {
	at time.Time // when this instance made it
	r  *reading.Reading
}

type gateMetrics struct {
	owned, members, held         prometheus.Gauge
	heldTotal, replayed, dropped prometheus.Counter
}

// NewGate builds the gate in front of next. It owns nothing until it is
// given a joined View.
func NewGate(opts GateOptions, next Sink, log *slog.Logger, reg prometheus.Registerer) *Gate {
	if opts.Hold <= 0 {
		opts.Hold = 10 * time.Minute
	}
	if opts.MaxHeld <= 0 {
		opts.MaxHeld = 200_000
	}
	g := &Gate{
		opts: opts, next: next, log: log.With("component", "cluster"), now: time.Now,
		replays: make(chan []*reading.Reading, 64), durable: make(chan struct{}, 1),
		held: map[string][]heldPoint{}, pending: map[uint64]time.Time{},
		metrics: gateMetrics{
			owned: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "facmon_wards_owned", Help: "Wards whose alert events, liveness transitions and availability samples this instance writes.",
			}),
			members: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "facmon_cluster_members", Help: "Live instances of the shared group, this one included once it has joined.",
			}),
			held: prometheus.NewGauge(prometheus.GaugeOpts{
				Name: "facmon_cluster_held_points", Help: "Points of wards owned by another instance, held to be written if this one takes the ward over.",
			}),
			heldTotal: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "facmon_cluster_held_points_total",
				Help: "Points received for a ward another instance owns, and so held rather than written (received + spool replayed + cluster replayed = rejected + written + quarantined + spool + pending + held).",
			}),
			replayed: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "facmon_cluster_replayed_points_total", Help: "Held points written on taking a ward over, which its previous owner had not made durable.",
			}),
			dropped: prometheus.NewCounter(prometheus.CounterOpts{
				Name: "facmon_cluster_held_dropped_total", Help: "Held points let go because cluster.max_held was reached before their hold time ran out.",
			}),
		},
	}
	reg.MustRegister(g.metrics.owned, g.metrics.members, g.metrics.held, g.metrics.heldTotal, g.metrics.replayed, g.metrics.dropped)
	return g
}

// Deliver writes r if this instance owns its ward, and holds a copy
// otherwise. A point without a ward is this instance's own and always
// written.
func (g *Gate) Deliver(r *reading.Reading, a reading.Acker) error {
	now := g.now()
	g.mu.Lock()
	if r.Ward != "" && !g.view.Owns(r.Ward) {
		g.holdLocked(r.Ward, heldPoint{at: now, r: r.Clone()}, now)
		g.mu.Unlock()
		if a != nil {
			a.Ack()
		}
		return nil
	}
	ack := g.trackLocked(now, a)
	g.mu.Unlock()
	return g.next.Deliver(r, ack)
}

// DeliverTick is Deliver for the points a periodic task made at the
// tick at, which the instances of a group share (their ticks are aligned
// to the wall clock): they are all marked pending before the first is
// handed over, so the durable time this instance announces never passes
// at while some of them are not durable, and a survivor compares its own
// points of the same tick with it exactly.
//
// It returns how many points it took, written or held.
func (g *Gate) DeliverTick(at time.Time, rs []*reading.Reading) (int, error) {
	now := g.now()
	acks := make([]reading.Acker, len(rs))
	taken := 0
	g.mu.Lock()
	for i, r := range rs {
		if r.Ward != "" && !g.view.Owns(r.Ward) {
			g.holdLocked(r.Ward, heldPoint{at: at, r: r.Clone()}, now)
			taken++
			continue
		}
		acks[i] = g.trackLocked(at, nil)
	}
	g.mu.Unlock()
	var last error
	for i, r := range rs {
		if acks[i] == nil {
			continue
		}
		if err := g.next.Deliver(r, acks[i]); err != nil {
			acks[i].Ack() // it can never be stored: it holds nothing up
			last = fmt.Errorf("%s of %s/%s: %w", r.Measurement, r.Ward, r.Device, err)
			continue
		}
		taken++
	}
	return taken, last
}

func (g *Gate) trackLocked(at time.Time, a reading.Acker) reading.Acker {
	g.seq++
	id := g.seq
	g.pending[id] = at
	return ackFunc(func() {
		g.mu.Lock()
		delete(g.pending, id)
		caughtUp := len(g.pending) == 0
		g.mu.Unlock()
		if caughtUp {
			select {
			case g.durable <- struct{}{}:
			default:
			}
		}
		if a != nil {
			a.Ack()
		}
	})
}

type ackFunc func()

func (f ackFunc) Ack() { f() }

func (g *Gate) holdLocked(ward string, p heldPoint, now time.Time) {
	g.metrics.heldTotal.Inc()
	hs := g.held[ward]
	cut := 0
	for cut < len(hs) && now.Sub(hs[cut].at) > g.opts.Hold {
		cut++
	}
	hs = append(hs[cut:], p)
	g.held[ward] = hs
	g.nHeld += 1 - cut
	for g.nHeld > g.opts.MaxHeld {
		g.dropOldestLocked()
	}
	g.metrics.held.Set(float64(g.nHeld))
}

func (g *Gate) dropOldestLocked() {
	oldest := ""
	for w, hs := range g.held {
		if len(hs) > 0 && (oldest == "" || hs[0].at.Before(g.held[oldest][0].at)) {
			oldest = w
		}
	}
	if oldest == "" {
		g.nHeld = 0
		return
	}
	g.held[oldest] = g.held[oldest][1:]
	g.nHeld--
	g.metrics.dropped.Inc()
}

// DurableThrough is the time up to which every point this instance had
// to write is durable: the members announce it, and whoever takes a ward
// over from a dead member writes what it held after that time.
func (g *Gate) DurableThrough() time.Time {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	through := now
	for _, at := range g.pending {
		if !at.After(through) {
			through = at.Add(-time.Nanosecond)
		}
	}
	return through
}

// Durable is signalled when every point handed to storage has become
// durable.
func (g *Gate) Durable() <-chan struct{} { return g.durable }

// Owns reports whether this instance writes ward's points now.
func (g *Gate) Owns(ward string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.view.Owns(ward)
}

// SetView takes a new membership view. The wards it gains are written
// from now on, and the points it held for them that their previous owner
// had not made durable are queued for Run to write. It never waits.
func (g *Gate) SetView(next View, wards []string) {
	g.mu.Lock()
	old := g.view
	g.view = next
	var replay []*reading.Reading
	owned := 0
	for _, w := range wards {
		if !next.Owns(w) {
			continue
		}
		owned++
		if old.Owns(w) {
			continue
		}
		after := handoverFrom(old, next, w)
		for _, p := range g.held[w] {
			if p.at.After(after) {
				replay = append(replay, p.r)
			}
		}
		g.nHeld -= len(g.held[w])
		delete(g.held, w)
	}
	g.metrics.owned.Set(float64(owned))
	g.metrics.members.Set(float64(len(next.Live)))
	g.metrics.held.Set(float64(g.nHeld))
	g.mu.Unlock()
	if len(replay) == 0 {
		return
	}
	select {
	case g.replays <- replay:
	default:
		g.log.Warn("takeover replay dropped: too many membership changes at once", "points", len(replay))
	}
}

// Run writes the points queued by takeovers until ctx ends. It runs apart
// from the membership connection because storage may make it wait.
func (g *Gate) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case rs := <-g.replays:
			for _, r := range rs {
				g.mu.Lock()
				ack := g.trackLocked(g.now(), nil)
				g.mu.Unlock()
				if err := g.next.Deliver(r, ack); err != nil {
					g.log.Warn("held point not written on takeover", "measurement", r.Measurement, "ward", r.Ward, "err", err)
					continue
				}
				g.metrics.replayed.Inc()
			}
			if len(rs) > 0 {
				g.log.Info("took wards over: wrote the points their previous owner had not made durable", "points", len(rs))
			}
		}
	}
}
