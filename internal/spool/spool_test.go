package spool

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv"
)

func openTest(t testing.TB, dir string, mutate func(*Options)) *Spool {
	t.Helper()
	o := DefaultOptions()
	o.TruncateEvery = time.Millisecond
	o.RetryInterval = 20 * time.Millisecond
	if mutate != nil {
		mutate(&o)
	}
	s, err := Open(dir, o, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func group(from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "door,class=door,device=d,ward=w seq=%di %d\n", i, 1795400100000000000+int64(i))
	}
	return b.Bytes()
}

// recordingSink stores what it is given; failFor makes it fail (as if ctx
// had ended) while true.
type recordingSink struct {
	mu    sync.Mutex
	lines []string
	fail  bool
}

func (r *recordingSink) Commit(ctx context.Context, lines []byte, points int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return context.Canceled
	}
	got := strings.Split(strings.TrimRight(string(lines), "\n"), "\n")
	if len(got) != points {
		panic(fmt.Sprintf("points %d but %d lines", points, len(got)))
	}
	r.lines = append(r.lines, got...)
	return nil
}

func (r *recordingSink) seqs() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, len(r.lines))
	for i, l := range r.lines {
		fmt.Sscanf(l[strings.Index(l, "seq=")+4:], "%d", &out[i])
	}
	return out
}

func seqRange(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestCommitDrainInOrder(t *testing.T) {
	s := openTest(t, t.TempDir(), func(o *Options) { o.MaxDrainPoints = 7 })
	ctx := context.Background()
	for g := 0; g < 10; g++ {
		require.NoError(t, s.Commit(ctx, group(g*5, 5), 5))
	}
	st := s.Stats()
	assert.EqualValues(t, 50, st.Readings)
	assert.Equal(t, 10, st.Entries)
	assert.Greater(t, st.OldestAge, time.Duration(0))
	sink := &recordingSink{}
	require.NoError(t, s.DrainUntilEmpty(ctx, sink))
	assert.Equal(t, seqRange(0, 50), sink.seqs())
	st = s.Stats()
	assert.Zero(t, st.Readings)
	assert.Zero(t, st.Bytes)
	assert.Zero(t, st.OldestAge)
}

func TestReopenReplaysOnlyUndrained(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, func(o *Options) { o.MaxDrainPoints = 10 })
	ctx := context.Background()
	for g := 0; g < 4; g++ {
		require.NoError(t, s.Commit(ctx, group(g*10, 10), 10))
	}
	sink := &recordingSink{}
	from, upto, n, err := s.collect(new([]byte))
	require.NoError(t, err)
	require.Equal(t, 10, n)
	// Drain one entry, then "crash" (close without draining the rest).
	require.NoError(t, sink.Commit(ctx, group(0, 10), 10))
	s.markDrained(from, upto, int64(len(group(0, 10))), 10)
	require.NoError(t, s.Close())

	s2 := openTest(t, dir, nil)
	assert.EqualValues(t, 30, s2.Stats().Readings, "only what InfluxDB did not accept is replayed")
	assert.Equal(t, 30.0, testutil.ToFloat64(s2.m.replayed))
	require.NoError(t, s2.DrainUntilEmpty(ctx, sink))
	assert.Equal(t, seqRange(0, 40), sink.seqs())
	require.NoError(t, s2.Close())

	s3 := openTest(t, dir, nil)
	assert.Zero(t, s3.Stats().Readings, "a fully drained spool replays nothing")
}

func lastSegment(t *testing.T, dir string) string {
	entries, err := os.ReadDir(filepath.Join(dir, "wal"))
	require.NoError(t, err)
	var last string
	for _, e := range entries {
		if len(e.Name()) == 20 && e.Name() > last {
			last = e.Name()
		}
	}
	require.NotEmpty(t, last)
	return filepath.Join(dir, "wal", last)
}

