package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts facmon in its own process group, so that the signals of
// stop reach it alone, and has the kernel kill it if the benchmark dies
// without cleaning up (a -timeout, a panic).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// maxRSSBytes is the peak resident set of an exited process. Linux reports
// ru_maxrss in KiB.
func maxRSSBytes(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

// peakRSSSoFar is a running process's peak resident set until now (VmHWM
// of /proc/PID/status), or 0 when it cannot be read.
func peakRSSSoFar(pid int) int64 {
	return max(0, procStatusBytes(strconv.Itoa(pid), "VmHWM:"))
}

// procStatusBytes reads one "kB" line of /proc/PID/status, -1 on failure.
func procStatusBytes(pid, key string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kib * 1024
		}
	}
	return -1
}

// resetPeakRSS sets this process's peak RSS to its current RSS (see
// runFacmon for why) and returns that, or -1 when the kernel refuses.
func resetPeakRSS() int64 {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return -1
	}
	return procStatusBytes("self", "VmRSS:")
}
