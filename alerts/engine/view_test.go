package engine

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/engine/store"
	"github.com/facmon/facmon/alerts/view"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// put registers alerts directly, as the engine's lifecycle would leave
// them: the views are what is tested here.
func put(e *Engine, ins ...view.Alert) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, in := range ins {
		e.instances[instKey{in.Rule, in.Ward, in.Class, in.Device}] = &instance{Record: store.Record{Alert: in}}
	}
}

func drop(e *Engine, in view.Alert) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.instances, instKey{in.Rule, in.Ward, in.Class, in.Device})
}

// manyAlerts is n alerts over 13 wards, three rules of three severities,
// firing or pending, some acknowledged.
func manyAlerts(n int, seed uint64) []view.Alert {
	rng := rand.New(rand.NewPCG(seed, 7))
	rules := []struct{ name, sev string }{{"DeviceOffline", "warning"}, {"ACRoomTooHot", "critical"}, {"DiskFilling", "info"}}
	out := make([]view.Alert, 0, n)
	for i := range n {
		r := rules[rng.IntN(len(rules))]
		in := view.Alert{ID: fmt.Sprintf("id-%d-%d", seed, i), Rule: r.name, Severity: r.sev, Ward: fmt.Sprintf("ward-%d", rng.IntN(13)),
			Class: "camera", Device: fmt.Sprintf("camera-%d-%d", seed, i), State: lifecycle.StateFiring,
			FiringSince: monday(8, 0).Add(time.Duration(rng.IntN(3600)) * time.Second), Acked: rng.IntN(5) == 0}
		if rng.IntN(10) == 0 {
			in.State, in.FiringSince, in.Acked = lifecycle.StatePending, time.Time{}, false
		}
		out = append(out, in)
	}
	return out
}

func walk(t *testing.T, e *Engine, q view.Query, between func(page int)) (ids []string, pages int) {
	t.Helper()
	for {
		p, err := e.Alerts(q)
		require.NoError(t, err)
		require.LessOrEqual(t, len(p.Alerts), q.Limit)
		for _, a := range p.Alerts {
			ids = append(ids, a.ID)
		}
		pages++
		if p.Next == "" {
			return ids, pages
		}
		q.After = p.Next
		if between != nil {
			between(pages)
		}
	}
}

func TestPagingWalksEveryAlertOnce(t *testing.T) {
	fx := newFixture(t, monday(8, 0), nil, nil)
	all := manyAlerts(2500, 1)
	put(fx.e, all...)
	for _, limit := range []int{1, 7, 100, 2499, 2500, 5000} {
		ids, pages := walk(t, fx.e, view.Query{Limit: limit}, nil)
		assert.Len(t, ids, len(all), "limit %d", limit)
		seen := map[string]bool{}
		for _, id := range ids {
			assert.False(t, seen[id], "limit %d: %s twice", limit, id)
			seen[id] = true
		}
		assert.Equal(t, (len(all)+limit-1)/limit, pages, "limit %d", limit)
	}
	// Most severe first.
	p, err := fx.e.Alerts(view.Query{Limit: 5000})
	require.NoError(t, err)
	assert.Equal(t, len(all), p.Total)
	assert.Equal(t, "critical", p.Alerts[0].Severity)
	assert.Equal(t, "info", p.Alerts[len(p.Alerts)-1].Severity)
}

// Alerts that come and go during a walk do not make it repeat or skip
// one that lasts through it.
func TestPagingIsStableUnderChanges(t *testing.T) {
	fx := newFixture(t, monday(8, 0), nil, nil)
	all := manyAlerts(2000, 1)
	put(fx.e, all...)
	rng := rand.New(rand.NewPCG(3, 4))
	gone := map[string]bool{}
	added := manyAlerts(1000, 2)
	ids, _ := walk(t, fx.e, view.Query{Limit: 50}, func(page int) {
		// Between pages: 25 alerts resolve, 25 new ones fire, anywhere
		// in the order, ahead of the cursor or behind it.
		for range 25 {
			in := all[rng.IntN(len(all))]
			drop(fx.e, in)
			gone[in.ID] = true
		}
		put(fx.e, added[(page-1)*25%len(added):][:25]...)
	})
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for id, n := range seen {
		assert.Equal(t, 1, n, "%s seen %d times", id, n)
	}
	for _, in := range all {
		if !gone[in.ID] {
			assert.Equal(t, 1, seen[in.ID], "%s lasted through the walk and was missed", in.ID)
		}
	}
}

