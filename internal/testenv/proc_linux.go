package testenv

import "syscall"

// sysProcAttr puts the service in its own process group, so that signals reach all
// of its processes and a Ctrl-C on `go test` (sent to the foreground group) does not
// race with the harness's own shutdown. Pdeathsig kills the service when the test
// binary dies without running its cleanups (a panic or a -timeout), so no orphan
// broker keeps holding a port and a data directory. (Pdeathsig follows the OS thread
// that started the child; the Go runtime only retires threads that a goroutine
// left locked, which the harness never does.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
