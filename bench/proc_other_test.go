//go:build unix && !linux

package bench

import (
	"os"
	"runtime"
	"syscall"
)

// sysProcAttr puts facmon in its own process group. (Pdeathsig exists only
// on Linux.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// maxRSSBytes is the peak resident set of an exited process: ru_maxrss is
// in bytes on Darwin and in KiB on the BSDs.
func maxRSSBytes(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}

// peakRSSSoFar is not known here.
func peakRSSSoFar(int) int64 { return 0 }

// resetPeakRSS cannot reset the peak here: -1.
func resetPeakRSS() int64 { return -1 }

// loadAverage is not read here.
func loadAverage() string { return "" }

// cpuSnapshot is not known here.
func cpuSnapshot() (machine, ours float64, ok bool) { return 0, 0, false }

func procCPUSeconds(int) float64 { return -1 }
