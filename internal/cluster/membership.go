package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/facmon/facmon/collectors/mqtt"
	"github.com/facmon/facmon/collectors/mqtt/connection"
	"github.com/facmon/facmon/internal/redact"
)

// TopicRoot is where the members announce themselves:
// <TopicRoot>/<group>/members/<instance>. It lies outside the devices'
// topics, so no telemetry route can match it.
const TopicRoot = "facmon-cluster"

// MembershipClientSuffix ends the client id of an instance's membership
// connection.
const MembershipClientSuffix = "-cluster"

// Status is a member's retained announcement. The broker publishes the
// offline one as the member's last will when its connection dies.
type Status struct {
	Instance string    `json:"instance"`
	State    string    `json:"state"` // online or offline
	At       time.Time `json:"at"`
	// DurableThrough: every point the member had to write up to this
	// time is durable in its spool.
	DurableThrough time.Time `json:"durable_through,omitzero"`
}

// MembershipOptions say which group to join, as whom, and how often to
// tell the others.
type MembershipOptions struct {
	// Broker is the instance's broker session; its client id names the
	// instance, and the membership connection uses it with
	// MembershipClientSuffix.
	Broker mqtt.Broker
	Group  string
	// Wards are the offices whose ownership is shared.
	Wards []string
	// Beat is how often a member renews its status (default 1 s); a
	// member not heard from for StaleAfter (default the keepalive and a
	// half) counts as gone even if the broker kept its online status,
	// as after a broker restart that lost the will.
	Beat, StaleAfter time.Duration
	// Settle is how long after subscribing an instance waits for the
	// others' retained statuses before it owns anything (default 1 s).
	Settle time.Duration
	// OnView, if set, is told every new view after the gate; it must not
	// wait.
	OnView func(View)
}

// Membership is an instance's membership connection: it announces the
// instance, follows the others and gives the gate each new View.
type Membership struct {
	opts   MembershipOptions
	self   string
	gate   *Gate
	log    *slog.Logger
	client paho.Client
	now    func() time.Time

	mu      sync.Mutex
	joined  bool
	online  time.Time
	members map[string]*member
	last    []string // the live set last given to the gate
}

type member struct {
	online  bool
	heard   time.Time
	durable time.Time
}

// NewMembership builds the membership connection of the instance named
// by opts.Broker.ClientID; it feeds gate.
func NewMembership(opts MembershipOptions, gate *Gate, log *slog.Logger, factory mqtt.ClientFactory) (*Membership, error) {
	if opts.Beat <= 0 {
		opts.Beat = time.Second
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = max(3*opts.Beat, opts.Broker.KeepAlive*3/2)
	}
	if opts.Settle <= 0 {
		opts.Settle = time.Second
	}
	m := &Membership{
		opts: opts, self: opts.Broker.ClientID, gate: gate, now: time.Now,
		log:     log.With("component", "cluster", "group", opts.Group, "instance", opts.Broker.ClientID),
		members: map[string]*member{},
	}
	b := opts.Broker
	b.ClientID += MembershipClientSuffix
	po, err := connection.BaseOptions(b)
	if err != nil {
		return nil, err
	}
	will, _ := json.Marshal(Status{Instance: m.self, State: "offline"})
	po.SetCleanSession(true).
		SetBinaryWill(m.topic(m.self), will, 1, true).
		SetOrderMatters(true).
		SetDefaultPublishHandler(m.handle).
		SetOnConnectHandler(m.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			m.log.Warn("cluster connection lost: this instance owns no ward until it is back", "err", err)
			m.mu.Lock()
			m.joined = false
			m.mu.Unlock()
			m.publishView()
		})
	if factory == nil {
		factory = func(o *paho.ClientOptions) paho.Client { return paho.NewClient(o) }
	}
	m.client = factory(po)
	return m, nil
}

func (m *Membership) topic(instance string) string {
	return TopicRoot + "/" + m.opts.Group + "/members/" + instance
}

// Run joins the group and follows it until ctx ends, then announces the
// instance offline so its wards move at once rather than after the
// keepalive.
func (m *Membership) Run(ctx context.Context) error {
	m.log.Info("joining the shared group", "broker", redact.URL(m.opts.Broker.URL))
	tok := m.client.Connect()
	select {
	case <-ctx.Done():
		m.client.Disconnect(0)
		return nil
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("cluster connect to %s: %w", redact.URL(m.opts.Broker.URL), err)
		}
	}
	beat := time.NewTicker(m.opts.Beat)
	defer beat.Stop()
	var told time.Time
	for {
		select {
		case <-ctx.Done():
			m.leave()
			return nil
		case <-beat.C:
		case <-m.gate.Durable():
			// Points just became durable: say so now, not at the next
			// beat, but at most ten times a second.
			if time.Since(told) < 100*time.Millisecond {
				continue
			}
		}
		told = time.Now()
		m.announce("online")
		m.publishView()
	}
}

