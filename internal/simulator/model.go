package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/facmon/facmon/internal/fleet"
)

// Model computes what every device of a fleet reports. It knows nothing of MQTT: given the
// same Config (Seed, fleet, faults), start and sequence of reading times it produces the
// same payloads, byte for byte. Next may be called concurrently for different devices,
// not for the same one.
type Model struct {
	cfg     Config
	start   time.Time
	devices []*deviceModel
	index   map[string]*deviceModel // "ward/device"
}

// NewModel builds the model of cfg's fleet for a run that starts at start; fault timings
// count from start. The broker settings of cfg are ignored.
func NewModel(cfg Config, start time.Time) (*Model, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validateModel(); err != nil {
		return nil, err
	}
	return newModel(cfg, start), nil
}

func newModel(cfg Config, start time.Time) *Model {
	m := &Model{cfg: cfg, start: start, index: map[string]*deviceModel{}}
	for _, w := range cfg.Wards {
		busy := 0.7 + 0.3*fleet.HashUnit(cfg.Seed, "busy:"+w.ID, 0)
		for _, class := range fleet.Classes() {
			for i := 1; i <= cfg.Devices[class]; i++ {
				d := fleet.Device{Ward: w.ID, Class: class, ID: class + "-" + strconv.Itoa(i)}
				key := d.Ward + "/" + d.ID
				dm := &deviceModel{
					dev:   d,
					env:   &env{loc: cfg.Location, seed: cfg.Seed, busy: busy, interval: cfg.Interval, start: start},
					rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), fleet.Hash64(cfg.Seed, key, 0))),
					state: newClassModel(class),
				}
				for _, f := range cfg.Faults {
					if !f.Kind.Transport() && f.Ward == d.Ward && f.Device == d.ID {
						dm.env.faults = append(dm.env.faults, f)
					}
				}
				m.devices = append(m.devices, dm)
				m.index[key] = dm
			}
		}
	}
	return m
}

// Devices lists the fleet: wards in Config order, then classes door, hvac, server, camera.
func (m *Model) Devices() []fleet.Device {
	out := make([]fleet.Device, len(m.devices))
	for i, d := range m.devices {
		out[i] = d.dev
	}
	return out
}

// Next returns the device's next telemetry payload, read at simulated time t, and
// advances its state (counters, temperatures, disk) from the previous reading to t.
// Each call takes the next seq; t must not go backwards.
func (m *Model) Next(ward, device string, t time.Time) ([]byte, error) {
	dm, ok := m.index[ward+"/"+device]
	if !ok {
		return nil, fmt.Errorf("unknown device %s/%s", ward, device)
	}
	if t.Before(dm.last) {
		return nil, fmt.Errorf("device %s/%s: reading time %v before the previous one %v", ward, device, t, dm.last)
	}
	return json.Marshal(dm.next(t))
}

// env is what a device model needs to know about its surroundings.
type env struct {
	loc      *time.Location
	seed     int64
	busy     float64 // this ward's share of the city's busiest office
	interval time.Duration
	start    time.Time
	faults   []Fault // payload faults aimed at this device
}

func (e *env) occupancy(t time.Time) float64 { return e.busy * fleet.Occupancy(t, e.loc) }

func (e *env) fault(kind FaultKind, t time.Time) (Fault, bool) {
	for _, f := range e.faults {
		if f.Kind == kind && f.ActiveAt(e.start, t) {
			return f, true
		}
	}
	return Fault{}, false
}

// classModel is the physics of one device class.
type classModel interface {
	// init sets the state as found at the first reading.
	init(e *env, r *rand.Rand, t time.Time)
	// step integrates the state over [from, to), at most a minute long.
	step(e *env, r *rand.Rand, from, to time.Time)
	// reading returns the payload at t, without ts and seq.
	reading(e *env, r *rand.Rand, t time.Time) payload
}

type payload interface{ setMeta(meta) }

// meta is embedded last in every payload so its fields follow the class's own.
type meta struct {
	TS  int64 `json:"ts"`
	Seq int64 `json:"seq"`
}

