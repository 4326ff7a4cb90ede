package engine

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/alerts/notify"
	"github.com/facmon/facmon/alerts/rule"
	"github.com/facmon/facmon/internal/calendar"
	"github.com/facmon/facmon/internal/liveness"
	"github.com/facmon/facmon/internal/reading"
)

var ict = time.FixedZone("ICT", 7*3600)

// monday is 2026-11-23 at hh:mm in Đà Nẵng.
func monday(hh, mm int) time.Time { return time.Date(2026, 11, 23, hh, mm, 0, 0, ict) }

type recorder struct {
	mu       sync.Mutex
	firing   []notify.Alert
	resolved []notify.Alert
	restored []notify.Alert
	updated  []notify.Alert
}

func (r *recorder) Update(a notify.Alert) {
	r.mu.Lock()
	r.updated = append(r.updated, a)
	r.mu.Unlock()
}

// silences records what the engine asks of the Silencer.
type silences struct {
	silenced []string // alert id, by, comment
	expired  []string
}

func (s *silences) Silence(a notify.Alert, by, comment string) {
	s.silenced = append(s.silenced, a.ID+"|"+by+"|"+comment+"|"+a.Labels["device"])
}
func (s *silences) Expire(id string) { s.expired = append(s.expired, id) }
func (s *silences) Adopt(notify.Alert, string, string, string, time.Time) bool {
	return true
}
func (s *silences) Forget(string) {}

func (r *recorder) Firing(a notify.Alert) { r.mu.Lock(); r.firing = append(r.firing, a); r.mu.Unlock() }
func (r *recorder) Resolved(a notify.Alert) {
	r.mu.Lock()
	r.resolved = append(r.resolved, a)
	r.mu.Unlock()
}
func (r *recorder) Restore(a notify.Alert) {
	r.mu.Lock()
	r.restored = append(r.restored, a)
	r.mu.Unlock()
}

type events struct {
	mu sync.Mutex
	rs []*reading.Reading
}

func (e *events) Deliver(r *reading.Reading, a reading.Acker) error {
	e.mu.Lock()
	e.rs = append(e.rs, r)
	e.mu.Unlock()
	a.Ack()
	return nil
}

func (e *events) states() []string {
	var out []string
	for _, r := range e.rs {
		f, _ := r.Field("state")
		out = append(out, f.Str)
	}
	return out
}

type pipe struct {
	connected bool
	age       time.Duration
	refused   time.Time
	tracked   int
}

func (p *pipe) BrokerConnected() bool         { return p.connected }
func (p *pipe) SpoolOldestAge() time.Duration { return p.age }
func (p *pipe) DeviceLimit() (time.Time, int) { return p.refused, p.tracked }

type fixture struct {
	e     *Engine
	n     *recorder
	ev    *events
	now   time.Time
	pipe  *pipe
	store *gatedStore
	opts  Options
	start time.Time
}

func compile(t *testing.T, rules []rule.Rule) []*rule.Compiled {
	t.Helper()
	fields := map[string]map[string]string{
		"door":   {"state": "string", "cycles": "int", "motor_current_a": "float", "obstruction": "bool", "fault": "int"},
		"hvac":   {"temp_c": "float", "setpoint_c": "float", "humidity_pct": "float", "power_w": "float", "running": "bool", "fault": "string"},
		"server": {"cpu_pct": "float", "mem_pct": "float", "disk_pct": "float", "temp_c": "float", "ups_on_battery": "bool", "ups_charge_pct": "float"},
		"camera": {"recording": "bool", "fps": "float", "bitrate_kbps": "float", "storage_pct": "float"},
	}
	cs, ps := rule.Compile(rules, fields)
	require.Empty(t, ps)
	return cs
}

func byName(names ...string) []rule.Rule {
	var out []rule.Rule
	for _, r := range rule.Defaults() {
		for _, n := range names {
			if r.Name == n {
				out = append(out, r)
			}
		}
	}
	return out
}

// gatedStore is the real store behind a gate: a test holding gate is a disk
// that does not answer.
type gatedStore struct {
	*store.Store
	gate sync.Mutex
}

func (g *gatedStore) Save(records []*store.Record) error {
	g.gate.Lock()
	defer g.gate.Unlock()
	return g.Store.Save(records)
}

func (g *gatedStore) AppendHistory(evs ...store.HistoryEvent) error {
	g.gate.Lock()
	defer g.gate.Unlock()
	return g.Store.AppendHistory(evs...)
}

func (g *gatedStore) History(from, to time.Time) ([]store.HistoryEvent, error) {
	g.gate.Lock()
	defer g.gate.Unlock()
	return g.Store.History(from, to)
}

