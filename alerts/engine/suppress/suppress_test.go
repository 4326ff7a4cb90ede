package suppress

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/alerts/maintenance"
	"github.com/facmon/facmon/alerts/rule"
)

func TestMuters(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	sched, err := maintenance.New([]maintenance.Window{
		{Name: "server work", Ward: "hai-chau-1", Class: "server", Start: "2026-12-07T09:00:00Z", End: "2026-12-07T10:00:00Z"},
	}, time.UTC)
	require.NoError(t, err)
	absence := &rule.Compiled{Rule: rule.Rule{Name: "DeviceOffline", Kind: rule.KindAbsence}}
	threshold := &rule.Compiled{Rule: rule.Rule{Name: "ServerHot", Kind: rule.KindThreshold}}
	down := map[string]bool{"thanh-binh": true}
	outage := NewWardOutage(func(w string) bool { return down[w] })
	outage.WardBack("nam-duong", t0)
	muters := Chain{Maintenance{sched}, outage}
	cases := []struct {
		name   string
		t      Target
		at     time.Time
		reason string
	}{
		{"a device in its maintenance window", Target{threshold, "hai-chau-1", "server", "server-1"}, t0.Add(30 * time.Minute), "maintenance"},
		{"after the window", Target{threshold, "hai-chau-1", "server", "server-1"}, t0.Add(time.Hour), ""},
		{"another class of the office", Target{threshold, "hai-chau-1", "door", "door-1"}, t0.Add(30 * time.Minute), ""},
		{"an offline device of an unreachable office", Target{absence, "thanh-binh", "door", "door-1"}, t0, "ward_unreachable"},
		{"a threshold alert of an unreachable office is news", Target{threshold, "thanh-binh", "server", "server-1"}, t0, ""},
		{"an offline device of an office just back", Target{absence, "nam-duong", "camera", "camera-1"}, t0.Add(119 * time.Second), "ward_unreachable"},
		{"past the grace period", Target{absence, "nam-duong", "camera", "camera-1"}, t0.Add(2 * time.Minute), ""},
		{"maintenance wins over the outage", Target{absence, "hai-chau-1", "server", "server-1"}, t0, "maintenance"},
	}
	down["hai-chau-1"] = true
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, muted := muters.Mutes(tc.t, tc.at)
			assert.Equal(t, tc.reason, reason)
			assert.Equal(t, tc.reason != "", muted)
		})
	}
}
