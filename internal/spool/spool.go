// Package spool is the local disk queue between the MQTT acknowledgement
// and InfluxDB: a reading is acknowledged to the broker only once it is
// fsynced here, and it leaves the spool only once InfluxDB has accepted it.
//
// The log itself is github.com/tidwall/wal (segment files, append, read by
// index, truncate front). One log entry holds one group commit: many
// readings' line protocol under one fsync, which is what makes
// ack-after-durable fast. Each entry carries a CRC, because the log's
// framing alone cannot tell a torn or zero-filled tail from data.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tidwall/wal"
)

// Options tunes the spool.
type Options struct {
	// MaxBytes caps the line protocol waiting in the spool. When it is
	// reached, commits wait (and so acks stop) until the drain makes room.
	MaxBytes int64
	// SegmentBytes is the size of one log file. The log keeps the tail
	// segment and the one before it in memory, and grows the tail by
	// appending, which allocates about five times what it holds, so
	// this bounds memory and garbage as much as files on disk.
	SegmentBytes int
	// MaxDrainPoints is the most points the drain sends in one write.
	MaxDrainPoints int
	// TruncateEvery is how often drained entries are removed from disk.
	// Between truncations a crash replays them, which is harmless: points
	// keep their timestamps, so InfluxDB overwrites them with themselves.
	TruncateEvery time.Duration
	// RetryInterval is the wait before retrying a failed disk write.
	RetryInterval time.Duration
	// Linger is how long the drain waits for a batch to fill before it
	// sends a partial one, so a quiet fleet is not written point by point.
	Linger time.Duration
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{
		MaxBytes: 1 << 30,
		// With 4 MiB segments, the log's two segments in memory and the
		// copies made growing the tail took about 12 MiB of facmon's
		// 62 MiB peak RSS in the ingest benchmark, and a third of what it
		// allocated; 256 KiB segments (a few group commits each, at most
		// 4,096 files for a full 1 GiB spool) took the peak to 50 MiB.
		SegmentBytes:   256 << 10,
		MaxDrainPoints: 5000,
		TruncateEvery:  5 * time.Second,
		RetryInterval:  time.Second,
	}
}

// Sink receives drained batches: it returns nil once every point is
// stored or set aside for good, an error only when ctx ended.
type Sink interface {
	Commit(ctx context.Context, lines []byte, points int) error
}

const headerSize = 4 + 8 + 4 // crc32c, append time (unix ns), points

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by Commit after Close.
var ErrClosed = errors.New("spool closed")

// Spool is the durable queue.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger
	m    *metrics

	mu         sync.Mutex
	room       *sync.Cond // signalled when the drain frees room or the spool closes
	wal        *wal.Log
	closed     bool
	next       uint64 // index of the next entry to drain
	pendBytes  int64  // line-protocol bytes not yet drained
	pendPoints int64
	// nextAppended is when the entry at next was appended (0: none
	// pending), for the oldest-record-age metric. Entries are appended in
	// time order, so the oldest pending one is always the next to drain.
	nextAppended int64
	added        chan struct{} // wakes the drain
	lastTrunc    time.Time
	// checkpointed is the s.next last recorded in the checkpoint file.
	checkpointed   uint64
	lastCheckpoint time.Time
	ckpt           *os.File // the checkpoint, kept open and overwritten in place
	// cutTo is set while the log holds a write the disk refused: the
	// last good index, to cut the log back to before it is opened again.
	cutTo    uint64
	mustCut  bool
	writable bool
	full     bool
	entry    []byte // the commit being written, kept for the next
}

// Open opens or creates the spool in dir, repairing a torn tail left by a
// crash (those bytes were never fsynced, so never acknowledged).
func Open(dir string, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Spool, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultOptions().SegmentBytes
	}
	if opts.MaxDrainPoints <= 0 {
		opts.MaxDrainPoints = DefaultOptions().MaxDrainPoints
	}
	if opts.TruncateEvery <= 0 {
		opts.TruncateEvery = DefaultOptions().TruncateEvery
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultOptions().RetryInterval
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{
		dir:      dir,
		opts:     opts,
		log:      log,
		m:        newMetrics(reg),
		added:    make(chan struct{}, 1),
		writable: true,
	}
	s.room = sync.NewCond(&s.mu)
	if err := s.open(); err != nil {
		return nil, err
	}
	// Left by versions that wrote the checkpoint to a new file and
	// renamed it; a full disk left it empty.
	_ = os.Remove(s.checkpointPath() + ".tmp")
	s.mu.Lock()
	if err := s.writeCheckpointLocked(s.next - 1); err != nil {
		s.log.Warn("spool: cannot write the drain checkpoint; a restart will send drained readings again", "err", err)
	}
	s.mu.Unlock()
	s.m.maxBytes.Set(float64(opts.MaxBytes))
	s.m.writable.Set(1)
	s.m.collect(s)
	return s, nil
}

