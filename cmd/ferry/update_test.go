package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpdateCommand(t *testing.T) {
	srv := seededRegistry(t)
	dir := scanRepo(t, srv.Host)
	file := filepath.Join(dir, "apps/api/deploy.yaml")
	before, _ := os.ReadFile(file)

	code, out, errs := run(t, "update", "--repo", dir, "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "Would update 2 reference(s)") || !strings.Contains(out, "+          image: "+srv.Host+"/acme/api:release.20240301 # keep this comment") {
		t.Errorf("dry-run output:\n%s", out)
	}
	if after, _ := os.ReadFile(file); string(after) != string(before) {
		t.Fatal("--dry-run wrote the file")
	}

	code, out, errs = run(t, "update", "--repo", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want := strings.NewReplacer("release.20240101", "release.20240301", "v1.9.0", "v1.10.0").Replace(string(before))
	if after, _ := os.ReadFile(file); string(after) != want {
		t.Errorf("after update:\n%s\nwant:\n%s", after, want)
	}
	if !strings.Contains(out, "Updated 2 reference(s)") {
		t.Errorf("output:\n%s", out)
	}

	code, out, _ = run(t, "update", "--repo", dir)
	if code != 0 || !strings.Contains(out, "Everything is up to date.") {
		t.Errorf("second run: exit %d:\n%s", code, out)
	}
}
