package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/facmon/facmon/alerts/engine"
	"github.com/facmon/facmon/alerts/notify/silence"
	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/internal/cluster"
	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/config/options"
	"github.com/facmon/facmon/internal/reading"
	"github.com/facmon/facmon/internal/storage"
)

// group is what an instance of a shared group (mqtt.shared_group) adds to
// a lone one:
//   - its storage connection subscribes to $share/<group>/..., so it
//     stores the share of readings the broker gives it, and shows them to
//     liveness (a reading seen twice changes nothing there), not to the
//     engine;
//   - a follower (a second, clean-session connection) reads every
//     reading for liveness and the alert engine, so each instance holds
//     the whole district's state, as a Prometheus HA pair does;
//   - the membership connection announces the instance and follows the
//     others; the gate lets the owner of a ward alone write its alert
//     events, liveness transitions, availability samples and scraped app
//     readings, and a survivor write what a dead owner had not.
//
// Heartbeats stay per instance (tagged with the instance): each says
// that instance was collecting, and the reports take their union.
//
// Acknowledgements are shared through the Alertmanager silences they
// create: each instance lists them every AckSyncInterval and takes on
// the ones of the alerts it raises.
type group struct {
	gate       *cluster.Gate
	membership *cluster.Membership
	follower   *mqtt.Follower
	adopter    *sessionAdopter
	acks       func(context.Context) error // nil without Alertmanager
}

// AckSyncInterval is how often an instance of a group lists the
// Alertmanager silences: an acknowledgement taken on one instance shows
// on the others within it.
const AckSyncInterval = 2 * time.Second

// shareAcks follows the silences for the engine.
func (g *group) shareAcks(s *silence.Silencer, e *engine.Engine) {
	g.acks = func(ctx context.Context) error {
		return s.Follow(ctx, AckSyncInterval, func(l silence.Listing) { e.ReconcileSilences(l) })
	}
}

// pointSink takes facmon's own points: storage, or the gate in front of
// it. DeliverTick takes the points a periodic task made at one tick and
// says how many it took.
type pointSink interface {
	Deliver(r *reading.Reading, a reading.Acker) error
	DeliverTick(at time.Time, rs []*reading.Reading) (int, error)
}

// storagePoints is storage as a lone instance's pointSink.
type storagePoints struct{ store *storage.Batcher }

func (s storagePoints) Deliver(r *reading.Reading, a reading.Acker) error {
	return s.store.Deliver(r, a)
}

func (s storagePoints) DeliverTick(_ time.Time, rs []*reading.Reading) (int, error) {
	stored := 0
	var last error
	for _, r := range rs {
		if err := s.store.Deliver(r, noAck{}); err != nil {
			last = fmt.Errorf("%s of %s/%s: %w", r.Measurement, r.Ward, r.Device, err)
			continue
		}
		stored++
	}
	return stored, last
}

func newGroup(cfg config.Config, store cluster.Sink, log *slog.Logger, reg prometheus.Registerer) (*group, error) {
	if cfg.MQTT.SharedGroup == "" {
		return nil, nil
	}
	wards := make([]string, 0, len(cfg.Offices))
	for _, o := range cfg.Offices {
		wards = append(wards, o.ID)
	}
	g := &group{gate: cluster.NewGate(cluster.GateOptions{}, store, log, reg)}
	var err error
	g.membership, err = cluster.NewMembership(cluster.MembershipOptions{
		Broker: options.MQTT(cfg).Broker,
		Group:  cfg.MQTT.SharedGroup,
		Wards:  wards,
		// Set before anything runs (adoptSessions), read only after.
		OnView: func(v cluster.View) {
			if g.adopter != nil {
				g.adopter.onView(v)
			}
		},
	}, g.gate, log, nil)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// adoptSessions makes this instance take over the storage session of a
// gone member it is chosen for, storing into sink.
func (g *group) adoptSessions(cfg config.Config, sink mqtt.Sink, log *slog.Logger, reg prometheus.Registerer) {
	g.adopter = newSessionAdopter(options.MQTT(cfg), sink, log, reg)
}

// follow starts the evaluation connection, which feeds observers.
func (g *group) follow(cfg config.Config, observers readingObserver, log *slog.Logger, reg prometheus.Registerer) error {
	var err error
	g.follower, err = mqtt.NewFollower(options.MQTT(cfg), observers, log, reg)
	return err
}

func (g *group) components() []component {
	cs := []component{
		{"mqtt evaluation", g.follower.Run},
		{"cluster membership", g.membership.Run},
		{"cluster takeovers", g.gate.Run},
		{"cluster session takeovers", g.adopter.Run},
	}
	if g.acks != nil {
		cs = append(cs, component{"shared acknowledgements", g.acks})
	}
	return cs
}

func (g *group) health(context.Context) error {
	if !g.follower.Connected() {
		return errors.New("the evaluation connection (every reading, for liveness and alerts) is not subscribed")
	}
	if !g.membership.View().Joined {
		return errors.New("not joined to the shared group: this instance writes no ward's alert events or liveness")
	}
	return nil
}

// fanOut builds the fan-outs of the MQTT and scrape collectors, and in a
// shared group the connections and takeovers of the group.
func (s *Service) fanOut(cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (scraped *fanout, err error) {
	watchers := observers{s.liveness, s.alerts}
	s.sink = &fanout{store: s.batcher, observer: watchers}
	if s.group == nil {
		return s.sink, nil
	}
	// Liveness sees this instance's share too: after a restart the
	// broker redelivers the backlog of its session here, not to the
	// follower, and the devices in it must count.
	s.sink = &fanout{store: s.batcher, observer: s.liveness}
	if err := s.group.follow(cfg, watchers, log, reg); err != nil {
		return nil, err
	}
	if s.silencer != nil {
		s.group.shareAcks(s.silencer, s.alerts)
	}
	s.group.adoptSessions(cfg, s.sink, log, reg)
	return &fanout{store: gatedStore{s.group.gate}, observer: watchers}, nil
}

// observers shows a reading to liveness first, then the engine: absence
// rules judge a device with its latest reading counted.
type observers []readingObserver

func (os observers) Observe(r *reading.Reading) {
	for _, o := range os {
		o.Observe(r)
	}
}

// gatedStore is the gate as the fan-out's store, for the scraped apps'
// readings, which the owner of their ward writes.
type gatedStore struct{ g *cluster.Gate }

func (s gatedStore) Deliver(r *reading.Reading, a reading.Acker) error { return s.g.Deliver(r, a) }
func (s gatedStore) Offer(r *reading.Reading, a reading.Acker) (bool, error) {
	return true, s.g.Deliver(r, a)
}
func (gatedStore) Flush(context.Context) error { return nil }
