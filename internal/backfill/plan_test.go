package backfill

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/fleet"
	"github.com/facmon/facmon/internal/simulator"
)

func wardIDs() []string {
	var ids []string
	for _, w := range fleet.DefaultWards() {
		ids = append(ids, w.ID)
	}
	return ids
}

func TestPlanHoldsAMonthOfEveryFault(t *testing.T) {
	to := time.Date(2026, 12, 5, 21, 14, 0, 0, time.UTC)
	from := to.Add(-30 * 24 * time.Hour)
	p := PlanHistory(1, wardIDs(), fleet.DefaultDevices(), from, to)
	kinds := map[simulator.FaultKind]int{}
	for _, in := range p.Incidents {
		kinds[in.Kind]++
		assert.False(t, in.From.Before(from), "%v starts before the window", in)
		assert.False(t, in.To.After(to), "%v ends after the window", in)
		assert.True(t, in.To.After(in.From), "%v is empty", in)
	}
	for _, k := range []simulator.FaultKind{simulator.FaultDoorStuckOpen, simulator.FaultACFailure, simulator.FaultDeviceOffline,
		simulator.FaultCameraNotRecording, simulator.FaultDiskFilling, simulator.FaultWardOutage, simulator.FaultAppDown, simulator.FaultQueueStuck} {
		assert.Positive(t, kinds[k], "no %s in 30 days", k)
	}
	assert.GreaterOrEqual(t, kinds[simulator.FaultDoorStuckOpen], 3)
	require.NotEmpty(t, p.FacmonDown, "facmon's own outage")
	for _, s := range p.FacmonDown {
		d := s.To.Sub(s.From)
		if s.From.After(from) && s.To.Before(to) {
			assert.True(t, d >= 35*time.Minute && d <= 50*time.Minute, "facmon down %v", d)
		}
	}
	// The planned maintenance falls in the demo's weekly window.
	var planned bool
	mw := DemoMaintenance()
	for _, in := range p.Incidents {
		local := in.From.In(ict)
		if in.Ward == mw.Ward && in.Device == "server-1" && local.Weekday() == time.Saturday && local.Hour() == 9 {
			planned = true
			assert.LessOrEqual(t, in.To.In(ict).Hour()*60+in.To.In(ict).Minute(), 11*60, "inside 09:30-11:00")
		}
	}
	assert.True(t, planned, "a planned maintenance in the window")
}

func TestPlanIsTheSameForRunsEndingTheSameDay(t *testing.T) {
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, ict)
	a := PlanHistory(7, wardIDs(), fleet.DefaultDevices(), day.Add(-30*24*time.Hour), day.Add(9*time.Hour))
	b := PlanHistory(7, wardIDs(), fleet.DefaultDevices(), day.Add(-30*24*time.Hour), day.Add(17*time.Hour))
	// b sees the later hours of the day too; what a saw, b planned alike.
	for _, in := range a.Incidents {
		if in.To.Before(day.Add(9 * time.Hour)) {
			assert.Contains(t, b.Incidents, in)
		}
	}
	other := PlanHistory(8, wardIDs(), fleet.DefaultDevices(), day.Add(-30*24*time.Hour), day.Add(9*time.Hour))
	assert.NotEqual(t, a.Incidents, other.Incidents, "the seed changes the plan")
}

func TestPlanOfAnEmptyWindow(t *testing.T) {
	at := time.Date(2026, 12, 5, 0, 0, 0, 0, ict)
	assert.Empty(t, PlanHistory(1, wardIDs(), fleet.DefaultDevices(), at, at).Incidents)
	assert.Empty(t, PlanHistory(1, nil, fleet.DefaultDevices(), at.Add(-time.Hour), at).Incidents)
}

// The faults spread over the month rather than piling up on a few days.
func TestPlanSpreadsFaultsOverTheMonth(t *testing.T) {
	to := time.Date(2026, 12, 5, 21, 14, 0, 0, time.UTC)
	for seed := int64(1); seed <= 5; seed++ {
		p := PlanHistory(seed, wardIDs(), fleet.DefaultDevices(), to.Add(-30*24*time.Hour), to)
		perDay := map[string]int{}
		for _, in := range p.Incidents {
			perDay[in.From.In(ict).Format("2006-01-02")]++
		}
		assert.GreaterOrEqual(t, len(perDay), 8, "seed %d: faults on only %d days: %v", seed, len(perDay), perDay)
		for day, n := range perDay {
			assert.LessOrEqual(t, n, 5, "seed %d: %d faults on %s", seed, n, day)
		}
	}
}