func newFixture(t *testing.T, start time.Time, rules []rule.Rule, mutate func(*Options)) *fixture {
	t.Helper()
	fx := &fixture{n: &recorder{}, ev: &events{}, now: start, pipe: &pipe{connected: true}, start: start}
	st, err := store.Open(t.TempDir())
	require.NoError(t, err)
	fx.store = &gatedStore{Store: st}
	cal := calendar.Default()
	cals := map[string]*calendar.Calendar{}
	for _, w := range []string{"thanh-binh", "nam-duong", "binh-hien"} {
		cals[w] = cal
	}
	fx.opts = Options{
		Rules:     compile(t, rules),
		Calendars: cals,
		WardNames: map[string]string{"thanh-binh": "Thanh Bình", "nam-duong": "Nam Dương", "binh-hien": "Bình Hiên"},
		Liveness:  liveness.New(func(string, string, string) time.Duration { return time.Minute }, start),
		Notifier:  fx.n,
		Events:    fx.ev,
		Pipeline:  fx.pipe,
		Store:     fx.store,
		Now:       func() time.Time { return fx.now },
		FlapCount: 4, FlapWindow: 10 * time.Minute,
	}
	if mutate != nil {
		mutate(&fx.opts)
	}
	fx.e, err = New(fx.opts)
	require.NoError(t, err)
	return fx
}

// at moves the clock and ticks, then hands what the engine recorded to
// its sinks (Run's goroutines do that in service).
func (fx *fixture) at(t time.Time) { fx.now = t; fx.e.Tick(t); fx.e.flushOutboxes() }

func (fx *fixture) send(t time.Time, measurement, ward, device string, fields ...reading.Field) {
	fx.now = t
	class := measurement
	if measurement == reading.MeasurementDeviceStatus {
		class = device[:len(device)-2]
	}
	r := &reading.Reading{Measurement: measurement, Ward: ward, Class: class, Device: device, Fields: fields, Time: t, Received: t}
	fx.opts.Liveness.Observe(r) // as the service's fan-out does, before the engine
	fx.e.Process(r)
	fx.e.Tick(t)
	fx.e.flushOutboxes()
}

// alive sends a telemetry reading of the device's class (door-1 → door).
func (fx *fixture) alive(t time.Time, ward, device string) {
	fx.send(t, device[:len(device)-2], ward, device, fl("x", 1))
}

func fl(k string, v float64) reading.Field {
	return reading.Field{Key: k, Kind: reading.Float, Float: v}
}
func st(k, v string) reading.Field      { return reading.Field{Key: k, Kind: reading.String, Str: v} }
func bo(k string, v bool) reading.Field { return reading.Field{Key: k, Kind: reading.Bool, Bool: v} }
func up(v int64) reading.Field          { return reading.Field{Key: "up", Kind: reading.Int, Int: v} }

func TestThresholdWithForAndHysteresis(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACRoomTooHot"), nil)
	hot := func(tm time.Time, c float64) {
		fx.send(tm, "hvac", "thanh-binh", "hvac-1", fl("temp_c", c), fl("setpoint_c", 25))
	}
	hot(monday(9, 0), 31)
	hot(monday(9, 5), 31.5)
	assert.Empty(t, fx.n.firing, "pending for 10m first")
	require.Len(t, fx.e.Active(), 1)
	assert.Equal(t, lifecycle.StatePending, fx.e.Active()[0].State)
	hot(monday(9, 10), 32)
	require.Len(t, fx.n.firing, 1, "fires once the lifecycle.Condition held for 10m")
	a := fx.n.firing[0]
	assert.Equal(t, map[string]string{"alertname": "ACRoomTooHot", "severity": "critical", "ward": "thanh-binh", "class": "hvac", "device": "hvac-1"}, a.Labels)
	assert.Equal(t, "Phòng của máy lạnh hvac-1 tại Thanh Bình nóng 32 °C (ngưỡng 30 °C)", a.Annotations["summary_vi"])
	assert.Equal(t, "Room of air conditioner hvac-1 at Thanh Bình is at 32 °C (limit 30 °C)", a.Annotations["summary_en"])
	assert.True(t, a.StartsAt.Equal(monday(9, 10)))

	hot(monday(9, 12), 29.5) // below the firing value, above the clear value: still firing
	hot(monday(9, 20), 29.5)
	assert.Empty(t, fx.n.resolved, "hysteresis: 29.5 is not below the clear value 29")
	hot(monday(9, 21), 28.5)
	fx.at(monday(9, 25))
	assert.Empty(t, fx.n.resolved, "clear must hold for clear_for (5m)")
	hot(monday(9, 23), 29.2) // a relapse above the clear value restarts clear_for
	hot(monday(9, 24), 28)
	fx.at(monday(9, 28))
	assert.Empty(t, fx.n.resolved)
	fx.at(monday(9, 29))
	require.Len(t, fx.n.resolved, 1)
	assert.True(t, fx.n.resolved[0].EndsAt.Equal(monday(9, 29)))
	assert.Len(t, fx.n.firing, 1, "notified once")
	assert.Equal(t, []string{"firing", "resolved"}, fx.ev.states())
}

