package storage

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/spool"
	"github.com/facmon/facmon/internal/testenv"
	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// A point InfluxDB refuses for good leaves the spool only once it is in
// the quarantine file. With the quarantine on a full disk the drain waits
// (counting and saying why), the batch stays in the spool across the
// drain's end, and once there is room the point is set aside and the rest
// stored. Before, Poison dropped its own write error after the point had
// been counted as quarantined and the batch had left the spool: lost.
func TestQuarantineThatCannotBeWrittenKeepsThePointInTheSpool(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	db.Exec(t, `CREATE DATABASE quarantine`)
	db.Write(t, "quarantine", "door,class=door,device=door-0,ward=thanh-binh cycles=1i 1795400000000000000\n")
	mnt := testenv.TinyFS(t, 128<<10)
	q := NewQuarantine(filepath.Join(mnt, "quarantine.lp"))
	logs := &testenv.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	w := NewInflux(InfluxOptions{URL: db.URL, Bucket: "quarantine", Timeout: 5 * time.Second, MaxRetryInterval: 100 * time.Millisecond}, q, log, prometheus.NewRegistry())
	defer w.Close()
	sp, err := spool.Open(t.TempDir(), spool.DefaultOptions(), log, prometheus.NewRegistry())
	require.NoError(t, err)
	defer sp.Close()

	var lines strings.Builder
	for i := range 9 {
		if i == 4 {
			// cycles is an integer in this shard: a float is refused for good.
			lines.WriteString("door,class=door,device=door-bad,ward=thanh-binh cycles=2.5 1795400100000000000\n")
			continue
		}
		fmt.Fprintf(&lines, "door,class=door,device=door-%c,ward=thanh-binh cycles=7i 1795400100000000000\n", 'a'+i)
	}
	require.NoError(t, sp.Commit(context.Background(), []byte(lines.String()), 9))
	filler := testenv.FillFS(t, mnt, 1<<20)

	ctx, cancel := context.WithCancel(context.Background())
	drained := make(chan error, 1)
	go func() { drained <- sp.Drain(ctx, w) }()
	testenv.Eventually(t, 10*time.Second, "the drain retries the quarantine write", func() (bool, string) {
		n := testutil.ToFloat64(w.metrics.poisonErrs)
		return n >= 3, fmt.Sprintf("%v failed writes", n)
	})
	assert.EqualValues(t, 9, sp.Stats().Readings, "the batch stays in the spool")
	assert.Zero(t, testutil.ToFloat64(w.metrics.poisonedBy.WithLabelValues("400")), "not counted as quarantined before it is")
	assert.Contains(t, logs.String(), "cannot set a refused point aside")
	assert.Contains(t, logs.String(), "no space left on device", "the log says why")
	cancel()
	require.NoError(t, <-drained)
	assert.EqualValues(t, 9, sp.Stats().Readings, "still in the spool after the drain stopped")

	filler.Free(t)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { drained <- sp.Drain(ctx, w) }()
	testenv.Eventually(t, 10*time.Second, "the spool drains once the quarantine has room", func() (bool, string) {
		st := sp.Stats()
		return st.Readings == 0, fmt.Sprintf("%d readings in the spool", st.Readings)
	})
	cancel()
	require.NoError(t, <-drained)
	b, err := os.ReadFile(q.Path())
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(b), "door-bad"), "set aside once, no half record from the refused writes:\n%s", b)
	assert.Equal(t, 2, strings.Count(string(b), "\n"), "one comment line and the point")
	assert.Equal(t, 1.0, testutil.ToFloat64(w.metrics.poisonedBy.WithLabelValues("400")))
	rows := db.Query(t, "quarantine", `SELECT count(cycles) FROM door WHERE time > 1795400050000000000`)
	n, _ := influxdb.AsInt64(rows[0].Value(0, "count"))
	assert.EqualValues(t, 8, n, "every good point landed")
}
