package bot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