func TestPagingFilters(t *testing.T) {
	fx := newFixture(t, monday(8, 0), nil, nil)
	all := manyAlerts(3000, 1)
	put(fx.e, all...)
	count := func(keep func(view.Alert) bool) int {
		n := 0
		for _, in := range all {
			if keep(in) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		q    view.Query
		keep func(view.Alert) bool
	}{
		{view.Query{Ward: "ward-3"}, func(in view.Alert) bool { return in.Ward == "ward-3" }},
		{view.Query{Rule: "ACRoomTooHot"}, func(in view.Alert) bool { return in.Rule == "ACRoomTooHot" }},
		{view.Query{State: lifecycle.StatePending}, func(in view.Alert) bool { return in.State == lifecycle.StatePending }},
		{view.Query{Ward: "ward-3", Rule: "DeviceOffline", State: lifecycle.StateFiring}, func(in view.Alert) bool {
			return in.Ward == "ward-3" && in.Rule == "DeviceOffline" && in.State == lifecycle.StateFiring
		}},
		{view.Query{Ward: "nowhere"}, func(view.Alert) bool { return false }},
	}
	for _, c := range cases {
		c.q.Limit = 40
		want := count(c.keep)
		p, err := fx.e.Alerts(c.q)
		require.NoError(t, err)
		assert.Equal(t, want, p.Total, "%+v", c.q)
		ids, _ := walk(t, fx.e, c.q, nil)
		assert.Len(t, ids, want, "%+v", c.q)
		for _, a := range p.Alerts {
			assert.True(t, c.keep(a), "%+v: %+v", c.q, a)
		}
	}
	for _, bad := range []string{"!!", "bm90IGpzb24", "WzEsImEiXQ"} {
		_, err := fx.e.Alerts(view.Query{Limit: 10, After: bad})
		assert.ErrorIs(t, err, view.ErrBadCursor, bad)
	}
}

func TestOverviewGroupsPerWardAndRule(t *testing.T) {
	fx := newFixture(t, monday(8, 0), nil, nil)
	all := manyAlerts(5000, 1)
	put(fx.e, all...)
	groups := fx.e.Overview(5, 3)
	firing := 0
	for _, in := range all {
		if in.State == lifecycle.StateFiring {
			firing++
		}
	}
	sum := 0
	for i, g := range groups {
		sum += g.Firing
		if i > 0 {
			assert.LessOrEqual(t, view.GroupOrder(groups[i-1], g), 0, "in order")
		}
		if i < 5 {
			require.Len(t, g.Alerts, 3, "the first groups carry their first alerts")
			for _, a := range g.Alerts {
				assert.Equal(t, g.Ward, a.Ward)
				assert.Equal(t, g.Rule, a.Rule)
			}
			assert.LessOrEqual(t, view.AlertOrder(g.Alerts[0], g.Alerts[1]), 0)
		} else {
			assert.Empty(t, g.Alerts, "the others only their counts")
		}
	}
	assert.Equal(t, firing, sum, "every firing alert counted once")
	assert.Len(t, groups, 13*3)
	assert.Equal(t, "critical", groups[0].Severity)

	// The group's first alerts are its unacknowledged ones, oldest first.
	var want []view.Alert
	for _, in := range all {
		if in.State == lifecycle.StateFiring && in.Ward == groups[0].Ward && in.Rule == groups[0].Rule {
			want = append(want, in)
		}
	}
	slices.SortFunc(want, view.AlertOrder)
	for i := range 3 {
		assert.Equal(t, want[i].ID, groups[0].Alerts[i].ID)
	}
}

// The views see the alerts the lifecycle makes.
func TestViewsOfARealAlert(t *testing.T) {
	fx := newFixture(t, monday(8, 0), byName("ACRoomTooHot"), nil)
	for _, m := range []int{0, 10} {
		fx.send(monday(9, m), "hvac", "thanh-binh", "hvac-1", fl("temp_c", 32), fl("setpoint_c", 25))
		fx.send(monday(9, m), "hvac", "thanh-binh", "hvac-2", fl("temp_c", 32), fl("setpoint_c", 25))
	}
	p, err := fx.e.Alerts(view.Query{Limit: 1, State: lifecycle.StateFiring})
	require.NoError(t, err)
	assert.Equal(t, 2, p.Total)
	require.Len(t, p.Alerts, 1)
	assert.Equal(t, "hvac-1", p.Alerts[0].Device)
	p, err = fx.e.Alerts(view.Query{Limit: 1, After: p.Next})
	require.NoError(t, err)
	assert.Equal(t, "hvac-2", p.Alerts[0].Device)
	assert.Empty(t, p.Next)

	g := fx.e.Overview(10, 10)
	require.Len(t, g, 1)
	assert.Equal(t, view.Group{Ward: "thanh-binh", Rule: "ACRoomTooHot", Severity: "critical", Firing: 2, Since: monday(9, 10), Alerts: g[0].Alerts}, g[0])
	assert.Len(t, g[0].Alerts, 2)
}
