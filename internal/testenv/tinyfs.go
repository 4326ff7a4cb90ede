package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// TinyFS mounts a tmpfs of size bytes on a new directory and unmounts it when the
// test ends. A real file system that runs out of space is the only honest way to
// test what facmon does on a full disk: the kernel decides where a write stops.
// Mounting needs root on Linux; elsewhere the test is skipped, with the reason,
// because no user-space stand-in behaves like ENOSPC (CI and `make test` run as
// root, so the full-disk tests do run there).
func TinyFS(t testing.TB, size int64) string {
	t.Helper()
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		t.Skip("testenv: mounting a small tmpfs needs root on Linux")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0750", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: mount a %d-byte tmpfs on %s: %v: %s", size, dir, err, out)
	}
	// Lazy, so a file a failed test left open cannot keep the mount (and
	// its memory) after the test; registered after TempDir, so it runs first.
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Filler is a file that takes the free space of a file system.
type Filler struct {
	path string
	size int64
}

// FillFS writes a file into dir until the file system refuses more (ENOSPC) and
// returns it, so a test can free the space again at the moment it chooses. At most
// limit bytes are written.
func FillFS(t testing.TB, dir string, limit int64) *Filler {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-")
	if err != nil {
		t.Fatalf("testenv: FillFS: %v", err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	var n int64
	for n < limit {
		w, err := f.Write(chunk)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatalf("testenv: FillFS: %v", err)
		}
	}
	return &Filler{path: f.Name(), size: n}
}

// Size is how much the filler took.
func (f *Filler) Size() int64 { return f.size }

// Free gives the space back.
func (f *Filler) Free(t testing.TB) {
	t.Helper()
	if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("testenv: free %s: %v", filepath.Base(f.path), err)
	}
}

// FreeBytes is what the file system under dir has left for files.
func FreeBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatalf("testenv: statfs %s: %v", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