func (s *Spool) walDir() string { return filepath.Join(s.dir, "wal") }

func (s *Spool) checkpointPath() string { return filepath.Join(s.dir, "drained") }

// open opens the log, repairs its tail and recomputes what is pending.
func (s *Spool) open() error {
	l, err := openRepaired(s.walDir(), s.opts.SegmentBytes, s.log, s.m)
	if err != nil {
		return err
	}
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	next := max(first, s.readCheckpoint()+1)
	var bytes, points, nextAppended int64
	for i := next; i <= last; i++ {
		data, err := l.Read(i)
		if err != nil {
			break
		}
		h, ok := parseHeader(data)
		if !ok {
			continue
		}
		bytes += int64(len(data) - headerSize)
		points += int64(h.points)
		if nextAppended == 0 {
			nextAppended = h.appended
		}
	}
	s.wal, s.next, s.pendBytes, s.pendPoints, s.nextAppended = l, next, bytes, points, nextAppended
	s.checkpointed = next
	if replay := last + 1 - next; replay > 0 {
		s.log.Info("spool: replaying readings left by the last run", "entries", replay, "readings", points, "bytes", bytes)
		s.m.replayed.Add(float64(points))
	}
	return nil
}

// openRepaired opens the log; if its tail is torn it cuts the tail back to
// the last complete, checksummed entry, warns, and opens again.
func openRepaired(dir string, segBytes int, log *slog.Logger, m *metrics) (*wal.Log, error) {
	opts := &wal.Options{
		NoSync:           true, // we fsync once per group commit ourselves
		SegmentSize:      segBytes,
		LogFormat:        wal.Binary,
		SegmentCacheSize: 1,
		NoCopy:           true,
		AllowEmpty:       true,
		DirPerms:         0o750,
		FilePerms:        0o640,
	}
	l, err := wal.Open(dir, opts)
	if errors.Is(err, wal.ErrCorrupt) {
		cut, rerr := repairTail(dir)
		if rerr != nil {
			return nil, fmt.Errorf("spool: repair torn tail in %s: %w", dir, rerr)
		}
		m.torn.Add(1)
		log.Warn("spool: skipped a torn record at the end of the log (a crash during a write that was never acknowledged)", "bytes_cut", cut)
		l, err = wal.Open(dir, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("spool: open %s: %w", dir, err)
	}
	// Entries whose framing survived but whose checksum does not (a
	// zero-filled or partly written tail) are cut the same way.
	first, _ := l.FirstIndex()
	last, _ := l.LastIndex()
	good := last
	for good >= first && good > 0 {
		data, err := l.Read(good)
		if err == nil {
			if _, ok := parseHeader(data); ok {
				break
			}
		}
		good--
	}
	if good < last {
		// Cut the files, not through the log's TruncateBack, which writes
		// a copy of the tail segment first: a full disk refuses that.
		closeLog(l)
		if err := cutAfter(dir, good); err != nil {
			return nil, fmt.Errorf("spool: cut bad tail: %w", err)
		}
		m.torn.Add(float64(last - good))
		log.Warn("spool: skipped damaged records at the end of the log (never acknowledged)", "records", last-good)
		if l, err = wal.Open(dir, opts); err != nil {
			return nil, fmt.Errorf("spool: open %s: %w", dir, err)
		}
	}
	return l, nil
}

// closeLog closes l. Its Close syncs first and, when that fails, returns
// without closing the tail file; the kernel reports a writeback error once
// per file, so a second Close gets through and no descriptor is left
// holding a file that is deleted later (its space would never come back).
func closeLog(l *wal.Log) {
	if err := l.Close(); err != nil && !errors.Is(err, wal.ErrClosed) && !errors.Is(err, wal.ErrCorrupt) {
		_ = l.Close()
	}
}

type segmentFile struct {
	index uint64
	path  string
}

// segments lists the log's segment files, oldest first. Each is named
// after the index of its first entry.
func segments(dir string) ([]segmentFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []segmentFile
	for _, e := range entries {
		n := e.Name()
		if len(n) != 20 || e.IsDir() {
			continue
		}
		i, err := strconv.ParseUint(n, 10, 64)
		if err != nil || i == 0 {
			continue
		}
		out = append(out, segmentFile{i, filepath.Join(dir, n)})
	}
	return out, nil // ReadDir sorts by name, and the names are zero-padded
}

// cutAfter shortens the closed log in dir so that last is its last entry,
// by truncating and removing files: that only ever frees space, so it
// works on a full disk. Segments that begin after last+1 can only hold
// entries past it; the one holding last keeps its frames up to it.
func cutAfter(dir string, last uint64) error {
	segs, err := segments(dir)
	if err != nil {
		return err
	}
	for i := len(segs) - 1; i > 0 && segs[i].index > last+1; i-- {
		if err := os.Remove(segs[i].path); err != nil {
			return err
		}
		segs = segs[:i]
	}
	if len(segs) == 0 {
		return nil
	}
	tail := segs[len(segs)-1]
	keep := int64(0)
	if last+1 > tail.index {
		keep = int64(last + 1 - tail.index)
	}
	data, err := os.ReadFile(tail.path)
	if err != nil {
		return err
	}
	pos := 0
	for n := int64(0); n < keep && pos < len(data); n++ {
		size, w := binary.Uvarint(data[pos:])
		if w <= 0 || uint64(len(data)-pos-w) < size {
			break // the file ends before last: keep every whole frame
		}
		pos += w + int(size)
	}
	if pos == len(data) {
		return nil
	}
	return os.Truncate(tail.path, int64(pos))
}

// repairTail truncates the last segment file after its last complete frame.
func repairTail(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var last string
	for _, e := range entries {
		n := e.Name()
		if len(n) == 20 && !e.IsDir() {
			if _, err := strconv.ParseUint(n, 10, 64); err == nil && n > last {
				last = n
			}
		}
	}
	if last == "" {
		return 0, errors.New("no segment file")
	}
	path := filepath.Join(dir, last)
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pos := 0
	for pos < len(data) {
		size, n := binary.Uvarint(data[pos:])
		if n <= 0 || uint64(len(data)-pos-n) < size {
			break
		}
		pos += n + int(size)
	}
	if err := os.Truncate(path, int64(pos)); err != nil {
		return 0, err
	}
	return int64(len(data) - pos), nil
}

type header struct {
	appended int64
	points   uint32
}

func parseHeader(data []byte) (header, bool) {
	if len(data) < headerSize+1 {
		return header{}, false
	}
	if crc32.Checksum(data[4:], castagnoli) != binary.LittleEndian.Uint32(data) {
		return header{}, false
	}
	return header{
		appended: int64(binary.LittleEndian.Uint64(data[4:])),
		points:   binary.LittleEndian.Uint32(data[12:]),
	}, true
}

// Commit appends one group of readings and fsyncs it. It returns only when
// the group is durable or ctx ends: while the spool is full, or the disk
// refuses the write, it waits, so the caller's acks (and the broker's
// deliveries) stop instead of anything being dropped.
func (s *Spool) Commit(ctx context.Context, lines []byte, points int) error {
	need := int64(len(lines))

	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.room.Broadcast()
		s.mu.Unlock()
	})
	defer stop()

	s.mu.Lock()
	defer s.mu.Unlock()
	full := false
	for s.pendBytes > 0 && s.pendBytes+need > s.opts.MaxBytes {
		if !full {
			full = true
			s.full = true
			s.m.full.Set(1)
			s.log.Warn("spool full: acknowledgements paused until InfluxDB drains it", "spool_bytes", s.pendBytes, "max_bytes", s.opts.MaxBytes)
		}
		if s.closed {
			return ErrClosed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.room.Wait()
	}
	if full {
		s.full = false
		s.m.full.Set(0)
		s.log.Info("spool has room again; acknowledgements resume")
	}
	// The log copies what it is given, so one buffer serves every commit.
	// It is this commit's until it ends: another that runs while this one
	// waits to retry a failed write makes its own.
	entry := append(s.entry[:0], make([]byte, headerSize)...)
	s.entry = nil
	binary.LittleEndian.PutUint64(entry[4:], uint64(time.Now().UnixNano()))
	binary.LittleEndian.PutUint32(entry[12:], uint32(points))
	entry = append(entry, lines...)
	binary.LittleEndian.PutUint32(entry, crc32.Checksum(entry[4:], castagnoli))
	for {
		if s.closed {
			return ErrClosed
		}
		began := time.Now()
		err := s.appendLocked(entry)
		if err == nil {
			s.m.commit.Observe(time.Since(began).Seconds())
			break
		}
		s.m.writeErrors.Inc()
		if s.writable {
			s.writable = false
			s.m.writable.Set(0)
			s.log.Error("spool: cannot write to disk; acknowledgements paused, retrying", "dir", s.dir, "err", err)
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			s.mu.Lock()
			return ctx.Err()
		case <-time.After(s.opts.RetryInterval):
		}
		s.mu.Lock()
		// What the drain has sent may be all the room there is: free it
		// now rather than at the next truncation.
		s.freeDrainedLocked()
		if rerr := s.reopenLocked(); rerr != nil {
			s.log.Debug("spool: reopen failed", "err", rerr)
		}
	}
	if !s.writable {
		s.writable = true
		s.m.writable.Set(1)
		s.log.Info("spool: disk writable again; acknowledgements resume")
	}
	s.entry = entry
	s.pendBytes += need
	s.pendPoints += int64(points)
	s.m.appended.Add(float64(points))
	select {
	case s.added <- struct{}{}:
	default:
	}
	return nil
}

