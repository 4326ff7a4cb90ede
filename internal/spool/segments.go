package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tidwall/wal"
)

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
