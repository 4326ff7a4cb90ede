package bench

import (
	"os"
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