func TestThresholdPendingThatClearsNeverNotifies(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACAboveSetpoint"), nil)
	fx.send(monday(9, 0), "hvac", "thanh-binh", "hvac-1", fl("temp_c", 29), fl("setpoint_c", 25))
	fx.send(monday(9, 8), "hvac", "thanh-binh", "hvac-1", fl("temp_c", 26), fl("setpoint_c", 25))
	fx.at(monday(9, 30))
	assert.Empty(t, fx.n.firing)
	assert.Empty(t, fx.e.Active())
}

func TestStateRuleAndOfficeHours(t *testing.T) {
	cases := []struct {
		name      string
		openAt    time.Time
		checkAt   time.Time
		wantFired bool
	}{
		{"morning, office open", monday(9, 0), monday(9, 5), true},
		{"lunch break", monday(11, 45), monday(13, 0), false},
		{"evening", monday(18, 0), monday(19, 0), false},
		{"Sunday", time.Date(2026, 11, 29, 9, 0, 0, 0, ict), time.Date(2026, 11, 29, 10, 0, 0, 0, ict), false},
		{"Tết holiday", time.Date(2026, 2, 17, 9, 0, 0, 0, ict), time.Date(2026, 2, 17, 10, 0, 0, 0, ict), false},
		{"open before the lunch break, long enough", monday(11, 20), monday(11, 25), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.openAt.Add(-time.Hour), byName("DoorStuckOpen"), nil)
			fx.send(tc.openAt, "door", "nam-duong", "door-1", st("state", "open"))
			fx.at(tc.checkAt)
			assert.Equal(t, tc.wantFired, len(fx.n.firing) == 1)
		})
	}
	t.Run("a firing office-hours alert resolves when the office closes", func(t *testing.T) {
		fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), nil)
		fx.send(monday(11, 0), "door", "nam-duong", "door-1", st("state", "open"))
		fx.at(monday(11, 6))
		require.Len(t, fx.n.firing, 1)
		fx.at(monday(11, 30))
		require.Len(t, fx.n.resolved, 1)
	})
}

func TestStateNotEqual(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACFault"), nil)
	fx.send(monday(9, 0), "hvac", "binh-hien", "hvac-2", st("fault", ""))
	assert.Empty(t, fx.n.firing)
	fx.send(monday(9, 1), "hvac", "binh-hien", "hvac-2", st("fault", "E4"))
	require.Len(t, fx.n.firing, 1, "for 0: fires at once")
	fx.send(monday(9, 2), "hvac", "binh-hien", "hvac-2", st("fault", ""))
	require.Len(t, fx.n.resolved, 1)
}

func TestAbsenceFromLastWillAndSilence(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("DeviceOffline"), nil)
	// Within the first heartbeat after start-up, silence is not judged.
	fx.at(monday(8, 0).Add(50 * time.Second))
	assert.Empty(t, fx.e.Active())

	fx.send(monday(8, 1), "camera", "thanh-binh", "camera-1", bo("recording", true))
	fx.send(monday(8, 1), "server", "thanh-binh", "server-1", fl("cpu_pct", 10))
	// The camera's connection dies: the broker publishes its last will.
	fx.send(monday(8, 2), reading.MeasurementDeviceStatus, "thanh-binh", "camera-1", up(0))
	fx.at(monday(8, 2).Add(59 * time.Second))
	assert.Empty(t, fx.n.firing, "for: 1m")
	fx.at(monday(8, 3))
	require.Len(t, fx.n.firing, 1)
	assert.Equal(t, "camera-1", fx.n.firing[0].Labels["device"])
	assert.Equal(t, "Thiết bị camera-1 (camera) tại Thanh Bình mất kết nối", fx.n.firing[0].Annotations["summary_vi"])

	// The server goes silent: down from its last reading once past its
	// heartbeat (1m), fires after for (1m).
	for m := 2; m <= 6; m++ {
		fx.send(monday(8, m), "camera", "thanh-binh", "camera-9", bo("recording", true)) // keep the fleet talking
	}
	require.Len(t, fx.n.firing, 2)
	assert.Equal(t, "server-1", fx.n.firing[1].Labels["device"])

	// The camera comes back.
	fx.send(monday(8, 7), reading.MeasurementDeviceStatus, "thanh-binh", "camera-1", up(1))
	require.Len(t, fx.n.resolved, 1)
	assert.Equal(t, "camera-1", fx.n.resolved[0].Labels["device"])
}