func (m *Membership) leave() {
	m.mu.Lock()
	m.joined = false
	m.mu.Unlock()
	m.publishView()
	if m.client.IsConnectionOpen() {
		m.announce("offline")
	}
	m.client.Disconnect(250)
}

func (m *Membership) announce(state string) {
	st := Status{Instance: m.self, State: state, At: m.now().UTC()}
	if state == "online" {
		st.DurableThrough = m.gate.DurableThrough().UTC()
	}
	payload, _ := json.Marshal(st)
	tok := m.client.Publish(m.topic(m.self), 1, true, payload)
	if state == "offline" {
		tok.WaitTimeout(m.opts.Broker.ConnectTimeout)
	}
}

func (m *Membership) onConnect(cl paho.Client) {
	m.announce("online")
	m.mu.Lock()
	m.online = m.now()
	m.mu.Unlock()
	tok := cl.Subscribe(m.topic("+"), 1, nil)
	if !tok.WaitTimeout(m.opts.Broker.ConnectTimeout) || tok.Error() != nil {
		m.log.Error("cluster subscribe failed; reconnecting", "err", tok.Error())
		go cl.Disconnect(0)
		return
	}
	// The others' retained statuses arrive right after the subscription;
	// owning before they are in would write wards another member owns.
	time.AfterFunc(m.opts.Settle, func() {
		if !cl.IsConnectionOpen() {
			return
		}
		m.mu.Lock()
		m.joined = true
		m.mu.Unlock()
		m.log.Info("joined the shared group")
		m.publishView()
	})
}

func (m *Membership) handle(_ paho.Client, msg paho.Message) {
	id := msg.Topic()[strings.LastIndexByte(msg.Topic(), '/')+1:]
	if id == m.self {
		return
	}
	now := m.now()
	m.mu.Lock()
	if len(msg.Payload()) == 0 {
		delete(m.members, id) // a cleared retained status: the member was removed
		m.mu.Unlock()
		m.publishView()
		return
	}
	var st Status
	if err := json.Unmarshal(msg.Payload(), &st); err != nil || (st.State != "online" && st.State != "offline") {
		m.mu.Unlock()
		m.log.Warn("ignored a malformed member status", "topic", msg.Topic(), "err", err)
		return
	}
	mb := m.members[id]
	if mb == nil {
		mb = &member{}
		m.members[id] = mb
	}
	mb.online = st.State == "online"
	mb.heard = now
	if msg.Retained() && !st.At.IsZero() {
		// A status kept by the broker is as old as it says: a member that
		// stopped without its will (a broker restart) must not look live.
		mb.heard = st.At
	}
	if st.DurableThrough.After(mb.durable) {
		mb.durable = st.DurableThrough
	}
	m.mu.Unlock()
	m.publishView()
}

// View is the membership as this instance sees it now.
func (m *Membership) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.viewLocked(m.now())
}

func (m *Membership) viewLocked(now time.Time) View {
	v := View{Self: m.self, Joined: m.joined, OnlineAt: m.online, DurableThrough: map[string]time.Time{}}
	for id, mb := range m.members {
		v.DurableThrough[id] = mb.durable
		if mb.online && now.Sub(mb.heard) <= m.opts.StaleAfter {
			v.Live = append(v.Live, id)
		}
	}
	if m.joined {
		v.Live = append(v.Live, m.self)
	}
	slices.Sort(v.Live)
	return v
}

// publishView gives the gate the view when the live set or this
// instance's joining changed.
// The lock is held while the gate takes it (which never waits), so
// views reach the gate in the order they were seen.
func (m *Membership) publishView() {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.viewLocked(m.now())
	key := append([]string{fmt.Sprint(v.Joined)}, v.Live...)
	if slices.Equal(key, m.last) {
		return
	}
	m.last = key
	m.log.Info("shared group changed", "live", v.Live, "joined", v.Joined)
	m.gate.SetView(v, m.opts.Wards)
	if m.opts.OnView != nil {
		m.opts.OnView(v)
	}
}
