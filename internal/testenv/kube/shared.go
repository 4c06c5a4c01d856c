package kube

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// The package's shared cluster: started by the first Shared call, stopped
// by Main after m.Run.
var shared struct {
	mu      sync.Mutex
	inMain  bool
	opts    options
	started bool
	dir     string
	cluster *Cluster
	err     error
}

// Main runs a package's tests with a shared cluster configured by opts and
// returns m.Run's exit code after stopping the cluster:
//
//	func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }
//
// The cluster starts only when a test calls Shared, so a run that selects
// no such test (go test -run, -short skips) costs nothing.
func Main(m *testing.M, opts ...Option) int {
	shared.mu.Lock()
	shared.inMain = true
	for _, opt := range opts {
		opt(&shared.opts)
	}
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster != nil {
		shared.cluster.stop()
		shared.cluster = nil
	}
	if shared.dir != "" {
		if err := os.RemoveAll(shared.dir); err != nil {
			fmt.Fprintf(os.Stderr, "kube: removing %s: %v\n", shared.dir, err)
		}
	}
	return code
}

// Shared returns the package's shared cluster, starting it on the first
// call. It needs a TestMain that calls Main. Missing binaries skip (or
// fail, see Required) every test that calls it; any other start failure
// fails them all with the same message. Tests on it must isolate themselves
// (see Namespace) and cannot Restart it.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Fatalf("kube.Shared needs the package's TestMain to call kube.Main: func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }")
	}
	if !shared.started {
		shared.started = true
		shared.dir, shared.err = os.MkdirTemp("", "ferry-kube-")
		if shared.err == nil {
			shared.cluster, shared.err = start(shared.dir, shared.opts)
		}
		if shared.cluster != nil {
			shared.cluster.shared = true
		}
	}
	if shared.err != nil {
		failStart(t, shared.err)
	}
	return shared.cluster
}