func TestWardOutageGivesOneAlert(t *testing.T) {
	fx := newFixture(t, monday(7, 0), byName("DeviceOffline", "WardUnreachable"), nil)
	devices := []string{"door-1", "door-2", "hvac-1", "hvac-2", "hvac-3", "server-1", "camera-1", "camera-2", "camera-3", "camera-4"}
	for _, w := range []string{"thanh-binh", "nam-duong"} {
		for _, d := range devices {
			fx.send(monday(8, 0), reading.MeasurementDeviceStatus, w, d, up(1))
		}
	}
	// Thanh Bình's network dies: every device's last will arrives.
	for _, d := range devices {
		fx.send(monday(8, 1), reading.MeasurementDeviceStatus, "thanh-binh", d, up(0))
	}
	// One camera in Nam Dương also fails, alone.
	fx.send(monday(8, 1), reading.MeasurementDeviceStatus, "nam-duong", "camera-2", up(0))
	// Every device still connected keeps publishing every 10 s.
	for s := 10; s <= 120; s += 10 {
		tm := monday(8, 1).Add(time.Duration(s) * time.Second)
		for _, d := range devices {
			if d != "camera-2" {
				fx.alive(tm, "nam-duong", d)
			}
		}
		fx.at(tm)
	}
	var names []string
	for _, a := range fx.n.firing {
		names = append(names, a.Labels["alertname"]+"/"+a.Labels["ward"]+"/"+a.Labels["device"])
	}
	assert.ElementsMatch(t, []string{"WardUnreachable/thanh-binh/", "DeviceOffline/nam-duong/camera-2"}, names)
	// The per-device alerts exist and say why they were not sent.
	suppressed := 0
	for _, a := range fx.e.Active() {
		if a.Rule == "DeviceOffline" && a.Ward == "thanh-binh" {
			assert.Equal(t, "ward_unreachable", a.Suppressed)
			suppressed++
		}
	}
	assert.Equal(t, 10, suppressed)
	assert.Equal(t, "Mất kết nối toàn bộ trụ sở Thanh Bình (100% thiết bị ngoại tuyến)", fx.n.firing[0].Annotations["summary_vi"])

	// The network returns: one resolution for the ward, nothing for devices never notified.
	for _, d := range devices {
		fx.send(monday(8, 10), reading.MeasurementDeviceStatus, "thanh-binh", d, up(1))
	}
	for s := 10; s <= 60; s += 10 {
		tm := monday(8, 10).Add(time.Duration(s) * time.Second)
		for _, w := range []string{"thanh-binh", "nam-duong"} {
			for _, d := range devices {
				if w != "nam-duong" || d != "camera-2" {
					fx.alive(tm, w, d)
				}
			}
		}
	}
	var resolved []string
	for _, a := range fx.n.resolved {
		resolved = append(resolved, a.Labels["alertname"])
	}
	assert.Equal(t, []string{"WardUnreachable"}, resolved)
}

func TestForecast(t *testing.T) {
	fx := newFixture(t, monday(0, 0), byName("ServerDiskFullSoon"), nil)
	// Disk grows 1 % per hour from 70 %: full in 30 h, within the 72 h horizon.
	for h := 0; h <= 7; h++ {
		tm := monday(0, 0).Add(time.Duration(h) * time.Hour)
		fx.send(tm, "server", "binh-hien", "server-1", fl("disk_pct", 70+float64(h)))
	}
	require.Len(t, fx.n.firing, 1, "fires as soon as the fit covers a quarter of the window (2 h): 28 h left then")
	assert.Equal(t, "Disk of server server-1 at Bình Hiên will be full in about 28 hours", fx.n.firing[0].Annotations["summary_en"])

	fx2 := newFixture(t, monday(0, 0), byName("ServerDiskFullSoon"), nil)
	for h := 0; h <= 7; h++ { // 0.1 % per hour: 300 h left, beyond the horizon
		fx2.send(monday(0, 0).Add(time.Duration(h)*time.Hour), "server", "binh-hien", "server-1", fl("disk_pct", 70+0.1*float64(h)))
	}
	assert.Empty(t, fx2.n.firing)
}

