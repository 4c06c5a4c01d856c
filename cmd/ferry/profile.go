package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profiler captures a Go profile of one command, as kubectl's --profile
// and --profile-output do: start before the command runs, stop after.
type profiler struct {
	name   string
	output string
	file   *os.File
}

// start opens the output and starts a CPU profile; the other profiles are
// snapshots written by stop.
func (p *profiler) start() error {
	switch p.name {
	case "none":
		return nil
	case "cpu", "heap", "allocs", "goroutine", "threadcreate", "block", "mutex":
	default:
		return fmt.Errorf("invalid --profile %q: use none, cpu, heap, allocs, goroutine, threadcreate, block or mutex", p.name)
	}
	f, err := os.Create(p.output)
	if err != nil {
		return fmt.Errorf("--profile-output: %w", err)
	}
	p.file = f
	if p.name == "cpu" {
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("starting the CPU profile: %w", err)
		}
	}
	return nil
}

// stop ends the profile and closes the output.
func (p *profiler) stop() error {
	if p.file == nil {
		return nil
	}
	defer func() { p.file = nil }()
	if p.name == "cpu" {
		pprof.StopCPUProfile()
	} else if err := pprof.Lookup(p.name).WriteTo(p.file, 0); err != nil {
		p.file.Close()
		return fmt.Errorf("writing the %s profile: %w", p.name, err)
	}
	return p.file.Close()
}