func TestTornTailIsCutNotFatal(t *testing.T) {
	cases := map[string][]byte{
		"partial frame":      {0xC8, 0x01, 'd', 'o', 'o', 'r'}, // says 200 bytes, has 4
		"zero-filled blocks": make([]byte, 4096),
		"frame with bad crc": append([]byte{30}, bytes.Repeat([]byte{'x'}, 30)...),
	}
	for name, tail := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTest(t, dir, nil)
			ctx := context.Background()
			for g := 0; g < 3; g++ {
				require.NoError(t, s.Commit(ctx, group(g*4, 4), 4))
			}
			require.NoError(t, s.Close())
			f, err := os.OpenFile(lastSegment(t, dir), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.Write(tail)
			require.NoError(t, err)
			require.NoError(t, f.Close())

			s2 := openTest(t, dir, nil)
			assert.GreaterOrEqual(t, testutil.ToFloat64(s2.m.torn), 1.0)
			assert.Zero(t, testutil.ToFloat64(s2.m.dropped), "nothing acknowledged was lost")
			sink := &recordingSink{}
			require.NoError(t, s2.DrainUntilEmpty(ctx, sink))
			assert.Equal(t, seqRange(0, 12), sink.seqs())
			// And the spool takes new writes after the repair.
			require.NoError(t, s2.Commit(ctx, group(12, 1), 1))
			require.NoError(t, s2.DrainUntilEmpty(ctx, sink))
			assert.Equal(t, seqRange(0, 13), sink.seqs())
		})
	}
}

func TestFullSpoolPausesCommitsUntilDrained(t *testing.T) {
	s := openTest(t, t.TempDir(), func(o *Options) { o.MaxBytes = 2000 })
	ctx := context.Background()
	n := 0
	for s.Stats().Bytes+int64(len(group(n, 5))) <= 2000 {
		require.NoError(t, s.Commit(ctx, group(n, 5), 5))
		n += 5
	}
	blocked := make(chan error, 1)
	go func() { blocked <- s.Commit(ctx, group(n, 5), 5) }()
	select {
	case err := <-blocked:
		t.Fatalf("commit into a full spool returned %v; it must wait", err)
	case <-time.After(100 * time.Millisecond):
	}
	assert.Equal(t, 1.0, testutil.ToFloat64(s.m.full))
	assert.ErrorContains(t, s.Health(), "full")

	// A commit waiting on a full spool gives up only when its ctx ends.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, s.Commit(cctx, group(n+100, 5), 5), context.DeadlineExceeded)

	sink := &recordingSink{}
	require.NoError(t, s.DrainUntilEmpty(ctx, sink))
	select {
	case err := <-blocked:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("draining did not release the waiting commit")
	}
	assert.Equal(t, 0.0, testutil.ToFloat64(s.m.full))
	require.NoError(t, s.DrainUntilEmpty(ctx, sink))
	assert.Equal(t, seqRange(0, n+5), sink.seqs())
}

func TestDrainStopsWithContextAndKeepsEntries(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	require.NoError(t, s.Commit(context.Background(), group(0, 3), 3))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.NoError(t, s.Drain(ctx, &recordingSink{fail: true}))
	assert.EqualValues(t, 3, s.Stats().Readings, "what InfluxDB did not accept stays")
}

// TestDiskFullPausesAndRecovers fills a real tiny filesystem under the
// spool: commits must wait (no ack), the spool must report itself
// unwritable, and everything must go through once space returns.
func TestDiskFullPausesAndRecovers(t *testing.T) {
	mnt := testenv.TinyFS(t, 512<<10)
	s := openTest(t, filepath.Join(mnt, "spool"), func(o *Options) { o.SegmentBytes = 64 << 10 })
	filler := testenv.FillFS(t, mnt, 1<<20)

	ctx := context.Background()
	done := make(chan error, 1)
	big := group(0, 400) // ~25 KiB: does not fit
	go func() { done <- s.Commit(ctx, big, 400) }()
	require.Eventually(t, func() bool { return s.Health() != nil }, 5*time.Second, 10*time.Millisecond)
	assert.ErrorContains(t, s.Health(), "cannot write")
	assert.Equal(t, 0.0, testutil.ToFloat64(s.m.writable))
	select {
	case err := <-done:
		t.Fatalf("commit on a full disk returned %v; it must wait", err)
	default:
	}
	filler.Free(t)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("commit did not resume when space returned")
	}
	assert.NoError(t, s.Health())
	assert.Greater(t, testutil.ToFloat64(s.m.writeErrors), 0.0)
	sink := &recordingSink{}
	require.NoError(t, s.DrainUntilEmpty(ctx, sink))
	assert.Equal(t, seqRange(0, 400), sink.seqs())
	assert.Zero(t, testutil.ToFloat64(s.m.dropped))
}

