package service

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/config"
)

// openUnder lists this process's open files under dir.
func openUnder(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	var out []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir) {
			out = append(out, target)
		}
	}
	return out
}

// A New that fails at its last step (the web port is taken) leaves no
// spool file open, through New's one exit path for errors, which also
// closes the InfluxDB client (no error path did before).
func TestFailedNewClosesWhatItOpened(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	cfg := config.Default()
	cfg.Spool.Dir = t.TempDir()
	cfg.Web.Listen = taken.Addr().String()
	require.NoError(t, cfg.Validate())
	dir, err := filepath.EvalSymlinks(cfg.Spool.Dir)
	require.NoError(t, err)
	_, err = New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry())
	require.Error(t, err, "the web port is taken")
	assert.Empty(t, openUnder(t, dir), "files left open by a failed New")

	// The same configuration with a free port starts on the same spool.
	cfg.Web.Listen = "127.0.0.1:0"
	svc, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), NewRegistry())
	require.NoError(t, err)
	assert.NotEmpty(t, openUnder(t, dir), "the spool is open")
	svc.closeOpened()
	assert.Empty(t, openUnder(t, dir))
}
