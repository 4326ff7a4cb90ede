package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/facmon/facmon/internal/config"
)

// The fleet the publisher plays: 5,000 devices over the 13 default wards, in
// the proportions of a ward office (many air conditioners and cameras, a few
// doors, one or two servers).
const (
	fleetDevices = 5000
	// publishers is how many MQTT connections publish in parallel.
	publishers = 4
	// pubWindow bounds the QoS 1 publishes of one connection that are sent
	// and not yet acknowledged (PUBACK), so the publisher never waits for one
	// round trip per message nor floods the broker without limit.
	pubWindow = 500
)

var classShare = []struct {
	class  string
	weight int
}{{"door", 3}, {"hvac", 4}, {"server", 1}, {"camera", 2}}

type device struct {
	ward, class, id string
	topic           string
	rng             *rand.Rand
	cycles          int64
}

// message is one prebuilt publish.
type message struct {
	topic   string
	payload []byte
}

// load is the whole publication of a run, built before anything is timed
// so the publisher spends its CPU on MQTT only. Both runs (ceiling and
// facmon) publish the same load.
type load struct {
	readings int
	devices  int
	// perPublisher[i] is what connection i publishes, in order. Each device
	// belongs to one connection, so its seq arrives in increasing order.
	perPublisher [publishers][]message
	bytes        int
}

// newFleet builds the fleet over the 13 default wards in classShare's
// proportions, mixed (classes and wards) in publishing order as a real
// fleet is. It is seeded, so every run and both benchmarks see the same.
func newFleet() []*device {
	wards := config.DefaultOffices()
	total := 0
	for _, c := range classShare {
		total += c.weight
	}
	rng := rand.New(rand.NewPCG(20150101, 42))
	var fleet []*device
	assigned := 0
	for ci, c := range classShare {
		count := fleetDevices * c.weight / total
		if ci == len(classShare)-1 {
			count = fleetDevices - assigned
		}
		assigned += count
		for j := range count {
			w := wards[j%len(wards)].ID
			id := c.class + "-" + strconv.Itoa(j/len(wards)+1)
			fleet = append(fleet, &device{
				ward: w, class: c.class, id: id,
				topic:  "facmon/" + w + "/" + c.class + "/" + id + "/telemetry",
				rng:    rand.New(rand.NewPCG(rng.Uint64(), uint64(len(fleet)))),
				cycles: int64(rng.IntN(50000)),
			})
		}
	}
	rng.Shuffle(len(fleet), func(i, j int) { fleet[i], fleet[j] = fleet[j], fleet[i] })
	return fleet
}

// newLoad spreads n readings over the fleet round-robin: reading i comes
// from device i mod 5000 with that device's next seq. Timestamps are a
// 10 s reporting interval ending now (shorter when a device has so many
// readings that 10 s would reach beyond a day back), strictly increasing
// per device so InfluxDB cannot merge two readings into one point.
func newLoad(n int) *load {
	fleet := newFleet()
	perDevice := (n + len(fleet) - 1) / len(fleet)
	interval := 10 * time.Second
	if d := 24 * time.Hour / time.Duration(perDevice); d < interval {
		interval = max(d.Truncate(time.Millisecond), time.Millisecond)
	}
	now := time.Now().UnixMilli()
	l := &load{readings: n, devices: min(n, len(fleet))}
	for p := range publishers {
		l.perPublisher[p] = make([]message, 0, n/publishers+1)
	}
	for i := range n {
		di := i % len(fleet)
		seq := i/len(fleet) + 1
		d := fleet[di]
		// A fixed per-device offset below one interval spreads the devices
		// over the interval without breaking each device's order.
		jitter := int64(di*37) % interval.Milliseconds()
		ts := now - int64(perDevice-seq)*interval.Milliseconds() - jitter
		m := message{topic: d.topic, payload: d.payload(seq, ts)}
		l.bytes += len(m.payload)
		p := di % publishers
		l.perPublisher[p] = append(l.perPublisher[p], m)
	}
	return l
}