func TestFlappingIsDamped(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACFault"), nil)
	tm := monday(9, 0)
	for i := 0; i < 6; i++ { // E4, ok, E4, ok, ... every minute
		fx.send(tm, "hvac", "thanh-binh", "hvac-1", st("fault", "E4"))
		tm = tm.Add(time.Minute)
		fx.send(tm, "hvac", "thanh-binh", "hvac-1", st("fault", ""))
		tm = tm.Add(time.Minute)
	}
	assert.Len(t, fx.n.firing, 2, "fired, resolved, fired; then flapping holds the rest")
	assert.Len(t, fx.n.resolved, 1)
	fx.at(tm.Add(11 * time.Minute))
	assert.Len(t, fx.n.resolved, 2, "once quiet for the flap window, the held resolution goes out")
	assert.Len(t, fx.n.firing, 2)
	assert.GreaterOrEqual(t, len(fx.ev.states()), 12, "every transition is recorded")
}

func TestEscalationAndAck(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), nil)
	fx.send(monday(8, 30), "door", "thanh-binh", "door-1", st("state", "open"))
	fx.send(monday(8, 30), "door", "thanh-binh", "door-2", st("state", "open"))
	fx.at(monday(8, 35))
	require.Len(t, fx.n.firing, 2)
	var door2 string
	for _, a := range fx.e.Active() {
		if a.Device == "door-2" {
			door2 = a.ID
		}
	}
	acked, err := fx.e.Ack(door2, "Trần Văn An", "đang đến sửa")
	require.NoError(t, err)
	assert.True(t, acked.Acked)
	_, err = fx.e.Ack("nope", "x", "")
	assert.ErrorIs(t, err, ErrNotFiring)

	fx.at(monday(9, 5)) // 30 min after firing
	require.Len(t, fx.n.firing, 3)
	esc := fx.n.firing[2]
	assert.Equal(t, "1", esc.Labels["escalation"])
	assert.Equal(t, "door-1", esc.Labels["device"], "the acknowledged alert is not escalated")
	fx.at(monday(10, 0))
	assert.Len(t, fx.n.firing, 3, "escalated once")
	h, err := fx.e.History(monday(0, 0), monday(23, 0))
	require.NoError(t, err)
	var ack *store.HistoryEvent
	for i := range h {
		if h[i].State == "acknowledged" {
			ack = &h[i]
		}
	}
	require.NotNil(t, ack)
	assert.Equal(t, "Trần Văn An", ack.AckBy)
	assert.Equal(t, "đang đến sửa", ack.AckComment)
}

func TestMaintenanceSuppressesThenNotifies(t *testing.T) {
	sched, err := maintenance.New([]maintenance.Window{{Name: "camera swap", Ward: "binh-hien", Class: "camera", Start: "2026-11-23 09:00", End: "2026-11-23 10:00"}}, ict)
	require.NoError(t, err)
	fx := newFixture(t, monday(8, 0), byName("CameraNotRecording"), func(o *Options) { o.Maintenance = sched })
	fx.send(monday(9, 10), "camera", "binh-hien", "camera-1", bo("recording", false))
	fx.at(monday(9, 20))
	assert.Empty(t, fx.n.firing, "inside maintenance: recorded, not notified")
	require.Len(t, fx.e.Active(), 1)
	assert.Equal(t, "maintenance", fx.e.Active()[0].Suppressed)
	fx.at(monday(10, 0))
	require.Len(t, fx.n.firing, 1, "still failing after the window: now it is news")
	// A fault entirely inside a window is never notified.
	fx.send(monday(10, 1), "camera", "binh-hien", "camera-1", bo("recording", true))
	require.Len(t, fx.n.resolved, 1)
}

