// Package profile captures a Go profile of one command, as kubectl's
// --profile and --profile-output do: Start before the command runs, Stop
// after.
package profile

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Profiler captures the profile Name into the file Output. Name "none"
// captures nothing.
type Profiler struct {
	Name   string
	Output string
	file   *os.File
}

// Start opens the output and starts a CPU profile; the other profiles are
// snapshots written by Stop.
func (p *Profiler) Start() error {
	switch p.Name {
	case "none":
		return nil
	case "cpu", "heap", "allocs", "goroutine", "threadcreate", "block", "mutex":
	default:
		return fmt.Errorf("invalid --profile %q: use none, cpu, heap, allocs, goroutine, threadcreate, block or mutex", p.Name)
	}
	f, err := os.Create(p.Output)
	if err != nil {
		return fmt.Errorf("--profile-output: %w", err)
	}
	p.file = f
	if p.Name == "cpu" {
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
	}
	return nil
}

// Stop ends the profile and closes the output; without a Start it does
// nothing.
func (p *Profiler) Stop() error {
	if p.file == nil {
		return nil
	}
	defer func() { p.file = nil }()
	if p.Name == "cpu" {
		pprof.StopCPUProfile()
	} else if err := pprof.Lookup(p.Name).WriteTo(p.file, 0); err != nil {
		p.file.Close()
		return fmt.Errorf("writing the %s profile: %w", p.Name, err)
	}
	return p.file.Close()
}
