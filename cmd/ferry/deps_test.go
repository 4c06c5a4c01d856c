package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The product binary links no test server or emulator: those live in
// internal/testenv, for tests and for cmd/ferry-demo.
func TestNoTestServersInTheBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/ferrygitops/ferry/cmd/ferry").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed %d packages: %s", len(deps), out)
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/ferrygitops/ferry/internal/testenv") {
			t.Errorf("cmd/ferry depends on %s", p)
		}
	}
}

func TestDemoMoved(t *testing.T) {
	code, _, errs := run(t, "demo")
	if code != 2 || !strings.Contains(errs, "make demo") {
		t.Errorf("ferry demo: exit %d: %s", code, errs)
	}
}
