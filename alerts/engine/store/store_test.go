package store

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/facmon/facmon/alerts/engine/lifecycle"
	"github.com/facmon/facmon/alerts/view"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStateRoundTrip(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "alerts"))
	require.NoError(t, err)
	none, err := s.Load()
	require.NoError(t, err)
	assert.Empty(t, none, "no state file is an empty state")

	at := time.Date(2026, 12, 7, 9, 6, 0, 0, time.UTC)
	recs := []*Record{
		{Alert: view.Alert{ID: "b", Rule: "DoorStuckOpen", State: lifecycle.StateFiring, FiringSince: at, Notified: true}, Transitions: []time.Time{at}},
		{Alert: view.Alert{ID: "a", Rule: "DeviceOffline", State: lifecycle.StatePending}},
	}
	firing := *recs[0]
	require.NoError(t, s.Save(recs))
	got, err := s.Load()
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "a", got[0].ID, "saved in id order")
	assert.Equal(t, firing, *got[1], "a record comes back as it was saved")
}

func TestDamagedStateNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "state.json"), []byte("[{"), 0o600))
	_, err = s.Load()
	require.Error(t, err)
	assert.Contains(t, err.Error(), filepath.Join(dir, "state.json"))
}

// A crash can leave half a line at the end of the history; it is skipped and
// the lines before it are served.
func TestHistoryWindowAndTornLine(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	require.NoError(t, err)
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	require.NoError(t, s.AppendHistory(
		HistoryEvent{Time: t0, ID: "a", State: "firing"},
		HistoryEvent{Time: t0.Add(time.Hour), ID: "a", State: "resolved"}))
	f, err := os.OpenFile(filepath.Join(dir, "history.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"time":"2026-12-07T10:0`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	all, err := s.History(t0, t0.Add(24*time.Hour))
	require.NoError(t, err)
	require.Len(t, all, 2)
	first, err := s.History(t0, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, first, 1, "the window is [from, to)")
	assert.Equal(t, "firing", first[0].State)
}