func TestRestartKeepsAlertsWithoutRenotifying(t *testing.T) {
	dir := t.TempDir()
	saved, err := store.Open(dir)
	require.NoError(t, err)
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), func(o *Options) { o.Store = saved })
	fx.send(monday(9, 0), "door", "thanh-binh", "door-1", st("state", "open"))
	fx.at(monday(9, 6))
	require.Len(t, fx.n.firing, 1)
	assert.Equal(t, 1, fx.e.firingCount(), "facmon_alerts_firing")

	// A new engine on the same store, as after a restart.
	fx2 := newFixture(t, monday(9, 7), byName("DoorStuckOpen", "DeviceOffline"), func(o *Options) { o.Store = saved })
	require.Len(t, fx2.e.Active(), 1, "the firing alert is remembered")
	assert.Equal(t, 1, fx2.e.firingCount(), "facmon_alerts_firing counts restored alerts")
	assert.Equal(t, lifecycle.StateFiring, fx2.e.Active()[0].State)
	assert.Len(t, fx2.n.restored, 1, "re-registered for Alertmanager re-posts")
	fx2.send(monday(9, 8), "door", "thanh-binh", "door-1", st("state", "open"))
	fx2.at(monday(9, 9).Add(30 * time.Second))
	assert.Empty(t, fx2.n.firing, "no duplicate notification after the restart, and absence rules stay quiet in the first heartbeat")
	fx2.send(monday(9, 10), "door", "thanh-binh", "door-1", st("state", "closed"))
	require.Len(t, fx2.n.resolved, 1, "the remembered alert resolves normally")
	assert.Zero(t, fx2.e.firingCount(), "facmon_alerts_firing after the resolution")
	h, err := fx2.e.History(monday(0, 0), monday(23, 0))
	require.NoError(t, err)
	assert.Len(t, h, 2, "history spans both runs: fired in the first, resolved in the second")
}

func TestPipelineRules(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("BrokerDisconnected", "SpoolBacklog", "NoReadings"), nil)
	fx.send(monday(8, 0), "door", "thanh-binh", "door-1", st("state", "closed"))
	fx.pipe.connected = false
	fx.at(monday(8, 0).Add(30 * time.Second))
	assert.Empty(t, fx.n.firing)
	fx.at(monday(8, 1).Add(29 * time.Second))
	assert.Empty(t, fx.n.firing, "disconnected since the 08:00:30 evaluation; for: 1m")
	fx.at(monday(8, 1).Add(30 * time.Second))
	require.Len(t, fx.n.firing, 1)
	assert.Equal(t, "BrokerDisconnected", fx.n.firing[0].Labels["alertname"])
	fx.pipe.age = 3 * time.Minute
	fx.at(monday(8, 3))
	fx.at(monday(8, 4).Add(time.Second))
	fx.at(monday(8, 6))
	names := map[string]bool{}
	for _, a := range fx.n.firing {
		names[a.Labels["alertname"]] = true
	}
	assert.True(t, names["SpoolBacklog"])
	assert.True(t, names["NoReadings"], "nothing received for more than 5 minutes")
}

// TestDeviceLimitReached: the rule fires at the first refused id, with
// the tracked count, stays firing through a burst and clears 10 minutes
// after the last refusal.
func TestDeviceLimitReached(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("DeviceLimitReached"), nil)
	fx.pipe.connected = true
	fx.at(monday(8, 1))
	assert.Empty(t, fx.n.firing, "nothing refused yet")
	fx.pipe.refused, fx.pipe.tracked = monday(8, 2), 1000
	fx.at(monday(8, 2).Add(time.Second))
	require.Len(t, fx.n.firing, 1, "fires at the first evaluation after a refusal")
	assert.Equal(t, "DeviceLimitReached", fx.n.firing[0].Labels["alertname"])
	assert.Contains(t, fx.n.firing[0].Annotations["summary"], "1000 devices tracked")
	fx.pipe.refused = monday(8, 5)
	fx.at(monday(8, 14))
	assert.Empty(t, fx.n.resolved, "refused again at 08:05: still firing at 08:14")
	assert.Len(t, fx.n.firing, 1, "one alert for the whole burst")
	fx.at(monday(8, 15).Add(time.Second))
	require.Len(t, fx.n.resolved, 1, "clears 10 minutes after the last refusal")
}

func TestQueueNeverBlocks(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), func(o *Options) { o.QueueSize = 2 })
	r := &reading.Reading{Measurement: "door", Ward: "thanh-binh", Class: "door", Device: "door-1", Fields: []reading.Field{st("state", "open")}, Received: monday(9, 0)}
	done := make(chan struct{})
	go func() {
		for range 100 {
			fx.e.Observe(r)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Observe blocked")
	}
}

// TestStepDueFiresOnTime: a pending alert fires when its for runs out,
// not at the next full tick.
func TestStepDueFiresOnTime(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), nil)
	fx.now = monday(9, 0)
	fx.e.Process(&reading.Reading{Measurement: "door", Ward: "thanh-binh", Class: "door", Device: "door-1", Fields: []reading.Field{st("state", "open")}, Received: monday(9, 0)})
	fx.e.StepDue(monday(9, 4))
	assert.Empty(t, fx.n.firing)
	fx.e.StepDue(monday(9, 5))
	require.Len(t, fx.n.firing, 1, "fires exactly when for (5m) ran out, without a Tick")
}

