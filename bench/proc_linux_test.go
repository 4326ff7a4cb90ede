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

// loadAverage is the 1, 5 and 15 minute load averages, "" when unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// userHZ is the unit of /proc CPU times; 100 on every Linux port Go runs on
// (procfs, which the Prometheus process collector uses, assumes the same).
const userHZ = 100

// cpuSnapshot is the machine's busy CPU time and this benchmark's own share
// of it: the test process, its reaped children and its running children
// (Mosquitto, InfluxDB, facmon), in seconds. Their difference over a window
// is what other work on the machine took from the benchmark.
func cpuSnapshot() (machine, ours float64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait were unavailable to whoever wanted to run (steal is the
	// hypervisor's other guests).
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return 0, 0, false
		}
		machine += v / userHZ
	}
	self := os.Getpid()
	st, ok := procStat(strconv.Itoa(self))
	if !ok {
		return 0, 0, false
	}
	ours = st.utime + st.stime + st.cutime + st.cstime
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, false
	}
	for _, e := range entries {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		if st, ok := procStat(e.Name()); ok && st.ppid == self {
			ours += st.utime + st.stime
		}
	}
	return machine, ours, true
}

type procStatFields struct {
	ppid                         int
	utime, stime, cutime, cstime float64 // seconds
}

// procStat reads /proc/PID/stat (see proc(5)).
func procStat(pid string) (procStatFields, bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return procStatFields{}, false
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procStatFields{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procStatFields{}, false
	}
	var s procStatFields
	var err1 error
	s.ppid, err1 = strconv.Atoi(f[1])
	num := func(k int) float64 {
		v, err := strconv.ParseFloat(f[k], 64)
		if err != nil {
			err1 = err
		}
		return v / userHZ
	}
	// f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
	s.utime, s.stime, s.cutime, s.cstime = num(11), num(12), num(13), num(14)
	return s, err1 == nil
}

// procCPUSeconds is a process's user+system CPU so far, -1 when unknown.
func procCPUSeconds(pid int) float64 {
	if pid <= 0 {
		return -1
	}
	s, ok := procStat(strconv.Itoa(pid))
	if !ok {
		return -1
	}
	return s.utime + s.stime
}
