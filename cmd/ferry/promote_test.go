package main

import (
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestRejectAndPromoteCommands: reject and its undo by direct push, usage
// errors exit 2, and promote --dry-run reads staging's record from the
// cluster through the kubeconfig (never synced: waiting, exit 0).
func TestRejectAndPromoteCommands(t *testing.T) {
	c := kube.Shared(t)
	staging, prod := c.Namespace(t), c.Namespace(t)
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml": `apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-staging}
spec: {source: {path: staging}, destination: {namespace: ` + staging + `}}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-production}
spec: {source: {path: production}, destination: {namespace: ` + prod + `}}
---
apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web}
spec: {from: {app: web-staging}, to: {app: web-production}, soak: 10m}
`,
		"staging/a.yaml":    cm("a", "1"),
		"production/a.yaml": cm("a", "1"),
	})
	t.Setenv("GITHUB_TOKEN", "")

	code, out, errs := run(t, "reject", "ghcr.io/acme/web:1.4.2", "--reason", "leaks memory", "--mode", "push", "--repo", url)
	if code != 0 || !strings.Contains(out, "ghcr.io/acme/web:1.4.2: rejected (pushed") {
		t.Fatalf("reject: exit %d\n%s%s", code, out, errs)
	}
	data, err := git.ReadFile("manifests", "main", dotferry.RejectionsFile)
	if err != nil || !strings.Contains(data, "reason: leaks memory") {
		t.Fatalf("%v\n%s", err, data)
	}
	if code, out, errs = run(t, "reject", "ghcr.io/acme/web:1.4.2", "--reason", "again", "--mode", "push", "--repo", url); code != 0 || !strings.Contains(out, "(already") {
		t.Errorf("reject again: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs = run(t, "reject", "ghcr.io/acme/web:1.4.2", "--undo", "--mode", "push", "--repo", url); code != 0 || !strings.Contains(out, "rejection lifted (pushed") {
		t.Errorf("undo: exit %d\n%s%s", code, out, errs)
	}
	for _, args := range [][]string{
		{"reject", "ghcr.io/acme/web:1.4.2", "--undo", "--mode", "push", "--repo", url},
		{"reject", "ghcr.io/acme/web", "--reason", "x", "--mode", "push", "--repo", url},
		{"reject", "ghcr.io/acme/web:1", "--mode", "push", "--repo", url},
		{"promote", "nope", "--dry-run", "--github-repo", "acme/manifests", "--repo", url, "--kubeconfig", c.Kubeconfig()},
	} {
		if code, out, errs := run(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out, errs)
		}
	}

	code, out, errs = run(t, "promote", "web", "--dry-run", "--github-repo", "acme/manifests", "--repo", url, "--kubeconfig", c.Kubeconfig(), "--inventory-namespace", staging)
	if code != 0 || !strings.Contains(out, "waiting") || !strings.Contains(out, "staging has not been synced yet") {
		t.Fatalf("promote --dry-run: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs = run(t, "sync", "web-staging", "--repo", url, "--kubeconfig", c.Kubeconfig(), "--inventory-namespace", staging); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errs)
	}
	// Staging and production hold the same ConfigMap and no image: nothing
	// to promote.
	code, out, errs = run(t, "promote", "web", "--dry-run", "--github-repo", "acme/manifests", "--repo", url, "--kubeconfig", c.Kubeconfig(), "--inventory-namespace", staging, "-o", "json")
	if code != 0 || !strings.Contains(out, `"action": "up-to-date"`) {
		t.Fatalf("promote after a sync: exit %d\n%s%s", code, out, errs)
	}
	// Staging's newest sync fails: the promotion is blocked, exit 1.
	git.Commit("manifests", "main", "break staging", map[string]string{"staging/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: [1]\n"})
	if code, out, errs = run(t, "sync", "web-staging", "--repo", url, "--kubeconfig", c.Kubeconfig(), "--inventory-namespace", staging); code == 0 {
		t.Fatalf("a broken sync: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "promote", "web", "--dry-run", "--github-repo", "acme/manifests", "--repo", url, "--kubeconfig", c.Kubeconfig(), "--inventory-namespace", staging)
	if code != 1 || !strings.Contains(out, "blocked") {
		t.Fatalf("promote after a failed sync: exit %d\n%s%s", code, out, errs)
	}
}

// TestScanShowsRejectedVersions: a rejected version is passed over and
// listed with its reason.
func TestScanShowsRejectedVersions(t *testing.T) {
	srv := seededRegistry(t)
	dir := scanRepo(t, srv.Host)
	writeTree(t, dir, map[string]string{dotferry.RejectionsFile: "apiVersion: ferry.dev/v1alpha1\nkind: Rejection\nspec:\n  image: " + srv.Host + "/acme/web:v1.10.0\n  reason: leaks memory\n"})
	code, out, errs := run(t, "scan", "--repo", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "policy web: v1.10.0 skipped, rejected: leaks memory (") || !strings.Contains(out, "v1.9.0") {
		t.Errorf("scan output:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "web ") && strings.Contains(line, "v1.10.0") {
			t.Errorf("the rejected version is still chosen: %s", line)
		}
	}
}