// A write the disk refused is cut from the log before the next try: it was
// never acknowledged, and it is not a crash's torn record. Before, every
// retry reopened the log, found the refused write's partial frame, cut it
// as "torn" and counted it (137 warnings in a few minutes of full disk).
func TestRefusedWriteIsCutNotCountedAsTorn(t *testing.T) {
	mnt := testenv.TinyFS(t, 256<<10)
	dir := filepath.Join(mnt, "spool")
	logs := &testenv.LogBuffer{}
	s, err := Open(dir, Options{SegmentBytes: 64 << 10, TruncateEvery: time.Millisecond, RetryInterval: 20 * time.Millisecond, MaxBytes: 1 << 30},
		slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for g := range 3 {
		require.NoError(t, s.Commit(ctx, group(g*10, 10), 10))
	}
	filler := testenv.FillFS(t, mnt, 1<<20)
	done := make(chan error, 1)
	go func() { done <- s.Commit(ctx, group(30, 400), 400) }()
	require.Eventually(t, func() bool { return testutil.ToFloat64(s.m.writeErrors) >= 5 }, 10*time.Second, 10*time.Millisecond, "the commit retries")
	filler.Free(t)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("commit did not resume when space returned")
	}
	assert.Zero(t, testutil.ToFloat64(s.m.torn), "a refused write is not a torn record")
	assert.NotContains(t, logs.String(), "torn")
	assert.EqualValues(t, 430, s.Stats().Readings)
	require.NoError(t, s.Close())

	s2 := openTest(t, dir, nil)
	assert.Zero(t, testutil.ToFloat64(s2.m.torn), "nothing left to cut at the next start either")
	sink := &recordingSink{}
	require.NoError(t, s2.DrainUntilEmpty(ctx, sink))
	assert.Equal(t, seqRange(0, 430), sink.seqs(), "each reading once, in order")
	assert.Zero(t, testutil.ToFloat64(s2.m.dropped))
}

// limitSink accepts batches until it has taken max points, then fails as
// if its ctx had ended, so a test can drain a spool part of the way.
type limitSink struct {
	recordingSink
	max int
}

func (l *limitSink) Commit(ctx context.Context, lines []byte, points int) error {
	if len(l.seqs())+points > l.max {
		return context.Canceled
	}
	return l.recordingSink.Commit(ctx, lines, points)
}

// strayFiles lists the spool's files other than its segments and checkpoint:
// leftovers of copies made while truncating.
func strayFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{dir, filepath.Join(dir, "wal")} {
		entries, err := os.ReadDir(sub)
		require.NoError(t, err)
		for _, e := range entries {
			n := e.Name()
			if e.IsDir() || n == "drained" || len(n) == 20 {
				continue
			}
			out = append(out, n)
		}
	}
	return out
}

// The spool alone fills the disk while InfluxDB is away; InfluxDB takes
// most of it back, but not all. The waiting commit must go through on the
// space of the drained segments, with the disk still full of other things
// and the commit still retrying (the log closed between tries): freeing
// drained entries must need no free space and no open log. Before, the
// truncation returned early whenever a retrying commit had closed the log,
// and otherwise rewrote the head segment through a copy the full disk
// refused.
func TestDrainedSegmentsFreeTheFullDisk(t *testing.T) {
	mnt := testenv.TinyFS(t, 512<<10)
	dir := filepath.Join(mnt, "spool")
	s := openTest(t, dir, func(o *Options) { o.SegmentBytes = 16 << 10; o.MaxDrainPoints = 50 })
	testenv.FillFS(t, mnt, 256<<10) // the rest of the disk is someone else's, and stays taken
	ctx := context.Background()
	n := 0
	for {
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := s.Commit(cctx, group(n, 50), 50)
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			break
		}
		n += 50
		require.Less(t, n, 100000, "the disk never filled")
	}
	require.Greater(t, n, 1000, "the spool filled the disk")
	waiting := make(chan error, 1)
	go func() { waiting <- s.Commit(ctx, group(n, 50), 50) }()

	// InfluxDB takes all but the last two groups, then goes away again.
	sink := &limitSink{max: n - 100}
	require.ErrorIs(t, s.DrainUntilEmpty(ctx, sink), context.Canceled)
	select {
	case err := <-waiting:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("the commit still waits 10 s after InfluxDB took %d of %d readings: the drained segments were not removed (spool files: %v)", n-100, n, strayFiles(t, dir))
	}
	assert.NoError(t, s.Health())
	assert.Empty(t, strayFiles(t, dir), "no copies left behind")
	sink.max = n + 50
	require.NoError(t, s.DrainUntilEmpty(ctx, sink))
	assert.Equal(t, seqRange(0, n+50), sink.seqs())
	assert.Zero(t, testutil.ToFloat64(s.m.dropped))
	assert.Zero(t, testutil.ToFloat64(s.m.torn))
}