// payload renders one telemetry reading of the device's class with
// plausible, slowly varying values.
func (d *device) payload(seq int, ts int64) []byte {
	r := d.rng
	b := make([]byte, 0, 192)
	f := func(key string, v float64, prec int) {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		b = strconv.AppendFloat(b, v, 'f', prec, 64)
		b = append(b, ',')
	}
	i := func(key string, v int64) {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, v, 10)
		b = append(b, ',')
	}
	bl := func(key string, v bool) {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		b = strconv.AppendBool(b, v)
		b = append(b, ',')
	}
	s := func(key, v string) {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":"`...)
		b = append(b, v...)
		b = append(b, `",`...)
	}
	b = append(b, '{')
	switch d.class {
	case "door":
		open := r.IntN(3) == 0
		if open {
			d.cycles++
			s("state", "open")
		} else {
			s("state", "closed")
		}
		i("cycles", d.cycles)
		f("motor_current_a", 1.1+r.Float64()*0.6, 2)
		bl("obstruction", r.IntN(500) == 0)
		i("fault", 0)
	case "hvac":
		running := r.IntN(10) != 0
		f("temp_c", 24+r.Float64()*6, 1)
		i("setpoint_c", 25)
		f("humidity_pct", 55+r.Float64()*15, 0)
		if running {
			f("power_w", 1400+r.Float64()*500, 0)
		} else {
			f("power_w", 0, 0)
		}
		bl("running", running)
		s("fault", "")
	case "server":
		f("cpu_pct", 5+r.Float64()*40, 1)
		f("mem_pct", 40+r.Float64()*20, 1)
		f("disk_pct", 71, 0)
		f("temp_c", 45+r.Float64()*10, 1)
		bl("ups_on_battery", false)
		f("ups_charge_pct", 100, 0)
	case "camera":
		bl("recording", true)
		f("fps", 25, 0)
		f("bitrate_kbps", 1800+float64(r.IntN(500)), 0)
		f("storage_pct", 60+r.Float64()*10, 1)
	}
	i("seq", int64(seq))
	b = append(b, `"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, '}')
	return b
}

// connectPublishers opens the publishing connections (clean sessions; the
// publisher keeps nothing between runs).
func connectPublishers(brokerURL string) ([]paho.Client, error) {
	var cs []paho.Client
	for i := range publishers {
		opts := paho.NewClientOptions().
			AddBroker(brokerURL).
			SetClientID(fmt.Sprintf("bench-pub-%d", i)).
			SetCleanSession(true).
			SetAutoReconnect(false).
			SetConnectTimeout(10 * time.Second).
			SetWriteTimeout(30 * time.Second)
		c := paho.NewClient(opts)
		tok := c.Connect()
		if !tok.WaitTimeout(15 * time.Second) {
			disconnectAll(cs)
			return nil, fmt.Errorf("publisher %d: connect timed out", i)
		}
		if err := tok.Error(); err != nil {
			disconnectAll(cs)
			return nil, fmt.Errorf("publisher %d: connect: %w", i, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func disconnectAll(cs []paho.Client) {
	for _, c := range cs {
		c.Disconnect(250)
	}
}

// publish sends the load over the connections in parallel at QoS 1, each
// with at most pubWindow unacknowledged publishes, and returns when every
// PUBACK has arrived, ctx has ended or a publish failed.
func (l *load) publish(ctx context.Context, cs []paho.Client) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for p, c := range cs {
		wg.Go(func() {
			if err := publishOne(ctx, c, l.perPublisher[p]); err != nil {
				cancel(fmt.Errorf("publisher %d: %w", p, err))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

func publishOne(ctx context.Context, c paho.Client, msgs []message) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	inflight := make(chan paho.Token, pubWindow)
	acked := make(chan error, 1)
	// The acknowledgement side: tokens complete in about the order they
	// were sent, so waiting for them in order frees the window promptly.
	go func() {
		var err error
		for tok := range inflight {
			if err != nil {
				continue // failed: only drain
			}
			select {
			case <-tok.Done():
				err = tok.Error()
			case <-ctx.Done():
				err = context.Cause(ctx)
			}
			if err != nil {
				cancel(err)
			}
		}
		acked <- err
	}()
	var err error
	for _, m := range msgs {
		tok := c.Publish(m.topic, 1, false, m.payload)
		select {
		case inflight <- tok:
			continue
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		break
	}
	close(inflight)
	if aerr := <-acked; err == nil {
		err = aerr
	}
	return err
}
