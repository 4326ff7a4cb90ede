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
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kib * 1024
		}
	}
	return 0
}