// The drain's checkpoint is written on a full disk: its room is kept from
// the start, and it is overwritten in place. Before, it was a new file
// renamed over the old one, and the full disk left an empty drained.tmp,
// so a restart replayed everything InfluxDB had already taken.
func TestCheckpointWrittenOnFullDisk(t *testing.T) {
	mnt := testenv.TinyFS(t, 256<<10)
	dir := filepath.Join(mnt, "spool")
	s := openTest(t, dir, func(o *Options) { o.MaxDrainPoints = 10 })
	ctx := context.Background()
	for g := range 5 {
		require.NoError(t, s.Commit(ctx, group(g*10, 10), 10))
	}
	testenv.FillFS(t, mnt, 1<<20)
	sink := &limitSink{max: 40}
	require.ErrorIs(t, s.DrainUntilEmpty(ctx, sink), context.Canceled)
	require.Equal(t, seqRange(0, 40), sink.seqs())
	require.NoError(t, s.Close())
	assert.Empty(t, strayFiles(t, dir))

	s2 := openTest(t, dir, nil)
	assert.EqualValues(t, 10, s2.Stats().Readings, "what InfluxDB took is not replayed")
	assert.Equal(t, 10.0, testutil.ToFloat64(s2.m.replayed))
	again := &recordingSink{}
	require.NoError(t, s2.DrainUntilEmpty(ctx, again))
	assert.Equal(t, seqRange(40, 50), again.seqs())
}

