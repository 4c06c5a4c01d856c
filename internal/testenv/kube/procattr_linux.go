package kube

import "syscall"

// sysProcAttr makes the kernel kill a server when the test binary dies
// (e.g. on a `go test -timeout` panic), so no etcd or API server outlives it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
