package testenv

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/facmon/facmon/internal/fleet"
	"github.com/stretchr/testify/require"
)

// StreamOptions configures StartStream.
type StreamOptions struct {
	// Wards are the ward IDs the devices are spread over, round robin (pass
	// the IDs of config.DefaultOffices()). They are given here rather than
	// read from internal/config because packages internal/config depends on
	// (storage, reports, notify) import testenv from their own in-package
	// tests, and testenv importing internal/config would make an import
	// cycle there.
	Wards    []string
	Devices  int           // devices publishing, one reading each per Interval
	Interval time.Duration // per device
	Pad      int           // length of a "state" string in each payload (0: none)
	Inflight int           // most publishes waiting for their PUBACK at once (0: 500)
	// WallClock stamps each reading with the time it is published instead
	// of base + seq, for tests whose reports must see the readings where
	// they happened; a redelivered reading still carries its own ts.
	WallClock bool
}

// Stream is a fleet of door devices publishing numbered readings at QoS 1,
// the publisher of the "nothing acknowledged is lost" fault tests. Its
// devices are fleet.Spread over the wards (door-1, door-2, … across the
// whole fleet, so a device id alone names one) and publish to their
// fleet telemetry topic, facmon/<ward>/door/<id>/telemetry,
// payloads {"cycles":seq,"seq":seq,"ts":base+seq}: seq counts 1, 2, … per
// device and ts is a fixed base plus seq milliseconds, so a reading stored
// twice collapses into one InfluxDB point and a missing one shows as a gap
// in 1..N. The Stream records which readings the broker acknowledged
// (PUBACK), so a test can tell what the broker took responsibility for.
//
// It lives in testenv because the in-process fault tests
// (internal/service) and the binary-level ones (cmd/facmon) need the same
// publisher, and a test file cannot be imported from another package.
type Stream struct {
	// Paused, while true, stops the devices publishing (the stream keeps
	// running), e.g. to let the flow settle for a conservation check.
	Paused atomic.Bool
	// Published counts the publishes handed to the client.
	Published atomic.Int64
	// Failed counts the publishes the broker did not acknowledge within
	// 60 s (or answered with an error).
	Failed atomic.Int64

	t      testing.TB
	client paho.Client
	opts   StreamOptions
	topics []string
	names  []string
	base   int64 // ts of seq 0, epoch ms
	state  string

	sem      chan struct{}
	wg       sync.WaitGroup
	stopCh   chan struct{}
	done     chan struct{}
	stopOnce sync.Once

	mu    sync.Mutex
	last  []int64          // per device: the last seq published
	acked []map[int64]bool // per device: the seqs the broker acknowledged
}

// streamTopicPrefix is the first topic level of facmon's default configuration.
const streamTopicPrefix = "facmon"

// StartStream connects a publisher to b and starts o.Devices devices
// publishing. The stream is stopped (waiting for outstanding PUBACKs) and
// disconnected when the test ends.
func StartStream(t testing.TB, b *Broker, o StreamOptions) *Stream {
	t.Helper()
	if o.Inflight == 0 {
		o.Inflight = 500
	}
	require.NotEmpty(t, o.Wards, "StreamOptions.Wards")
	s := &Stream{
		t: t, opts: o,
		base:   time.Now().Add(-time.Minute).UnixMilli(),
		sem:    make(chan struct{}, o.Inflight),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
		last:   make([]int64, o.Devices),
		acked:  make([]map[int64]bool, o.Devices),
	}
	if o.Pad > 0 {
		s.state = strings.Repeat("s", o.Pad)
	}
	for i, d := range fleet.Spread(o.Wards, fleet.ClassDoor, o.Devices) {
		s.names = append(s.names, d.ID)
		s.topics = append(s.topics, d.TelemetryTopic(streamTopicPrefix))
		s.acked[i] = map[int64]bool{}
	}
	opts := paho.NewClientOptions().AddBroker(b.URL).
		SetClientID(fmt.Sprintf("fault-pub-%d", time.Now().UnixNano()%1e9)).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(time.Second).
		SetConnectTimeout(5 * time.Second)
	s.client = paho.NewClient(opts)
	tok := s.client.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "publisher connect")
	require.NoError(t, tok.Error())
	t.Cleanup(func() {
		s.Stop()
		s.client.Disconnect(100)
	})
	go s.run()
	return s
}

// payload is the JSON of reading seq.
func (s *Stream) payload(seq int64) string {
	ts := s.base + seq
	if s.opts.WallClock {
		ts = time.Now().UnixMilli()
	}
	if s.state != "" {
		return fmt.Sprintf(`{"state":%q,"cycles":%d,"seq":%d,"ts":%d}`, s.state, seq, seq, ts)
	}
	return fmt.Sprintf(`{"cycles":%d,"seq":%d,"ts":%d}`, seq, seq, ts)
}

func (s *Stream) run() {
	defer close(s.done)
	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		if !s.Paused.Load() {
			for i := range s.topics {
				select {
				case s.sem <- struct{}{}:
				case <-s.stopCh:
					return
				}
				s.mu.Lock()
				s.last[i]++
				seq := s.last[i]
				s.mu.Unlock()
				tok := s.client.Publish(s.topics[i], 1, false, s.payload(seq))
				s.Published.Add(1)
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					defer func() { <-s.sem }()
					if tok.WaitTimeout(60*time.Second) && tok.Error() == nil {
						s.mu.Lock()
						s.acked[i][seq] = true
						s.mu.Unlock()
						return
					}
					s.Failed.Add(1)
				}()
			}
		}
		select {
		case <-tick.C:
		case <-s.stopCh:
			return
		}
	}
}

// Stop ends the stream and waits (bounded: the test fails after 90 s) for
// every outstanding PUBACK. It may be called more than once.
func (s *Stream) Stop() {
	s.stopOnce.Do(func() {
		close(s.stopCh)
		<-s.done
		waited := make(chan struct{})
		go func() { s.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(90 * time.Second):
			s.t.Errorf("publisher: PUBACKs still outstanding 90 s after the stream stopped")
		}
	})
}

// Want returns, per device, the last seq published: after Stop, the
// readings 1..Want()[device] are every one the device sent.
func (s *Stream) Want() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for i, n := range s.last {
		out[s.names[i]] = n
	}
	return out
}

// AckedSeqs returns, per device, the seqs the broker acknowledged.
func (s *Stream) AckedSeqs() map[string]map[int64]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[int64]bool{}
	for i, m := range s.acked {
		out[s.names[i]] = maps.Clone(m)
	}
	return out
}
