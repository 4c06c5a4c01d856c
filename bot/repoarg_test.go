package bot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/registry"
)

func TestCloneURL(t *testing.T) {
	for _, u := range []string{"", "https://github.com/acme/m.git", "ssh://git@host/m.git", "git@github.com:acme/m.git", "file:///srv/m.git"} {
		if got, err := CloneURL(u); err != nil || got != u {
			t.Errorf("CloneURL(%q) = %q, %v; want it as it is", u, got, err)
		}
	}
	if IsRemote("./manifests") || IsRemote("/srv/manifests") || !IsRemote("git@host:m.git") {
		t.Error("IsRemote")
	}
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	clone := filepath.Join(dir, "clone")
	for _, d := range []string{plain, filepath.Join(clone, ".git")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := CloneURL(clone); err != nil || got != "file://"+filepath.ToSlash(clone) {
		t.Errorf("CloneURL of a clone = %q, %v", got, err)
	}
	for path, want := range map[string]string{plain: "not a git repository (no .git)", file: "not a directory", filepath.Join(dir, "missing"): "no such file"} {
		_, err := CloneURL(path)
		var nf *NotFoundError
		if !errors.As(err, &nf) || nf.What != "repository" || !strings.Contains(err.Error(), want) {
			t.Errorf("CloneURL(%s): %v, want a NotFoundError with %q", path, err, want)
		}
	}
}

func TestCountCalls(t *testing.T) {
	r := &Report{Policies: []PolicyReport{{Name: "a"}}}
	r.CountCalls(registry.HostStats{Requests: 7})
	if r.Stats == nil || r.Stats.Requests != 7 || r.SignatureCalls != nil {
		t.Errorf("without verify: %+v, %v", r.Stats, r.SignatureCalls)
	}
	r.Policies = append(r.Policies, PolicyReport{Name: "b", Verify: &VerifyReport{}})
	r.CountCalls(registry.HostStats{Requests: 9})
	if r.Stats.Requests != 9 || r.SignatureCalls == nil {
		t.Errorf("with verify: %+v, %v", r.Stats, r.SignatureCalls)
	}
}

// ScanURL scans a clone of the branch and names the URL, without its
// credentials.
func TestScanURL(t *testing.T) {
	e := newBumpEnv(t)
	reg := registry.New(registry.Options{Limits: registry.Limits{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	withCreds := strings.Replace(e.url, "://", "://ferry:git-secret-123@", 1)
	rep, err := ScanURL(t.Context(), reg, withCreds, "main", gitrepo.Auth{Username: "ferry", Token: "git-secret-123"}, ScanOptions{Now: e.now})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rep.Repo, "git-secret-123") || !strings.Contains(rep.Repo, "/manifests") {
		t.Errorf("report names %q", rep.Repo)
	}
	if len(rep.Policies) != 3 || len(rep.Changes()) == 0 {
		t.Errorf("policies %d, changes %d", len(rep.Policies), len(rep.Changes()))
	}
	if _, err := ScanURL(t.Context(), reg, e.url, "nope", gitrepo.Auth{Username: "ferry", Token: "git-secret-123"}, ScanOptions{Now: e.now}); err == nil {
		t.Error("a missing branch: no error")
	}
}
