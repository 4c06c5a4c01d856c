// Package testenv holds what the real-server harnesses under it share.
package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Standalone lets the harnesses (gitserver, kube, ...), which take a
// testing.TB, run outside a test: `ferry demo` starts the same real servers
// the tests do. Fatalf and Skipf panic with a *Stop that Run recovers;
// cleanups run, last first, when Close is called.
type Standalone struct {
	testing.TB // nil: only the methods below are called by the harnesses

	dir      string
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

// Stop is what Fatalf and Skipf panic with.
type Stop struct {
	Msg     string
	Skipped bool
}

func (s *Stop) Error() string { return s.Msg }

// NewStandalone returns a Standalone whose temporary directories live under dir.
func NewStandalone(dir string) *Standalone { return &Standalone{dir: dir} }

// Run calls fn and turns a harness's Fatalf or Skipf into an error.
func (s *Standalone) Run(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			stop, ok := r.(*Stop)
			if !ok {
				panic(r)
			}
			err = stop
		}
	}()
	fn()
	return nil
}

// Close runs the cleanups, last registered first.
func (s *Standalone) Close() {
	s.mu.Lock()
	c := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

func (s *Standalone) Helper()      {}
func (s *Standalone) Name() string { return "ferry-demo" }
func (s *Standalone) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}
func (s *Standalone) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}
func (s *Standalone) TempDir() string {
	d, err := os.MkdirTemp(s.dir, "h")
	if err != nil {
		panic(&Stop{Msg: err.Error()})
	}
	return d
}
func (s *Standalone) Logf(string, ...any) {}
func (s *Standalone) Errorf(format string, args ...any) {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
}
func (s *Standalone) Fatalf(format string, args ...any) {
	panic(&Stop{Msg: fmt.Sprintf(format, args...)})
}
func (s *Standalone) Skipf(format string, args ...any) {
	panic(&Stop{Msg: fmt.Sprintf(format, args...), Skipped: true})
}
