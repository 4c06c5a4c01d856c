package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseManifests(t *testing.T) {
	objs, err := parseManifests("a.yaml", []byte(`# leading comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: one}
--- # second
apiVersion: v1
kind: ConfigMap
metadata: {name: two}
...
---

---
# only a comment
`))
	if err != nil {
		t.Fatal(err)
	}
	var srcs []string
	for _, o := range objs {
		srcs = append(srcs, o.source)
	}
	if !slices.Equal(srcs, []string{"a.yaml:3", "a.yaml:7"}) {
		t.Errorf("sources = %v", srcs)
	}

	for _, tc := range []struct{ name, data, want string }{
		{"syntax", "apiVersion: v1\nkind: ConfigMap\n---\na: b\n  c: [d\n", "f.yaml:5: invalid YAML"},
		{"duplicate key", "apiVersion: v1\nkind: X\nkind: Y\n", `f.yaml:3: invalid YAML: key "kind" already set in map`},
		{"scalar", "just text\n", "f.yaml:1: a manifest must be a mapping"},
	} {
		_, err := parseManifests("f.yaml", []byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}

	flat, err := flatten([]rawObject{{source: "l.yaml:1", obj: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMapList",
		"items": []any{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}},
	}}})
	if err != nil || len(flat) != 1 || flat[0].source != "l.yaml:1 (items[0])" {
		t.Fatalf("flatten: %v %+v", err, flat)
	}
	for _, tc := range []struct {
		obj  map[string]any
		want string
	}{
		{map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}, "apiVersion is missing"},
		{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"generateName": "x-"}}, "generateName is not supported"},
		{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "labels": map[string]any{"a": int64(1)}}}, "metadata.labels.a is not a string"},
	} {
		if _, err := flatten([]rawObject{{obj: tc.obj, source: "s"}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

func TestSubsetAndChangedPaths(t *testing.T) {
	live := map[string]any{
		"spec": map[string]any{
			"replicas": int64(2), "paused": false, "cpu": "1",
			"containers": []any{map[string]any{"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent"}},
		},
	}
	for _, tc := range []struct {
		want map[string]any
		ok   bool
	}{
		{map[string]any{"spec": map[string]any{"replicas": int64(2)}}, true},
		{map[string]any{"spec": map[string]any{"replicas": float64(2), "cpu": int64(1)}}, true},
		{map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "x:1"}}}}, true},
		{map[string]any{"spec": map[string]any{"annotations": map[string]any{}, "x": nil}}, true},
		{map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "x:2"}}}}, false},
		{map[string]any{"spec": map[string]any{"replicas": int64(3)}}, false},
		{map[string]any{"spec": map[string]any{"missing": "v"}}, false},
		{map[string]any{"spec": map[string]any{"containers": []any{}}}, false},
	} {
		if got := subset(tc.want, live); got != tc.ok {
			t.Errorf("subset(%v) = %v", tc.want, got)
		}
	}
	a := map[string]any{"spec": map[string]any{"replicas": int64(1), "x.y": "a", "list": []any{"a", "b"}}}
	b := map[string]any{"spec": map[string]any{"replicas": int64(3), "x.y": "b", "list": []any{"a", "c"}, "new": true}}
	if got := changedPaths(a, b, 10); !slices.Equal(got, []string{`spec.list[1]`, "spec.new", "spec.replicas", `spec."x.y"`}) {
		t.Errorf("changedPaths = %q", got)
	}
}

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
	if _, err := e.s.Sync(e.ctx, app, SyncOptions{Revision: e.head()}); err == nil || !strings.Contains(err.Error(), "kustomize build overlays/staging") || strings.Contains(err.Error(), e.s.git.root) {
		t.Fatalf("err = %v", err)
	}
}
