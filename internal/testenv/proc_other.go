//go:build unix && !linux

package testenv

import "syscall"

// sysProcAttr puts the service in its own process group, so that signals reach all
// of its processes. (Pdeathsig exists only on Linux.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
