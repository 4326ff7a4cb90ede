package spool

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

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
