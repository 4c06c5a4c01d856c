package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv"
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
		keep    bool
		want    []string
	}{
		{name: "whole loop", want: []string{"ferry bump", "created", "unchanged", "merges #1", "synced myapp-staging", "Succeeded", "myapp:release.20240305", "ferry promote myapp", "ferry/promote-myapp", "synced myapp-production", "myapp-production/myapp, container myapp: 123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/myapp:release.20240305", "synced demo-secrets", "synced web-staging", "synced guestbook-staging"}},
		{name: "without the API server, kept", testbin: "missing", keep: true, want: []string{"what the sync would apply", "make testbin", "myapp:release.20240305"}},
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
			if tc.keep {
				testKeep(t, ferry, tc.want)
				return
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

// testKeep runs the demo with --keep: once it says the servers keep
// running, the commands it printed work against them, with the settings
// of the script it wrote; Ctrl-C then stops everything and removes it.
func testKeep(t *testing.T, ferry string, want []string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs testenv.SyncBuffer
	done := make(chan int, 1)
	go func() { done <- Main(ctx, []string{"--ferry", ferry, "--keep"}, &out, &errs) }()
	envRE := regexp.MustCompile(`(?m)^    \. (\S+/demo\.env)$`)
	var envFile string
	for deadline := time.Now().Add(3 * time.Minute); envFile == ""; time.Sleep(100 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("the demo ended (exit %d) instead of keeping its servers:\n%s\n%s", code, out.String(), errs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo.env after 3 minutes:\n%s", out.String())
		}
		if m := envRE.FindStringSubmatch(out.String()); m != nil {
			envFile = m[1]
		}
	}
	for _, s := range append(want, "keep running until Ctrl-C") {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the demo's output lacks %q:\n%s", s, out.String())
		}
	}
	// The printed bump command, run by a shell with the script's settings:
	// the git server and the GitHub emulator still answer.
	bumpRE := regexp.MustCompile(`(?m)^    (\S+ bump .*--dry-run)$`)
	m := bumpRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no bump command printed:\n%s", out.String())
	}
	sh := exec.Command("sh", "-c", ". "+envFile+" && "+m[1])
	got, err := sh.CombinedOutput()
	if err != nil || !strings.Contains(string(got), "ferry/production") || !strings.Contains(string(got), "unchanged") {
		t.Fatalf("%s: %v\n%s", m[1], err, got)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after Ctrl-C\n%s", code, errs.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the demo did not stop after Ctrl-C")
	}
	if _, err := os.Stat(envFile); !os.IsNotExist(err) {
		t.Errorf("%s is still there after the demo stopped (%v)", envFile, err)
	}
}
