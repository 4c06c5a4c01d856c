package render

import (
	"context"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

// TestAppFromGit renders an app from a real git server (git http-backend):
// the head, an earlier revision (abbreviated) from the kept clone, a
// kustomization read from the git objects, and the errors for an unknown
// revision and a missing path.
func TestAppFromGit(t *testing.T) {
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		"base/kustomization.yaml": "resources: [cm.yaml]\n",
		"base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {v: \"1\"}\n",
		"app/kustomization.yaml":  "resources: [../base]\nnamePrefix: app-\n",
	})
	first, _ := git.Head("manifests", "main")
	second := git.Commit("manifests", "main", "v2", map[string]string{"base/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {v: \"2\"}\n"})
	ctx := context.Background()
	clones := NewClones(t.TempDir(), nil, 0)
	app := dotferry.App{Name: "demo", RepoURL: url, Branch: "main", Path: "app", Namespace: "web"}

	r, err := App(ctx, clones, app, "", Env{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision != second || r.BranchHead != second || !r.Kustomize || len(r.Manifests) != 1 || r.Manifests[0].Key.String() != "ConfigMap/web/app-cm" {
		t.Fatalf("head: %+v", r)
	}
	if v, _ := r.Manifests[0].Object.Object["data"].(map[string]any); v["v"] != "2" {
		t.Errorf("head data = %v", v)
	}
	old, err := App(ctx, clones, app, first[:10], Env{})
	if err != nil || old.Revision != first || old.BranchHead != second {
		t.Fatalf("first: %+v %v", old, err)
	}
	if v, _ := old.Manifests[0].Object.Object["data"].(map[string]any); v["v"] != "1" {
		t.Errorf("first data = %v", v)
	}
	if _, err := App(ctx, clones, app, "0123456789ab", Env{}); err == nil || !strings.Contains(err.Error(), `revision "0123456789ab" not found`) {
		t.Errorf("unknown revision: %v", err)
	}
	app.Path = "missing"
	if _, err := App(ctx, clones, app, "", Env{}); err == nil || !strings.Contains(err.Error(), "rendering app demo: at "+second[:12]+": path missing") {
		t.Errorf("missing path: %v", err)
	}
}
