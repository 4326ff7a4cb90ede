package mqtt

import (
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
)

// maxWaitingBytes bounds the payloads that wait in the intake. What waits
// is what the broker sent beyond the pipeline's room (mqtt.max_inflight),
// so the broker's inflight window (max_inflight_messages, 1000 in
// deploy/mosquitto) bounds it first; only a broker allowed far more than
// facmon's window fills this, and then paho's goroutine waits as it did
// before the intake existed.
const maxWaitingBytes = 8 << 20

// perMessageBytes is what a waiting message costs beyond its payload
// (paho's message and packet, the topic), so a flood of empty payloads is
// bounded too.
const perMessageBytes = 256

// waiting is a queued message and when it arrived, which stays its
// receive time however long it waits.
type waiting struct {
	msg paho.Message
	at  time.Time
}

// intake is the FIFO between paho's goroutine, which must not wait, and
// deliverWaiting, which waits for room in the sink. It is busy from the
// first message queued until the last one queued has been delivered, and
// while busy every new message queues, so messages reach the sink in the
// order the broker sent them.
type intake struct {
	mu      sync.Mutex
	changed *sync.Cond
	queue   []waiting
	head    int
	busy    bool // a message is queued or being delivered
	bytes   int
	max     int
	closed  bool
}

func (q *intake) init(maxBytes int) {
	q.changed = sync.NewCond(&q.mu)
	q.max = maxBytes
}

func size(m paho.Message) int { return len(m.Payload()) + len(m.Topic()) + perMessageBytes }

// queueIfBusy queues m behind the messages already waiting, if any, and
// reports whether it did.
func (q *intake) queueIfBusy(m waiting, g prometheus.Gauge) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.busy {
		return false
	}
	q.add(m, g)
	return true
}

// push queues m, the first message the sink refused.
func (q *intake) push(m waiting, g prometheus.Gauge) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.busy = true
	q.add(m, g)
}

func (q *intake) add(m waiting, g prometheus.Gauge) {
	n := size(m.msg)
	for q.bytes > 0 && q.bytes+n > q.max && !q.closed {
		q.changed.Wait()
	}
	q.queue = append(q.queue, m)
	q.bytes += n
	g.Inc()
	q.changed.Broadcast()
}

// next waits for a queued message; false once closed.
func (q *intake) next() (waiting, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == len(q.queue) && !q.closed {
		q.changed.Wait()
	}
	if q.closed {
		return waiting{}, false
	}
	m := q.queue[q.head]
	q.queue[q.head] = waiting{}
	q.head++
	return m, true
}

// done records that m, taken with next, was delivered; the intake is no
// longer busy once nothing else waits.
func (q *intake) done(m waiting, g prometheus.Gauge) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes -= size(m.msg)
	g.Dec()
	if q.head == len(q.queue) {
		q.queue, q.head, q.busy = q.queue[:0], 0, false
	}
	q.changed.Broadcast()
}

// close wakes every waiter; what is still queued stays unacked.
func (q *intake) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.changed.Broadcast()
}