// Observe evaluates at once when the engine is free; while it is busy
// (a tick holds it) readings queue, and they are evaluated in arrival
// order, so a room that got hot and cooled again ends cool.
func TestObserveInlineOrQueuedInOrder(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACRoomTooHot"), nil)
	hvac := func(tm time.Time, c float64) *reading.Reading {
		return &reading.Reading{Measurement: "hvac", Ward: "thanh-binh", Class: "hvac", Device: "hvac-1",
			Fields: []reading.Field{fl("temp_c", c), fl("setpoint_c", 25)}, Time: tm, Received: tm}
	}
	fx.e.Observe(hvac(monday(9, 0), 31))
	require.Len(t, fx.e.Active(), 1, "evaluated on the caller's goroutine: no Run needed")
	assert.Equal(t, lifecycle.StatePending, fx.e.Active()[0].State)

	fx.e.mu.Lock() // a tick in progress
	fx.e.Observe(hvac(monday(9, 1), 24))
	fx.e.Observe(hvac(monday(9, 2), 31.5))
	fx.e.mu.Unlock()
	fx.e.inMu.Lock()
	queued := len(fx.e.inbox)
	fx.e.inMu.Unlock()
	require.Equal(t, 2, queued, "a busy engine queues instead of blocking ingest")
	fx.e.draining = true // Run has taken a batch but not yet evaluated it
	fx.e.inMu.Lock()
	batch := fx.e.inbox
	fx.e.inbox = nil
	fx.e.inMu.Unlock()
	fx.e.Observe(hvac(monday(9, 3), 24))
	fx.e.inMu.Lock()
	assert.Len(t, fx.e.inbox, 1, "a reading arriving while a batch is evaluated must not overtake it")
	fx.e.inbox = append(batch, fx.e.inbox...)
	fx.e.inMu.Unlock()
	fx.e.processInbox()
	assert.Empty(t, fx.e.Active(), "9:01 cool, 9:02 hot, 9:03 cool: evaluated in that order the room ends cool")
	fx.e.Observe(hvac(monday(9, 4), 32))
	active := fx.e.Active()
	require.Len(t, active, 1, "evaluated at once again now that the queue is empty")
	assert.Equal(t, monday(9, 4), active[0].PendingSince.In(ict))
}

// Observe only borrows the reading: one queued while the engine is busy is
// evaluated as it was when observed, though the caller reuses it at once
// for its next message, as the MQTT collector does.
func TestObserveQueuedReadingIsCopied(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACRoomTooHot"), nil)
	lent := &reading.Reading{}
	fill := func(tm time.Time, c float64) {
		lent.Reset()
		lent.Measurement, lent.Ward, lent.Class, lent.Device = "hvac", "thanh-binh", "hvac", "hvac-1"
		lent.Fields = append(lent.Fields, fl("temp_c", c), fl("setpoint_c", 25))
		lent.Time, lent.Received = tm, tm
	}
	fx.e.mu.Lock() // a tick in progress: the reading is queued
	fill(monday(9, 0), 31)
	fx.e.Observe(lent)
	fill(monday(9, 1), 24) // reused for a message the engine never sees
	fx.e.mu.Unlock()
	fx.e.processInbox()
	active := fx.e.Active()
	require.Len(t, active, 1, "the queued reading was a hot room")
	assert.Equal(t, monday(9, 0), active[0].PendingSince.In(ict))
}

// A rule limited to some wards or devices is evaluated for those only,
// next to the class's other rules, which every device meets.
func TestRulesLimitedToWardsAndDevices(t *testing.T) {
	rules := byName("ACRoomTooHot", "ACAboveSetpoint")
	for i := range rules {
		switch rules[i].Name {
		case "ACRoomTooHot":
			rules[i].Wards = []string{"thanh-binh"}
		case "ACAboveSetpoint":
			rules[i].Devices = []string{"hvac-2"}
		}
	}
	fx := newFixture(t, monday(8, 0), rules, nil)
	for _, w := range []string{"thanh-binh", "nam-duong"} {
		for _, d := range []string{"hvac-1", "hvac-2"} {
			fx.send(monday(9, 0), "hvac", w, d, fl("temp_c", 35), fl("setpoint_c", 25))
		}
	}
	var got []string
	for _, in := range fx.e.Active() {
		got = append(got, in.Rule+" "+in.Ward+"/"+in.Device)
	}
	assert.ElementsMatch(t, []string{
		"ACRoomTooHot thanh-binh/hvac-1", "ACRoomTooHot thanh-binh/hvac-2",
		"ACAboveSetpoint thanh-binh/hvac-2", "ACAboveSetpoint nam-duong/hvac-2",
	}, got)
}

