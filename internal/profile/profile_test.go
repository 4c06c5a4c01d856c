package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfiles(t *testing.T) {
	for _, name := range []string{"cpu", "heap", "goroutine"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name+".pprof")
			p := &Profiler{Name: name, Output: out}
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			if err := p.Stop(); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			// pprof writes gzipped protocol buffers.
			if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
				t.Errorf("%s: not a gzipped profile: % x", out, data[:min(len(data), 8)])
			}
			if err := p.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

func TestNoneWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "p.pprof")
	p := &Profiler{Name: "none", Output: out}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("--profile none wrote %s: %v", out, err)
	}
}

func TestBadInput(t *testing.T) {
	p := &Profiler{Name: "cpus", Output: filepath.Join(t.TempDir(), "p")}
	if err := p.Start(); err == nil || !strings.Contains(err.Error(), `invalid --profile "cpus"`) {
		t.Errorf("unknown profile: %v", err)
	}
	p = &Profiler{Name: "heap", Output: filepath.Join(t.TempDir(), "missing", "p")}
	if err := p.Start(); err == nil || !strings.HasPrefix(err.Error(), "--profile-output: ") {
		t.Errorf("unwritable output: %v", err)
	}
}
