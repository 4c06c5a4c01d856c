//go:build !linux

package kube

import "syscall"

// sysProcAttr: outside Linux there is no parent-death signal; servers of a
// test binary that dies without running its cleanups must be killed by hand.
func sysProcAttr() *syscall.SysProcAttr { return nil }