// An alert that went back to inactive before firing is forgotten once it
// has been quiet for the flap window, not before: a condition that comes
// and goes keeps its alert registered.
func TestQuietAlertForgottenAfterFlapWindow(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACRoomTooHot"), nil)
	hot := func(tm time.Time, c float64) {
		fx.send(tm, "hvac", "thanh-binh", "hvac-1", fl("temp_c", c), fl("setpoint_c", 25))
	}
	known := func() bool {
		fx.e.mu.Lock()
		defer fx.e.mu.Unlock()
		_, ok := fx.e.instances[instKey{"ACRoomTooHot", "thanh-binh", "hvac", "hvac-1"}]
		return ok
	}
	hot(monday(9, 0), 31)
	hot(monday(9, 2), 24)
	require.Empty(t, fx.e.Active())
	fx.at(monday(9, 3))
	assert.True(t, known(), "quiet for 1 minute: kept")
	fx.at(monday(9, 11))
	assert.True(t, known(), "quiet for 9 minutes of a 10-minute flap window: kept")
	fx.at(monday(9, 12))
	assert.False(t, known(), "quiet for the flap window: forgotten")
	hot(monday(9, 13), 31)
	assert.True(t, known(), "registered again")
	require.Len(t, fx.e.Active(), 1)
	assert.Equal(t, monday(9, 13), fx.e.Active()[0].PendingSince.In(ict))
}

// An alert that went back to inactive before firing starts over when its
// condition holds again, with the same id.
func TestForgottenAlertStartsOver(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACRoomTooHot"), nil)
	hot := func(tm time.Time, c float64) {
		fx.send(tm, "hvac", "thanh-binh", "hvac-1", fl("temp_c", c), fl("setpoint_c", 25))
	}
	hot(monday(9, 0), 31)
	first := fx.e.Active()
	require.Len(t, first, 1)
	hot(monday(9, 5), 24)
	require.Empty(t, fx.e.Active())
	hot(monday(9, 7), 31)
	again := fx.e.Active()
	require.Len(t, again, 1)
	assert.Equal(t, first[0].ID, again[0].ID)
	assert.Equal(t, monday(9, 7), again[0].PendingSince.In(ict), "pending anew, not since 9:00")
	hot(monday(9, 12), 31)
	assert.Empty(t, fx.n.firing, "10 minutes from 9:07, not from 9:00")
	hot(monday(9, 17), 31)
	assert.Len(t, fx.n.firing, 1)
}

// An ack silences the alert in Alertmanager and re-posts it annotated at
// once; withdrawing it or the resolve expires the silence.
func TestAckSilencesAndUnackOrResolveExpires(t *testing.T) {
	sil := &silences{}
	fx := newFixture(t, monday(8, 0), byName("DoorStuckOpen"), func(o *Options) { o.Silencer = sil })
	fx.send(monday(8, 30), "door", "thanh-binh", "door-1", st("state", "open"))
	fx.at(monday(8, 35))
	require.Len(t, fx.n.firing, 1)
	id := fx.e.Active()[0].ID

	_, err := fx.e.Unack(id, "An")
	assert.ErrorIs(t, err, ErrNotAcked)
	_, err = fx.e.Ack(id, "Minh", "đang xử lý")
	require.NoError(t, err)
	assert.Equal(t, []string{id + "|Minh|đang xử lý|door-1"}, sil.silenced)
	require.Len(t, fx.n.updated, 1, "the annotated alert goes out at once")
	assert.True(t, fx.n.updated[0].Acknowledged)
	assert.Equal(t, "Minh", fx.n.updated[0].AckBy)

	fx.e.SetSilence(id, "sil-42")
	assert.Equal(t, "sil-42", fx.e.Active()[0].SilenceID, "the silence id is shown with the alert")

	in, err := fx.e.Unack(id, "An")
	require.NoError(t, err)
	assert.False(t, in.Acked)
	assert.Empty(t, in.SilenceID)
	assert.Equal(t, []string{id}, sil.expired)
	require.Len(t, fx.n.updated, 2)
	assert.False(t, fx.n.updated[1].Acknowledged, "re-posted without the ack")

	_, err = fx.e.Ack(id, "Minh", "")
	require.NoError(t, err)
	fx.send(monday(8, 50), "door", "thanh-binh", "door-1", st("state", "closed"))
	fx.at(monday(8, 51))
	require.Len(t, fx.n.resolved, 1)
	assert.Equal(t, []string{id, id}, sil.expired, "the resolve expires the silence")
}