// FuzzRecovery opens a spool whose last segment holds arbitrary bytes
// after valid entries: it must never panic, and every valid entry written
// before the garbage must still drain, in order.
func FuzzRecovery(f *testing.F) {
	f.Add([]byte{0xC8, 0x01, 'x'})
	f.Add(make([]byte, 64))
	f.Add([]byte{5, 1, 2, 3, 4, 5})
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	// The valid spool is written once and copied into each run: writing it
	// afresh costs several fsyncs per input, which made minimisation crawl.
	template := scratchDir(f)
	s := openTest(f, template, nil)
	require.NoError(f, s.Commit(context.Background(), group(0, 3), 3))
	require.NoError(f, s.Commit(context.Background(), group(3, 2), 2))
	require.NoError(f, s.Close())
	f.Fuzz(func(t *testing.T, garbage []byte) {
		dir := scratchDir(t)
		require.NoError(t, os.CopyFS(dir, os.DirFS(template)))
		fh, err := os.OpenFile(lastSegment(t, dir), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, _ = fh.Write(garbage)
		fh.Close()

		o := DefaultOptions()
		s2, err := Open(dir, o, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
		if err != nil {
			return // refusing to open is acceptable; panicking is not
		}
		defer s2.Close()
		sink := &recordingSink{}
		require.NoError(t, s2.DrainUntilEmpty(context.Background(), sink))
		got := sink.seqs()
		require.GreaterOrEqual(t, len(got), 5)
		assert.Equal(t, seqRange(0, 5), got[:5])
	})
}

// scratchDir is a temporary directory on tmpfs when the machine has one.
// Fuzzing creates and deletes thousands of files a second, and ext4's inode
// allocator then spends whole seconds skipping recently deleted inodes
// (find_inode_bit, recently_deleted in a kernel profile), which stalled the
// fuzz workers. Recovery does not depend on the file system, so nothing is
// lost by running it in memory.
func scratchDir(t testing.TB) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "facmon-spool-fuzz-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

func BenchmarkCommit(b *testing.B) {
	s := openTest(b, b.TempDir(), nil)
	g := group(0, 500)
	sink := &recordingSink{}
	b.SetBytes(int64(len(g)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Commit(context.Background(), g, 500); err != nil {
			b.Fatal(err)
		}
		if i%100 == 99 {
			sink.lines = sink.lines[:0]
			_ = s.DrainUntilEmpty(context.Background(), sink)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "readings/s")
}

// TestDrainPipelinesAndEmptiesTheSpool: with two batches in flight every
// reading reaches the sink exactly once and the spool ends empty.
func TestDrainPipelinesAndEmptiesTheSpool(t *testing.T) {
	s := openTest(t, t.TempDir(), func(o *Options) { o.MaxDrainPoints = 10 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &recordingSink{}
	done := make(chan error, 1)
	go func() { done <- s.Drain(ctx, sink) }()
	for g := 0; g < 40; g++ {
		require.NoError(t, s.Commit(context.Background(), group(g*5, 5), 5))
	}
	require.Eventually(t, func() bool { return s.Stats().Readings == 0 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
	got := sink.seqs()
	sort.Ints(got)
	assert.Equal(t, seqRange(0, 200), got)
}

// writeCounter counts the writes a drain makes and their sizes.
type writeCounter struct {
	mu     sync.Mutex
	writes []int
	at     []time.Time
}

func (w *writeCounter) Commit(_ context.Context, _ []byte, points int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, points)
	w.at = append(w.at, time.Now())
	return nil
}

func (w *writeCounter) snapshot() ([]int, []time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]int(nil), w.writes...), append([]time.Time(nil), w.at...)
}

// A partial batch waits for Linger from its oldest reading; a full one goes
// at once. Many small commits therefore become a few large writes.
func TestDrainWritesFullBatchesOrAfterLinger(t *testing.T) {
	const linger = 300 * time.Millisecond
	s := openTest(t, t.TempDir(), func(o *Options) { o.MaxDrainPoints = 100; o.Linger = linger })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &writeCounter{}
	done := make(chan error, 1)
	go func() { done <- s.Drain(ctx, sink) }()

	start := time.Now()
	for g := range 10 {
		require.NoError(t, s.Commit(ctx, group(g*5, 5), 5))
	}
	require.Eventually(t, func() bool { w, _ := sink.snapshot(); return len(w) == 1 }, 5*time.Second, 5*time.Millisecond)
	writes, at := sink.snapshot()
	assert.Equal(t, []int{50}, writes, "ten small commits make one write")
	assert.GreaterOrEqual(t, at[0].Sub(start), linger-20*time.Millisecond, "a partial batch waits for the linger")

	start = time.Now()
	for g := range 25 {
		require.NoError(t, s.Commit(ctx, group(100+g*5, 5), 5))
	}
	require.Eventually(t, func() bool { w, _ := sink.snapshot(); return len(w) == 3 }, 5*time.Second, 5*time.Millisecond)
	writes, at = sink.snapshot()
	assert.Equal(t, []int{50, 100, 25}, writes, "a full batch goes, then the rest after the linger")
	assert.Less(t, at[1].Sub(start), linger, "a full batch does not wait")
	assert.GreaterOrEqual(t, at[2].Sub(at[1]), linger/2, "the remainder waits for its linger")
	cancel()
	require.NoError(t, <-done)
}

// The drain's progress is checkpointed at most every checkpointEvery, and
// on Close: a reopened spool replays only what was not drained.
func TestCheckpointOnCloseAfterQuickDrains(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, nil)
	ctx := context.Background()
	sink := &recordingSink{}
	for g := range 5 {
		require.NoError(t, s.Commit(ctx, group(g*10, 10), 10))
		require.NoError(t, s.DrainUntilEmpty(ctx, sink)) // five drains within a second
	}
	require.NoError(t, s.Commit(ctx, group(50, 10), 10))
	require.NoError(t, s.Close())

	s2 := openTest(t, dir, nil)
	again := &recordingSink{}
	require.NoError(t, s2.DrainUntilEmpty(ctx, again))
	assert.Equal(t, seqRange(50, 60), again.seqs(), "only the undrained group is replayed")
}