func (s *Spool) appendLocked(entry []byte) error {
	if s.wal == nil {
		return errors.New("log not open")
	}
	last, err := s.wal.LastIndex()
	if err != nil {
		return err
	}
	err = s.wal.Write(last+1, entry)
	if err == nil {
		err = s.wal.Sync()
	}
	if err != nil {
		s.abandonLocked(last)
		return err
	}
	if s.nextAppended == 0 {
		s.nextAppended = int64(binary.LittleEndian.Uint64(entry[4:]))
	}
	return nil
}

// abandonLocked closes the log after a write the disk refused, and cuts
// whatever part of it reached the file: the log's memory is ahead of its
// file by then, and the bytes were never acknowledged. Cut here, they are
// not mistaken for a crash's torn record when the log is opened again.
func (s *Spool) abandonLocked(good uint64) {
	closeLog(s.wal)
	s.wal = nil
	s.cutTo, s.mustCut = good, true
	if err := cutAfter(s.walDir(), good); err == nil {
		s.mustCut = false
	}
}

func (s *Spool) reopenLocked() error {
	if s.wal != nil {
		return nil
	}
	if s.closed {
		return ErrClosed
	}
	if s.mustCut {
		if err := cutAfter(s.walDir(), s.cutTo); err != nil {
			return fmt.Errorf("spool: cut a refused write: %w", err)
		}
		s.mustCut = false
	}
	l, err := openRepaired(s.walDir(), s.opts.SegmentBytes, s.log, s.m)
	if err != nil {
		return err
	}
	s.wal = l
	return nil
}

