package status

import (
	"cmp"
	_ "embed"
	"slices"
	"sync"

	"github.com/facmon/facmon/reports/i18n"
)

// Memory is an in-memory Source for tests and demos. Its methods are safe
// for concurrent use.
type Memory struct {
	mu         sync.Mutex
	offices    []Office
	devices    map[string]DeviceState // ward/class/device
	alerts     map[string]Alert       // by id
	collecting bool
}

// NewMemory returns an empty source that is collecting.
func NewMemory(offices ...Office) *Memory {
	return &Memory{offices: slices.Clone(offices), devices: map[string]DeviceState{}, alerts: map[string]Alert{}, collecting: true}
}

// Offices implements Source.
func (m *Memory) Offices() []Office {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.offices)
}

// Devices implements Source, in a stable order.
func (m *Memory) Devices() []DeviceState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]DeviceState, 0, len(m.devices))
	for _, d := range m.devices {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b DeviceState) int {
		return cmp.Or(cmp.Compare(a.Ward, b.Ward), cmp.Compare(a.Class, b.Class), i18n.NaturalCompare(a.Device, b.Device))
	})
	return out
}

// AlertGroups implements Source, in the order the alert engine uses.
func (m *Memory) AlertGroups(maxGroups, perGroup int) []AlertGroup {
	m.mu.Lock()
	// A rule has one severity; the key holds it so a test that gives one
	// name two severities still sees both.
	type key struct{ ward, rule, severity string }
	members := map[key][]Alert{}
	for _, a := range m.alerts {
		k := key{a.Ward, a.Name, a.Severity}
		members[k] = append(members[k], a)
	}
	m.mu.Unlock()
	out := make([]AlertGroup, 0, len(members))
	for k, as := range members {
		g := AlertGroup{Ward: k.ward, Rule: k.rule, Severity: k.severity, Count: len(as), Since: as[0].Since}
		for _, a := range as {
			if a.Acked {
				g.Acked++
			}
			if a.Since.Before(g.Since) {
				g.Since = a.Since
			}
		}
		out = append(out, g)
	}
	unacked := func(g AlertGroup) int { return min(g.Count-g.Acked, 1) }
	slices.SortFunc(out, func(a, b AlertGroup) int {
		return cmp.Or(severityRank(a.Severity)-severityRank(b.Severity), unacked(b)-unacked(a),
			a.Since.Compare(b.Since), cmp.Compare(a.Ward, b.Ward), cmp.Compare(a.Rule, b.Rule))
	})
	acked := func(a Alert) int {
		if a.Acked {
			return 1
		}
		return 0
	}
	for i := range out[:min(maxGroups, len(out))] {
		as := members[key{out[i].Ward, out[i].Rule, out[i].Severity}]
		slices.SortFunc(as, func(a, b Alert) int {
			return cmp.Or(acked(a)-acked(b), a.Since.Compare(b.Since), cmp.Compare(a.Class, b.Class), i18n.NaturalCompare(a.Device, b.Device))
		})
		out[i].Alerts = as[:min(perGroup, len(as))]
	}
	return out
}

// Collecting implements CollectingSource.
func (m *Memory) Collecting() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.collecting
}

// SetCollecting says whether facmon is collecting.
func (m *Memory) SetCollecting(c bool) {
	m.mu.Lock()
	m.collecting = c
	m.mu.Unlock()
}

// SetDevice records the state of a device.
func (m *Memory) SetDevice(d DeviceState) {
	m.mu.Lock()
	m.devices[d.Ward+"/"+d.Class+"/"+d.Device] = d
	m.mu.Unlock()
}

// SetAlert adds or replaces an active alert (by id).
func (m *Memory) SetAlert(a Alert) {
	m.mu.Lock()
	m.alerts[a.ID] = a
	m.mu.Unlock()
}

// Resolve removes an alert.
func (m *Memory) Resolve(id string) {
	m.mu.Lock()
	delete(m.alerts, id)
	m.mu.Unlock()
}
