package deploy

import (
	"strings"
	"testing"
	"time"
)

// TestKustomize: a path holding kustomization.yaml is built with krusty
// (bases elsewhere in the repository, name prefix, image override,
// generated ConfigMap), synced, and rolled back to an older build (from a
// tree extracted from history). The fake deployment controller reports
// rollouts.
func TestKustomize(t *testing.T) {
	overlay := func(tag string) string {
		return `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
namePrefix: staging-
images:
- {name: nginx, newTag: "` + tag + `"}
configMapGenerator:
- {name: settings, literals: [mode=staging]}
`
	}
	e := newEnv(t, map[string]string{
		"base/kustomization.yaml":             "resources: [api.yaml]\n",
		"base/api.yaml":                       deploymentYAML("api", "nginx:latest"),
		"overlays/staging/kustomization.yaml": overlay("1.0"),
	})
	fakeDeploymentController(t, e.c.Config(), e.ns)
	app := e.app("kust", "overlays/staging")
	r, err := e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range r.Manifests {
		names = append(names, m.Key.Kind+"/"+m.Key.Name)
		if m.Source != "kustomize build overlays/staging" {
			t.Errorf("source = %q", m.Source)
		}
	}
	if !r.Kustomize || len(names) != 2 || names[1] != "Deployment/staging-api" || !strings.HasPrefix(names[0], "ConfigMap/staging-settings-") {
		t.Fatalf("render: %v", names)
	}
	again, err := e.s.Render(e.ctx, app, "")
	if err != nil || again.Manifests[0].Hash != r.Manifests[0].Hash || again.Manifests[1].Hash != r.Manifests[1].Hash {
		t.Fatalf("renders differ: %v", err)
	}
	if rec := e.sync(app, SyncOptions{Prune: true, Timeout: 30 * time.Second}); rec.Result != Succeeded {
		t.Fatalf("%+v", rec)
	}
	if e.image("staging-api") != "nginx:1.0" {
		t.Fatal(e.image("staging-api"))
	}
	e.commit("bump", map[string]string{"overlays/staging/kustomization.yaml": overlay("1.1")})
	e.sync(app, SyncOptions{Prune: true, Timeout: 30 * time.Second})
	if e.image("staging-api") != "nginx:1.1" {
		t.Fatal(e.image("staging-api"))
	}
	if _, err := e.s.Rollback(e.ctx, app, ""); err != nil {
		t.Fatal(err)
	}
	if e.image("staging-api") != "nginx:1.0" {
		t.Fatal("rollback:", e.image("staging-api"))
	}

	e.commit("break", map[string]string{"overlays/staging/kustomization.yaml": "resources: [../../missing]\n"})
	if _, err := e.s.Sync(e.ctx, app, SyncOptions{Revision: e.head()}); err == nil || !strings.Contains(err.Error(), "kustomize build overlays/staging") || strings.Contains(err.Error(), e.s.opts.WorkDir) {
		t.Fatalf("err = %v", err)
	}
}
