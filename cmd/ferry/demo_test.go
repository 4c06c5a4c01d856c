package main

import (
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// The demo is the README's first command: it must keep working, with the
// local API server (the whole loop) and without it (the render fallback).
func TestDemo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		testbin string // "" keeps the real one
		want    []string
	}{
		{name: "whole loop", want: []string{"ferry bump", "created", "unchanged", "merges #1", "synced myapp-staging", "Succeeded", "myapp:release.20240305"}},
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
			code, out, errs := run(t, "demo")
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errs)
			}
			for _, s := range append(tc.want, "ferry scan", "release.20240305", "Done;") {
				if !strings.Contains(out, s) {
					t.Errorf("the demo's output lacks %q:\n%s", s, out)
				}
			}
		})
	}
}