func (m *meta) setMeta(v meta) { *m = v }

type deviceModel struct {
	dev   fleet.Device
	env   *env
	rng   *rand.Rand
	state classModel
	last  time.Time
	seq   int64
}

// step is the integration step: short enough that occupancy and the weather are nearly
// constant within it, so the state does not depend on how often a device reports.
const step = time.Minute

func (d *deviceModel) next(t time.Time) payload {
	if d.seq == 0 {
		d.state.init(d.env, d.rng, t)
	} else {
		for from := d.last; from.Before(t); from = from.Add(step) {
			d.state.step(d.env, d.rng, from, minTime(from.Add(step), t))
		}
	}
	d.last = t
	d.seq++
	p := d.state.reading(d.env, d.rng, t)
	p.setMeta(meta{TS: t.UnixMilli(), Seq: d.seq})
	return p
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func newClassModel(class string) classModel {
	switch class {
	case fleet.ClassDoor:
		return &door{}
	case fleet.ClassHVAC:
		return &hvac{}
	case fleet.ClassServer:
		return &server{}
	default:
		return &camera{}
	}
}

// relax moves x toward target as a first-order system with time constant tau.
func relax(x, target float64, dt, tau time.Duration) float64 {
	return target + (x-target)*math.Exp(-dt.Seconds()/tau.Seconds())
}

// --- door ---

type door struct {
	cycles int64
	moved  int64 // cycles since the previous reading
}

type doorPayload struct {
	State         string `json:"state"`
	Cycles        int64  `json:"cycles"`
	MotorCurrentA dec2   `json:"motor_current_a"`
	Obstruction   bool   `json:"obstruction"`
	Fault         int    `json:"fault"`
	meta
}

// doorRate is door cycles per minute: about two a minute in a full waiting room, and a
// guard's or cleaner's occasional pass at night.
func doorRate(occ float64) float64 { return 0.02 + 1.8*occ }

func (d *door) init(e *env, r *rand.Rand, t time.Time) {
	d.cycles = 5000 + r.Int64N(40000) // doors installed at different times
}

func (d *door) step(e *env, r *rand.Rand, from, to time.Time) {
	if _, stuck := e.fault(FaultDoorStuckOpen, from); stuck {
		return
	}
	mid := from.Add(to.Sub(from) / 2)
	n := fleet.Poisson(r, doorRate(e.occupancy(mid))*to.Sub(from).Minutes())
	d.cycles += n
	d.moved += n
}

func (d *door) reading(e *env, r *rand.Rand, t time.Time) payload {
	moved := d.moved
	d.moved = 0
	if _, stuck := e.fault(FaultDoorStuckOpen, t); stuck {
		return &doorPayload{State: "open", Cycles: d.cycles}
	}
	// An opening keeps the door open about 8 s, so that share of time it is caught open.
	pOpen := math.Min(0.85, doorRate(e.occupancy(t))/60*8)
	p := &doorPayload{State: "closed", Cycles: d.cycles}
	if r.Float64() < pOpen {
		p.State = "open"
	}
	if moved > 0 {
		// Peak current of the last movement; worn doors draw a little more.
		wear := math.Min(1, float64(d.cycles)/500000)
		p.MotorCurrentA = dec2(clamp(1.3+0.15*wear+0.06*r.NormFloat64(), 1.2, 1.6))
		p.Obstruction = r.Float64() < 0.005 // someone lingering in the doorway
	}
	return p
}

// --- air conditioner ---

type hvac struct {
	setpoint float64
	temp, rh float64
}

type hvacPayload struct {
	TempC       dec1   `json:"temp_c"`
	SetpointC   dec1   `json:"setpoint_c"`
	HumidityPct dec1   `json:"humidity_pct"`
	PowerW      dec1   `json:"power_w"`
	Running     bool   `json:"running"`
	Fault       string `json:"fault"`
	meta
}

func (h *hvac) init(e *env, r *rand.Rand, t time.Time) {
	// Government offices are asked to keep air conditioning at 25–26 °C or warmer.
	h.setpoint = 25 + float64(r.IntN(2))
	tout := outdoorTemp(t, e.loc, e.seed)
	h.temp, h.rh = tout, outdoorHumidity(tout)
	if _, failed := e.fault(FaultACFailure, t); !failed && fleet.OfficeOpen(t, e.loc) {
		h.temp, h.rh = h.setpoint+0.8*e.occupancy(t), 57+8*e.occupancy(t)
	}
}

func (h *hvac) step(e *env, r *rand.Rand, from, to time.Time) {
	dt := to.Sub(from)
	mid := from.Add(dt / 2)
	tout, occ, open := outdoorTemp(mid, e.loc, e.seed), e.occupancy(mid), fleet.OfficeOpen(from, e.loc)
	_, failed := e.fault(FaultACFailure, from)
	switch {
	case failed:
		// Without cooling a full room warms quickly (people, PCs, sun on the glass) and
		// settles a little above outdoors; an empty one just follows outdoors.
		target := tout
		if open {
			target += 2
		}
		if h.temp < target {
			h.temp = math.Min(target, h.temp+0.3*dt.Minutes())
		} else {
			h.temp = relax(h.temp, target, dt, 2*time.Hour)
		}
		h.rh = relax(h.rh, outdoorHumidity(tout), dt, 30*time.Minute)
	case open:
		h.temp = relax(h.temp, h.setpoint+0.8*occ, dt, 12*time.Minute)
		h.rh = relax(h.rh, 57+8*occ, dt, 30*time.Minute)
	default:
		// Off: the building's mass makes the room follow the outdoors with a lag of hours.
		h.temp = relax(h.temp, tout, dt, 2*time.Hour)
		h.rh = relax(h.rh, outdoorHumidity(tout), dt, time.Hour)
	}
}

func (h *hvac) reading(e *env, r *rand.Rand, t time.Time) payload {
	tout, occ, open := outdoorTemp(t, e.loc, e.seed), e.occupancy(t), fleet.OfficeOpen(t, e.loc)
	p := &hvacPayload{
		TempC:       dec1(h.temp + 0.1*r.NormFloat64()),
		SetpointC:   dec1(h.setpoint),
		HumidityPct: dec1(clamp(h.rh+0.5*r.NormFloat64(), 20, 99)),
		PowerW:      2.5, // standby
	}
	_, failed := e.fault(FaultACFailure, t)
	switch {
	case failed:
		p.Fault = "E4" // the compressor tripped; the error code latches until a technician resets it
		if open {
			p.PowerW = dec1(45 + 2*r.NormFloat64()) // indoor fan and board only
		}
	case open:
		// The compressor works harder the hotter it is outside and the fuller the room.
		p.Running = true
		p.PowerW = dec1(clamp(350+110*(tout-h.setpoint)+550*occ+40*r.NormFloat64(), 300, 2400))
	}
	return p
}

// --- server with UPS ---

type server struct {
	mem, disk float64
	filling   bool
	preFill   float64
	fillRate  float64 // % per minute
}

type serverPayload struct {
	CPUPct       dec1 `json:"cpu_pct"`
	MemPct       dec1 `json:"mem_pct"`
	DiskPct      dec1 `json:"disk_pct"`
	TempC        dec1 `json:"temp_c"`
	UPSOnBattery bool `json:"ups_on_battery"`
	UPSChargePct dec1 `json:"ups_charge_pct"`
	meta
}

func (s *server) init(e *env, r *rand.Rand, t time.Time) {
	s.mem = 42 + 14*r.Float64()
	s.disk = 55 + 20*r.Float64()
	s.fillTo(e, t)
}

func (s *server) step(e *env, r *rand.Rand, from, to time.Time) {
	if s.fillTo(e, from) {
		s.disk = math.Min(100, s.disk+s.fillRate*to.Sub(from).Minutes())
		return
	}
	// Scanned dossiers accumulate while the office works: about 0.1 % a busy day.
	s.disk = math.Min(100, s.disk+0.0004*e.occupancy(from)*to.Sub(from).Minutes())
}

// fillTo enters or leaves the disk-filling fault at t and reports whether it is active.
func (s *server) fillTo(e *env, t time.Time) bool {
	f, active := e.fault(FaultDiskFilling, t)
	switch {
	case active && !s.filling:
		// 1 % per reporting interval, faster if needed to reach 100 % within 90 % of the
		// fault, so that every drill ends with a full disk.
		s.filling, s.preFill = true, s.disk
		s.fillRate = 1 / e.interval.Minutes()
		if f.For > 0 {
			s.fillRate = math.Max(s.fillRate, (100-s.disk)/(0.9*f.For.Minutes()))
		}
	case !active && s.filling:
		// The technician cleaned up: back to the level before the fault, so the drill has a clear end.
		s.filling, s.disk = false, s.preFill
	}
	return active
}

func (s *server) reading(e *env, r *rand.Rand, t time.Time) payload {
	s.fillTo(e, t)
	occ := e.occupancy(t)
	cpu := 4 + 38*occ + 2.5*r.NormFloat64()
	if m := fleet.MinuteOfDay(t.In(e.loc)); m >= 120 && m < 160 {
		cpu += 35 // nightly backup
	}
	cpu = clamp(cpu, 1, 100)
	return &serverPayload{
		CPUPct:       dec1(cpu),
		MemPct:       dec1(clamp(s.mem+6*occ+0.6*r.NormFloat64(), 1, 99)),
		DiskPct:      dec1(s.disk),
		TempC:        dec1(40 + 0.2*cpu + 0.4*r.NormFloat64()),
		UPSChargePct: 100,
	}
}

// --- camera ---

type camera struct {
	low, daily float64 // NVR share after the nightly purge, and what a day of video adds
}

type cameraPayload struct {
	Recording   bool `json:"recording"`
	FPS         dec1 `json:"fps"`
	BitrateKbps dec1 `json:"bitrate_kbps"`
	StoragePct  dec1 `json:"storage_pct"`
	meta
}

func (c *camera) init(e *env, r *rand.Rand, t time.Time) {
	c.low = 58 + 15*r.Float64()
	c.daily = 6 + 3*r.Float64()
}

func (c *camera) step(*env, *rand.Rand, time.Time, time.Time) {}

// storageAt is a daily sawtooth: the NVR fills through the day and deletes the oldest
// day's footage at midnight to keep its retention.
func (c *camera) storageAt(e *env, t time.Time) float64 {
	return c.low + c.daily*fleet.MinuteOfDay(t.In(e.loc))/(24*60)
}

func (c *camera) reading(e *env, r *rand.Rand, t time.Time) payload {
	if f, stopped := e.fault(FaultCameraNotRecording, t); stopped {
		from, _ := f.Window(e.start)
		return &cameraPayload{StoragePct: dec1(c.storageAt(e, from))}
	}
	// H.264 VBR: more motion, more bits; infrared night images are noisier.
	kbps := 1700 + 900*e.occupancy(t) + 60*r.NormFloat64()
	if h := t.In(e.loc).Hour(); h < 6 || h >= 18 {
		kbps += 300
	}
	return &cameraPayload{Recording: true, FPS: 25, BitrateKbps: dec1(kbps), StoragePct: dec1(c.storageAt(e, t))}
}

// dec1 and dec2 always encode with a decimal point, at most 1 or 2 decimals: a collector
// that types fields from the JSON literal must never see 25 one time and 25.5 the next,
// because an InfluxDB field keeps its first type.
type (
	dec1 float64
	dec2 float64
)

func (v dec1) MarshalJSON() ([]byte, error) { return formatDecimal(float64(v), 1), nil }
func (v dec2) MarshalJSON() ([]byte, error) { return formatDecimal(float64(v), 2), nil }

func formatDecimal(v float64, prec int) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	scale := math.Pow10(prec)
	v = math.Round(v*scale) / scale
	if v == 0 {
		v = 0 // no "-0.0"
	}
	b := strconv.AppendFloat(nil, v, 'f', prec, 64)
	for len(b) > 0 && b[len(b)-1] == '0' && b[len(b)-2] != '.' {
		b = b[:len(b)-1]
	}
	return b
}