// Drain sends spooled readings to sink in order until ctx ends. Entries
// leave the spool only after sink accepted them. A batch goes when it is
// full (MaxDrainPoints) or when its oldest reading has waited Linger:
// InfluxDB spends less per point on a few large writes than on many
// small ones, and it shares the machine with everything else.
func (s *Spool) Drain(ctx context.Context, sink Sink) error {
	var batch []byte
	fill := time.NewTimer(time.Hour)
	fill.Stop()
	defer fill.Stop()
	for {
		if wait := s.fillWait(); wait > 0 {
			fill.Reset(wait)
			select {
			case <-ctx.Done():
				return nil
			case <-s.added:
			case <-fill.C:
			}
			fill.Stop()
			continue
		}
		batch = batch[:0]
		from, upto, points, err := s.collect(&batch)
		if err != nil {
			return err
		}
		if points == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-s.added:
				continue
			case <-time.After(s.opts.TruncateEvery):
				s.maybeTruncate()
				continue
			}
		}
		if err := sink.Commit(ctx, batch, points); err != nil {
			return nil // ctx ended; the entries stay for the next run
		}
		s.markDrained(from, upto, int64(len(batch)), int64(points))
	}
}

// fillWait is how much longer the drain should wait for a fuller batch:
// zero when nothing is pending (the drain then sleeps until an append),
// when a full batch is pending, or when the oldest pending reading has
// waited Linger already.
func (s *Spool) fillWait() time.Duration {
	if s.opts.Linger <= 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pendPoints == 0 || s.pendPoints >= int64(s.opts.MaxDrainPoints) || s.nextAppended == 0 {
		return 0
	}
	return s.opts.Linger - time.Since(time.Unix(0, s.nextAppended))
}

