package render

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/dotferry"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestGolden")

// golden prints a render the way the golden files hold it: one document
// per object, preceded by its source and hash.
func golden(r Rendered) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# path: %s, kind: %s\n", r.Path, r.Kind)
	for _, m := range r.Manifests {
		y, err := yaml.Marshal(m.Object.Object)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(&b, "---\n# %s from %s", m.Key, m.Source)
		if m.ScopeUnknown {
			b.WriteString(" (scope unknown)")
		}
		fmt.Fprintf(&b, "\n%s", y)
	}
	return b.String()
}

// TestGolden renders each testdata/CASE/repo (through os.DirFS) and
// compares the result with testdata/CASE/rendered.yaml; -update rewrites
// the golden files.
func TestGolden(t *testing.T) {
	caps := DefaultCapabilities("monitoring.coreos.com/v1")
	caps.KubeVersion = "v1.30.2"
	for _, tc := range []struct {
		name, path, namespace string
		helm                  *dotferry.Helm
		jsonnet               *dotferry.Jsonnet
	}{
		{name: "kustomize-overlay", path: "overlays/staging", namespace: "shop"},
		{name: "plain-directory", path: "app", namespace: "web"},
		{name: "namespaces", path: ".", namespace: "dest"},
		{name: "ordering", path: ".", namespace: "dest"},
		{name: "helm-chart", path: "charts/shop", namespace: "shop", helm: &dotferry.Helm{
			ReleaseName:             "prod",
			ValueFiles:              []string{"values-prod.yaml", "missing.yaml"},
			IgnoreMissingValueFiles: true,
			Values:                  "greeting: hi\nservice: {port: 8080}\n",
			Parameters:              []dotferry.HelmParameter{{Name: "replicaCount", Value: "5"}, {Name: "image.tag", Value: "2.0.2", ForceString: true}},
		}},
		{name: "jsonnet-program", path: "apps/guestbook", namespace: "guestbook", jsonnet: &dotferry.Jsonnet{
			Libs:    []string{"vendor", "lib"},
			ExtVars: []dotferry.JsonnetVar{{Name: "image", Value: "ghcr.io/acme/guestbook:1.0.0"}, {Name: "env", Value: "staging"}, {Name: "debug", Value: "true", Code: true}},
			TLAs:    []dotferry.JsonnetVar{{Name: "replicas", Value: "2", Code: true}, {Name: "tier", Value: "front"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			o := Options{App: "demo", Namespace: tc.namespace, Helm: tc.helm, Jsonnet: tc.jsonnet,
				Capabilities: func(context.Context) (Capabilities, error) { return caps, nil }}
			r, err := Render(os.DirFS(filepath.Join(dir, "repo")), tc.path, o)
			if err != nil {
				t.Fatal(err)
			}
			got := golden(r)
			file := filepath.Join(dir, "rendered.yaml")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), got); d != "" {
				t.Errorf("render differs from %s (-want +got; go test -update rewrites it):\n%s", file, d)
			}
			again, err := Render(os.DirFS(filepath.Join(dir, "repo")), tc.path, o)
			if err != nil || golden(again) != got {
				t.Errorf("a second render differs: %v", err)
			}
		})
	}
}

// TestKustomizeInMemory builds a kustomization held in an fstest.MapFS:
// kustomize reads the fs.FS in place, and sees neither symbolic links nor
// anything outside it.
func TestKustomizeInMemory(t *testing.T) {
	fsys := fstest.MapFS{
		"base/kustomization.yaml": {Data: []byte("resources: [cm.yaml]\n")},
		"base/cm.yaml":            {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {k: v}\n")},
		"base/link.yaml":          {Data: []byte("cm.yaml"), Mode: fs.ModeSymlink},
		"app/kustomization.yaml":  {Data: []byte("resources: [../base]\nnamespace: x\nlabels: [{pairs: {tier: web}}]\n")},
		"bad/kustomization.yaml":  {Data: []byte("resources: [../base/link.yaml]\n")},
		"out/kustomization.yaml":  {Data: []byte("resources: [/etc/hostname]\n")},
	}
	r, err := Render(fsys, "app", Options{App: "demo", Namespace: "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Kustomize || len(r.Manifests) != 1 || r.Manifests[0].Key.String() != "ConfigMap/x/cm" || r.Manifests[0].Object.GetLabels()["tier"] != "web" {
		t.Fatalf("render = %+v", r)
	}
	for dir, want := range map[string]string{"bad": "kustomize build bad", "out": "kustomize build out"} {
		_, err := Render(fsys, dir, Options{App: "demo"})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), mountRoot+"/") {
			t.Errorf("%s: err = %v", dir, err)
		}
	}
}

