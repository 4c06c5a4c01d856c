package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// buildFerry builds the ferry binary the demo runs.
func buildFerry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/ferrygitops/ferry/cmd/ferry").CombinedOutput()
	if err != nil {
		t.Fatalf("building ferry: %v\n%s", err, out)
	}
	return bin
}

// The demo is the README's first command: it must keep working, with the
// local API server (the whole loop) and without it (the render fallback).
func TestDemo(t *testing.T) {
	ferry := buildFerry(t)
	for _, tc := range []struct {
		name    string
		testbin string // "" keeps the real one
		want    []string
	}{
		{name: "whole loop", want: []string{"ferry bump", "created", "unchanged", "merges #1", "synced myapp-staging", "Succeeded", "myapp:release.20240305", "synced demo-secrets"}},
		{name: "without the API server", testbin: "missing", want: []string{"what the sync would apply", "make testbin", "myapp:release.20240305"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.testbin != "" {
				t.Setenv("FERRY_TESTBIN", t.TempDir())
			} else if !kube.Available() {
				if kube.Required() {
					t.Fatal("kube-apiserver and etcd are not built: run make testbin")
				}
				t.Skip("kube-apiserver and etcd are not built")
			}
			var out, errs bytes.Buffer
			if code := Main(context.Background(), []string{"--ferry", ferry}, &out, &errs); code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out.String(), errs.String())
			}
			for _, s := range append(tc.want, "ferry scan", "release.20240305", "Done;") {
				if !strings.Contains(out.String(), s) {
					t.Errorf("the demo's output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func TestDemoUsage(t *testing.T) {
	var out, errs bytes.Buffer
	if code := Main(context.Background(), []string{"--ferry", filepath.Join(t.TempDir(), "nope")}, &out, &errs); code != 2 || !strings.Contains(errs.String(), "not an executable") {
		t.Errorf("a missing --ferry: exit %d: %s", code, errs.String())
	}
	t.Setenv("PATH", t.TempDir())
	if self, _ := os.Executable(); self != "" {
		if _, err := os.Stat(filepath.Join(filepath.Dir(self), "ferry")); err == nil {
			t.Skip("a ferry binary sits next to the test binary")
		}
	}
	errs.Reset()
	if code := Main(context.Background(), nil, &out, &errs); code != 2 || !strings.Contains(errs.String(), "make demo") {
		t.Errorf("no ferry binary anywhere: exit %d: %s", code, errs.String())
	}
}