// DrainUntilEmpty drains until nothing is pending or ctx ends; shutdown
// uses it with a deadline.
func (s *Spool) DrainUntilEmpty(ctx context.Context, sink Sink) error {
	var batch []byte
	for {
		batch = batch[:0]
		from, upto, points, err := s.collect(&batch)
		if err != nil {
			return err
		}
		if points == 0 {
			s.maybeTruncate()
			return nil
		}
		if err := sink.Commit(ctx, batch, points); err != nil {
			return err
		}
		s.markDrained(from, upto, int64(len(batch)), int64(points))
	}
}

// collect reads pending entries from s.next into batch, up to
// MaxDrainPoints points (at least one entry).
func (s *Spool) collect(batch *[]byte) (from, upto uint64, points int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wal == nil {
		if err := s.reopenLocked(); err != nil {
			return 0, 0, 0, nil // the commit path reports disk trouble
		}
	}
	last, err := s.wal.LastIndex()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("spool: %w", err)
	}
	from = s.next
	i := from
	for ; i <= last && points < s.opts.MaxDrainPoints; i++ {
		data, err := s.wal.Read(i)
		if err != nil {
			s.skipCorruptLocked(i, err)
			continue
		}
		h, ok := parseHeader(data)
		if !ok {
			s.skipCorruptLocked(i, errors.New("checksum mismatch"))
			continue
		}
		*batch = append(*batch, data[headerSize:]...)
		points += int(h.points)
	}
	return from, i, points, nil
}

// skipCorruptLocked gives up on an entry in the middle of the log that can
// no longer be read. It was acknowledged, so this is data loss: counted as
// dropped and logged as an error, never silently.
func (s *Spool) skipCorruptLocked(i uint64, err error) {
	s.m.dropped.Inc()
	s.log.Error("spool: an entry is unreadable and is skipped; its readings are lost", "index", i, "err", err)
}

func (s *Spool) markDrained(from, upto uint64, bytes, points int64) {
	s.mu.Lock()
	s.next = upto
	s.nextAppended = 0
	if s.wal != nil {
		if data, err := s.wal.Read(upto); err == nil {
			if h, ok := parseHeader(data); ok {
				s.nextAppended = h.appended
			}
		}
	}
	s.pendBytes -= bytes
	s.pendPoints -= points
	s.room.Broadcast()
	s.mu.Unlock()
	s.m.drained.Add(float64(points))
	s.maybeCheckpoint(false)
	s.maybeTruncate()
}

// checkpointEvery spaces the checkpoint writes. A crash loses at most
// this much of the drain's progress, and those entries are sent again:
// InfluxDB overwrites each point with itself.
const checkpointEvery = time.Second

// maybeCheckpoint records the drain's progress if it moved and the last
// record is old enough, or at once with force (on close).
func (s *Spool) maybeCheckpoint(force bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	done := s.next
	if s.closed || done == 0 || done == s.checkpointed || (!force && time.Since(s.lastCheckpoint) < checkpointEvery) {
		return
	}
	s.lastCheckpoint = time.Now()
	if err := s.writeCheckpointLocked(done - 1); err != nil {
		s.log.Debug("spool: checkpoint not written", "err", err)
		return
	}
	s.checkpointed = done
}

// maybeTruncate frees drained entries' space now and then.
func (s *Spool) maybeTruncate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.lastTrunc) < s.opts.TruncateEvery {
		return
	}
	s.lastTrunc = time.Now()
	s.freeDrainedLocked()
}

