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
		// Small segments keep the log's in-memory segments and the
		// copies made growing the tail small (a few group commits each,
		// at most 4,096 files for a full 1 GiB spool); bench/README.md,
		// "Tuning", has the peak RSS they save.
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
