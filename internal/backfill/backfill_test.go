package backfill

import (
	"bytes"
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
	"github.com/facmon/facmon/internal/fleet"
)

// memWriter keeps every line written.
type memWriter struct {
	mu    sync.Mutex
	lines []string
}

func (m *memWriter) Commit(_ context.Context, lines []byte, _ int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range bytes.Split(bytes.TrimRight(lines, "\n"), []byte("\n")) {
		m.lines = append(m.lines, string(l))
	}
	return nil
}

func (m *memWriter) sorted() []string {
	out := append([]string(nil), m.lines...)
	sort.Strings(out)
	return out
}

func testOptions(t *testing.T, w Committer, wards int, days int) Options {
	t.Helper()
	cfg, err := config.Load("", config.Overrides{})
	require.NoError(t, err)
	cfg.Maintenance = append(cfg.Maintenance, DemoMaintenance())
	to := time.Date(2026, 11, 30, 0, 0, 0, 0, ict)
	return Options{
		Config: cfg, Wards: fleet.DefaultWards()[:wards], Devices: fleet.DefaultDevices(), Seed: 1,
		From: to.Add(-time.Duration(days) * 24 * time.Hour), To: to, Interval: time.Minute, Writer: w, Instance: "test",
	}
}

func TestRunWritesEveryMeasurementTheLivePathWrites(t *testing.T) {
	w := &memWriter{}
	st, err := Run(context.Background(), testOptions(t, w, 13, 30))
	require.NoError(t, err)
	t.Logf("points %v alerts %v", st.Points, st.Alerts)
	for _, m := range []string{"door", "hvac", "server", "camera", "device_status", "device_liveness", "device_availability", "alert_event", "facmon_heartbeat", "scrape", "onestop_queue_length"} {
		assert.Positive(t, st.Points[m], m)
	}
	assert.Equal(t, int64(len(w.lines)), st.Total())
	assert.Contains(t, strings.Join(w.lines, "\n"), ",class=door,device=door-1,ward=thanh-binh ")
	for _, l := range w.lines {
		if strings.HasPrefix(l, "door,") {
			assert.Contains(t, l, ",seq=", "every reading keeps its seq")
			break
		}
	}
	// A month of faults, not a flood: each planned fault fires its rule a
	// few times at most.
	assert.Less(t, st.Alerts["DeviceOffline"], 100, "devices flap")
	assert.Positive(t, st.Alerts["DoorStuckOpen"])
	assert.Positive(t, st.Alerts["WardUnreachable"])
}

func TestRunTwiceWritesTheSamePoints(t *testing.T) {
	a, b := &memWriter{}, &memWriter{}
	_, err := Run(context.Background(), testOptions(t, a, 2, 3))
	require.NoError(t, err)
	_, err = Run(context.Background(), testOptions(t, b, 2, 3))
	require.NoError(t, err)
	require.NotEmpty(t, a.lines)
	assert.Equal(t, a.sorted(), b.sorted())
}

func TestRunRefusesABadWindow(t *testing.T) {
	o := testOptions(t, &memWriter{}, 1, 1)
	o.To = o.From
	_, err := Run(context.Background(), o)
	assert.ErrorContains(t, err, "before it starts")
	o = testOptions(t, &memWriter{}, 1, 1)
	o.Writer = nil
	_, err = Run(context.Background(), o)
	assert.ErrorContains(t, err, "no writer")
}