// freeDrainedLocked deletes the segment files whose entries have all been
// drained. Deleting needs no free space, where the log's TruncateFront
// first copies what stays of the head segment to a new file: on a full
// disk, when freeing space matters most, that copy is refused and nothing
// is freed. Drained entries at the start of the segment the drain is in
// stay until it is drained through; the checkpoint keeps a restart from
// sending them again. It works whether or not the log is open: a commit
// retrying a refused write keeps it closed between tries.
func (s *Spool) freeDrainedLocked() {
	if s.wal == nil {
		if err := s.reopenLocked(); err != nil {
			s.log.Debug("spool: reopen failed", "err", err)
		}
	}
	segs, err := segments(s.walDir())
	if err != nil {
		s.log.Warn("spool: cannot list the log; drained entries stay on disk for now", "err", err)
		return
	}
	drained := 0 // segs[:drained] hold only drained entries
	for drained+1 < len(segs) && segs[drained+1].index <= s.next {
		drained++
	}
	// When all is drained the tail segment goes too, replaced by an empty
	// one that begins where the next entry will be: creating an empty
	// file takes no room.
	var last uint64
	replaceTail := false
	if s.wal != nil && len(segs) > 0 {
		l, err := s.wal.LastIndex()
		replaceTail = err == nil && l+1 == s.next && segs[len(segs)-1].index < s.next
		last = l
	}
	if drained == 0 && !replaceTail {
		return
	}
	if s.wal != nil {
		closeLog(s.wal)
		s.wal = nil
	}
	if replaceTail {
		name := filepath.Join(s.walDir(), fmt.Sprintf("%020d", last+1))
		f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
		if err == nil {
			f.Close()
			drained = len(segs)
		}
	}
	// Oldest first, so a crash half-way leaves the log whole.
	for _, sg := range segs[:drained] {
		if err := os.Remove(sg.path); err != nil {
			s.log.Warn("spool: cannot remove a drained segment; will retry", "file", sg.path, "err", err)
			break
		}
	}
	if err := s.reopenLocked(); err != nil {
		s.log.Debug("spool: reopen failed", "err", err)
	}
}

func (s *Spool) readCheckpoint() uint64 {
	b, err := os.ReadFile(s.checkpointPath())
	if err != nil {
		return 0
	}
	text := strings.TrimSpace(string(b))
	num, sum, withSum := strings.Cut(text, " ")
	n, err := strconv.ParseUint(num, 10, 64)
	if err == nil && withSum {
		var want uint64
		want, err = strconv.ParseUint(sum, 16, 32)
		if err == nil && uint32(want) != crc32.Checksum([]byte(num), castagnoli) {
			err = errors.New("checksum mismatch")
		}
	}
	if err != nil {
		s.log.Warn("spool: unreadable checkpoint; replaying from the start of the log", "err", err)
		return 0
	}
	return n
}

// writeCheckpointLocked records the last drained index: 20 digits, a
// space, their CRC-32C in hex and a newline, always 30 bytes. The file is
// written once at its full size and then overwritten in place, so the
// room it needs is kept from the first write on: a checkpoint is never
// refused for lack of space, which is when the spool needs it to drop
// drained entries. It is not fsynced: if it is lost, or torn by a crash
// (the checksum says so), drained entries are replayed, which InfluxDB
// absorbs.
func (s *Spool) writeCheckpointLocked(idx uint64) error {
	if s.ckpt == nil {
		f, err := os.OpenFile(s.checkpointPath(), os.O_CREATE|os.O_RDWR, 0o640)
		if err != nil {
			return err
		}
		s.ckpt = f
	}
	num := fmt.Sprintf("%020d", idx)
	rec := fmt.Sprintf("%s %08x\n", num, crc32.Checksum([]byte(num), castagnoli))
	if _, err := s.ckpt.WriteAt([]byte(rec), 0); err != nil {
		return err
	}
	return nil
}

// Stats is a snapshot for metrics and tests.
type Stats struct {
	Bytes     int64
	Readings  int64
	Entries   int
	OldestAge time.Duration
}

// Stats returns the current pending amounts.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Bytes: s.pendBytes, Readings: s.pendPoints}
	if s.wal != nil {
		if last, err := s.wal.LastIndex(); err == nil && last >= s.next {
			st.Entries = int(last - s.next + 1)
		}
	}
	if s.nextAppended > 0 && st.Entries > 0 {
		st.OldestAge = time.Since(time.Unix(0, s.nextAppended))
	}
	return st
}

// Close wakes any waiting commit and closes the log.
func (s *Spool) Close() error {
	s.maybeCheckpoint(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.room.Broadcast()
	if s.ckpt != nil {
		s.ckpt.Close()
		s.ckpt = nil
	}
	if s.wal == nil {
		return nil
	}
	err := s.wal.Close()
	s.wal = nil
	return err
}

// Health reports a spool that cannot take readings, for /healthz.
func (s *Spool) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case !s.writable:
		return fmt.Errorf("cannot write to %s; acknowledgements paused", s.dir)
	case s.full:
		return fmt.Errorf("full (%d of %d bytes); acknowledgements paused", s.pendBytes, s.opts.MaxBytes)
	}
	return nil
}