// TestFilesRules: a single file, a missing path, a symbolic link as the
// path, and symbolic links below it (skipped), on disk.
func TestFilesRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
	write("elsewhere/b.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
	if err := os.Symlink("../elsewhere/b.yaml", filepath.Join(dir, "app/b.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("app", filepath.Join(dir, "linked")); err != nil {
		t.Fatal(err)
	}
	fsys := os.DirFS(dir)
	files, kust, err := Files(fsys, "app")
	if err != nil || kust || len(files) != 1 || files[0].Name != "app/a.yaml" {
		t.Fatalf("Files(app) = %+v %v %v", files, kust, err)
	}
	if files, _, err := Files(fsys, "app/a.yaml"); err != nil || len(files) != 1 || files[0].Name != "app/a.yaml" {
		t.Fatalf("Files(app/a.yaml) = %+v %v", files, err)
	}
	if _, _, err := Files(fsys, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if _, _, err := Files(fsys, "linked"); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("linked: %v", err)
	}
}

type fakeScope map[string]bool

func (f fakeScope) Namespaced(gvk schema.GroupVersionKind) (bool, error) {
	ns, ok := f[gvk.Kind]
	if !ok {
		return false, errors.New("the cluster has no kind " + gvk.Kind)
	}
	return ns, nil
}

// TestPrepareErrors: the problems a render reports, each located.
func TestPrepareErrors(t *testing.T) {
	cm := func(extra string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x" + extra + "}\n"
	}
	for _, tc := range []struct {
		name, data, ns string
		scope          Scoper
		want           string
	}{
		{"duplicate", cm("") + "---\n" + cm(""), "n", nil, "m.yaml:5: ConfigMap/n/x is also defined at m.yaml:1"},
		{"no namespace", cm(""), "", nil, "m.yaml:1: ConfigMap x has no namespace and app demo has no destination namespace"},
		{"bad namespace", cm(", namespace: Not_OK"), "", nil, `m.yaml:1: invalid namespace "Not_OK"`},
		{"unknown kind", "apiVersion: x.io/v1\nkind: Gadget\nmetadata: {name: g}\n", "n", fakeScope{}, "m.yaml:1: the cluster has no kind Gadget"},
		{"no items", "apiVersion: v1\nkind: List\nitems: [1]\n", "n", nil, "m.yaml:1: items[0]: an item must be a mapping"},
	} {
		_, err := Render(fstest.MapFS{"m.yaml": {Data: []byte(tc.data)}}, ".", Options{App: "demo", Namespace: tc.ns, Scope: tc.scope})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	r, err := Render(fstest.MapFS{"m.yaml": {Data: []byte("apiVersion: x.io/v1\nkind: Gadget\nmetadata: {name: g, namespace: keep}\n---\napiVersion: x.io/v1\nkind: Gizmo\nmetadata: {name: g, namespace: drop}\n")}},
		".", Options{App: "demo", Namespace: "n", Scope: fakeScope{"Gadget": true, "Gizmo": false}})
	if err != nil || r.Keys()[0].String() != "Gadget.x.io/keep/g" || r.Keys()[1].String() != "Gizmo.x.io/g" {
		t.Fatalf("scoped by the Scoper: %v %v", r.Keys(), err)
	}
}

func TestKeyOrder(t *testing.T) {
	keys := []ObjectKey{
		{Kind: "ConfigMap", Namespace: "a", Name: "x"},
		{Group: "apps", Kind: "Deployment", Namespace: "a", Name: "x"},
		{Kind: "Namespace", Name: "a"},
		{Group: "example.com", Kind: "Widget", Namespace: "a", Name: "x"},
		{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition", Name: "widgets.example.com"},
	}
	var got []string
	slices.SortFunc(keys, ObjectKey.Compare)
	for _, k := range keys {
		got = append(got, k.String())
	}
	want := []string{"Namespace/a", "CustomResourceDefinition.apiextensions.k8s.io/widgets.example.com", "ConfigMap/a/x", "Deployment.apps/a/x", "Widget.example.com/a/x"}
	if d := cmp.Diff(want, got); d != "" {
		t.Error(d)
	}
	if !FirstPhase(GKNamespace) || !FirstPhase(GKCRD) || FirstPhase(GKSecret) {
		t.Error("FirstPhase")
	}
}
