package render

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	"github.com/ferrygitops/ferry/registry"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestDetect(t *testing.T) {
	fsys := fstest.MapFS{
		"chart/Chart.yaml":            file("apiVersion: v2\nname: c\nversion: 0.1.0\n"),
		"kust/Kustomization":          file("resources: []\n"),
		"js/main.jsonnet":             file("{}"),
		"js/lib/x.libsonnet":          file("{}"),
		"plain/a.yaml":                file(""),
		"plain/sub/b.jsonnet":         file("{}"),
		"lib-only/x.libsonnet":        file("{}"),
		"single.jsonnet":              file("[]"),
		"chartkust/Chart.yaml":        file("apiVersion: v2\nname: c\nversion: 0.1.0\n"),
		"chartkust/kustomization.yml": file("resources: []\n"),
	}
	for p, want := range map[string]Kind{"chart": KindHelm, "kust": KindKustomize, "js": KindJsonnet, "plain": KindDirectory,
		"lib-only": KindDirectory, "single.jsonnet": KindJsonnet, "plain/a.yaml": KindDirectory, "chartkust": KindHelm} {
		if got, err := Detect(fsys, p, nil, nil); err != nil || got != want {
			t.Errorf("Detect(%s) = %q, %v; want %q", p, got, err, want)
		}
	}
	if got, err := Detect(fsys, "lib-only", nil, &dotferry.Jsonnet{Main: "x.libsonnet"}); err != nil || got != KindJsonnet {
		t.Errorf("jsonnet.main makes a jsonnet program: %q, %v", got, err)
	}
	if _, err := Detect(fsys, "kust", &dotferry.Helm{}, nil); err == nil || !strings.Contains(err.Error(), "spec.source.helm is given but kust is a kustomize, not a Helm chart") {
		t.Errorf("helm settings on a kustomization: %v", err)
	}
	if _, err := Detect(fsys, "chart", nil, &dotferry.Jsonnet{}); err == nil || !strings.Contains(err.Error(), "spec.source.jsonnet is given but chart is a helm") {
		t.Errorf("jsonnet settings on a chart: %v", err)
	}
}

func chartFS(templates map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{"c/Chart.yaml": file("apiVersion: v2\nname: c\nversion: 0.1.0\n"), "c/values.yaml": file("x: 1\n")}
	for n, s := range templates {
		fsys["c/templates/"+n] = file(s)
	}
	return fsys
}

func TestHelmErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		helm *dotferry.Helm
		want string
	}{
		{"parse error", chartFS(map[string]string{"ok.yaml": "", "bad.yaml": "a: 1\nb: {{ .Values.x \n"}), nil,
			"helm chart c: parse error at (c/templates/bad.yaml:3): unclosed action started at c/templates/bad.yaml:2"},
		{"exec error", chartFS(map[string]string{"req.yaml": "a: 1\n\nb: {{ required \"y is required\" .Values.y }}\n"}), nil,
			"helm chart c: execution error at (c/templates/req.yaml:3:6): y is required"},
		{"rendered YAML", chartFS(map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n data: x\n"}), nil,
			"helm chart c: output of c/templates/cm.yaml:4: invalid YAML"},
		{"missing value file", chartFS(nil), &dotferry.Helm{ValueFiles: []string{"prod.yaml"}},
			"spec.source.helm.valueFiles: value file c/prod.yaml: file does not exist"},
		{"value file outside", chartFS(nil), &dotferry.Helm{ValueFiles: []string{"../../etc/passwd"}},
			"spec.source.helm.valueFiles: ../../etc/passwd leaves the repository"},
		{"bad value file", func() fstest.MapFS {
			f := chartFS(nil)
			f["c/v.yaml"] = file("a: 1\nb: [\n")
			return f
		}(), &dotferry.Helm{ValueFiles: []string{"v.yaml"}}, "c/v.yaml:"},
		{"kubeVersion", func() fstest.MapFS {
			f := chartFS(nil)
			f["c/Chart.yaml"] = file("apiVersion: v2\nname: c\nversion: 0.1.0\nkubeVersion: '>=1.99.0'\n")
			return f
		}(), nil, "c/Chart.yaml: kubeVersion >=1.99.0 does not match Kubernetes v1.37.0"},
		{"dependency without repository", func() fstest.MapFS {
			f := chartFS(nil)
			f["c/Chart.yaml"] = file("apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies: [{name: sub, version: 1.0.0}]\n")
			return f
		}(), nil, "dependency sub is not in charts/ and names no repository"},
		{"file dependency outside", func() fstest.MapFS {
			f := chartFS(nil)
			f["c/Chart.yaml"] = file("apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies: [{name: sub, version: 1.0.0, repository: 'file://../../x'}]\n")
			return f
		}(), nil, "../../x leaves the repository"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.fsys, "c", Options{App: "a", Namespace: "n", Helm: tc.helm})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestHelmFileDependencyAndCapabilities(t *testing.T) {
	fsys := chartFS(map[string]string{"caps.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: caps}
data:
  kube: {{ .Capabilities.KubeVersion.Version }}
  crd: {{ .Capabilities.APIVersions.Has "example.com/v1/Widget" | quote }}
`})
	fsys["c/Chart.yaml"] = file("apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies: [{name: sub, version: 0.1.0, repository: 'file://../sub'}]\n")
	fsys["sub/Chart.yaml"] = file("apiVersion: v2\nname: sub\nversion: 0.1.0\n")
	fsys["sub/templates/cm.yaml"] = file("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: sub}\n")
	r, err := Render(fsys, "c", Options{App: "a", Namespace: "n",
		Capabilities: func(context.Context) (Capabilities, error) {
			return Capabilities{KubeVersion: "v1.31.4", APIVersions: []string{"v1", "example.com/v1", "example.com/v1/Widget"}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Manifests) != 2 || r.Manifests[1].Key.Name != "sub" {
		t.Fatalf("manifests = %v", r.Keys())
	}
	data := r.Manifests[0].Object.Object["data"].(map[string]any)
	if data["kube"] != "v1.31.4" || data["crd"] != "true" {
		t.Errorf("capabilities seen: %v", data)
	}
	// The App's settings override the cluster's.
	r, err = Render(fsys, "c", Options{App: "a", Namespace: "n", Helm: &dotferry.Helm{KubeVersion: "1.29"}})
	if err != nil {
		t.Fatal(err)
	}
	if data := r.Manifests[0].Object.Object["data"].(map[string]any); data["kube"] != "v1.29" || data["crd"] != "false" {
		t.Errorf("capabilities with settings: %v", data)
	}
}

// packageChart returns the .tgz of a chart named name at version.
func packageChart(t *testing.T, name, version string) []byte {
	t.Helper()
	ch, err := loader.LoadFiles([]*loader.BufferedFile{
		{Name: "Chart.yaml", Data: []byte("apiVersion: v2\nname: " + name + "\nversion: " + version + "\n")},
		{Name: "values.yaml", Data: []byte("greeting: hello\n")},
		{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Chart.Name }}-{{ .Chart.Version }}}\ndata: {greeting: {{ .Values.greeting }}}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parentChart(dep string) fstest.MapFS {
	return fstest.MapFS{
		"app/Chart.yaml":  file("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n" + dep),
		"app/values.yaml": file("sub:\n  greeting: hi\n"),
	}
}

type staticKeychain struct{ host, user, pass string }

func (k staticKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.host {
		return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.pass}), nil
	}
	return authn.Anonymous, nil
}

func TestHelmDependencyFromOCI(t *testing.T) {
	srv := ociregistry.New(ociregistry.WithBasicAuth("ci", "s3cret"))
	defer srv.Close()
	auth := remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"})
	for _, v := range []string{"0.1.0", "0.2.0", "0.2.1", "1.0.0"} {
		img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
			mutate.Addendum{Layer: static.NewLayer(packageChart(t, "sub", v), HelmChartLayer)})
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
		ref, err := name.ParseReference(srv.Host + "/charts/sub:" + v)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, auth); err != nil {
			t.Fatal(err)
		}
	}
	charts := NewCharts(registry.New(registry.Options{Keychain: staticKeychain{srv.Host, "ci", "s3cret"}}))
	fsys := parentChart("  - {name: sub, version: '~0.2.0', repository: 'oci://" + srv.Host + "/charts'}\n")
	r, err := Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: charts})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Manifests) != 1 || r.Manifests[0].Key.Name != "sub-0.2.1" {
		t.Fatalf("manifests = %v, want the newest 0.2.x", r.Keys())
	}
	if g := r.Manifests[0].Object.Object["data"].(map[string]any)["greeting"]; g != "hi" {
		t.Errorf("the parent's values do not reach the dependency: %v", g)
	}
	// An exact version is pulled once, then kept.
	fsys = parentChart("  - {name: sub, version: 1.0.0, repository: 'oci://" + srv.Host + "/charts'}\n")
	if _, err := Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: charts}); err != nil {
		t.Fatal(err)
	}
	before := srv.Requests()
	if r, err = Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: charts}); err != nil || r.Manifests[0].Key.Name != "sub-1.0.0" {
		t.Fatalf("%v %v", r.Keys(), err)
	}
	if srv.Requests() != before {
		t.Errorf("a kept chart was fetched again: %d requests", srv.Requests()-before)
	}
	// Without the credentials the registry refuses, and the error says which dependency.
	fsys = parentChart("  - {name: sub, version: 0.1.0, repository: 'oci://" + srv.Host + "/charts'}\n")
	_, err = Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: NewCharts(registry.New(registry.Options{Keychain: staticKeychain{}}))})
	if err == nil || !strings.Contains(err.Error(), "helm chart app: dependency sub 0.1.0 from oci://"+srv.Host+"/charts") {
		t.Errorf("anonymous pull: %v", err)
	}
}

func TestHelmDependencyFromHTTPRepository(t *testing.T) {
	tgz := map[string][]byte{"0.3.0": packageChart(t, "sub", "0.3.0"), "0.4.0": packageChart(t, "sub", "0.4.0")}
	var index, downloads atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/stable/index.yaml":
			index.Add(1)
			w.Write([]byte(`apiVersion: v1
entries:
  sub:
    - {name: sub, version: 0.4.0, urls: [packages/sub-0.4.0.tgz]}
    - {name: sub, version: 0.3.0, urls: [packages/sub-0.3.0.tgz]}
`))
		case strings.HasPrefix(r.URL.Path, "/stable/packages/sub-"):
			downloads.Add(1)
			w.Write(tgz[strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/stable/packages/sub-"), ".tgz")])
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	charts := NewCharts(nil)
	fsys := parentChart("  - {name: sub, version: '0.3.0', repository: '" + srv.URL + "/stable'}\n")
	for range 2 {
		r, err := Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: charts})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Manifests) != 1 || r.Manifests[0].Key.Name != "sub-0.3.0" {
			t.Fatalf("manifests = %v", r.Keys())
		}
	}
	if index.Load() != 1 || downloads.Load() != 1 {
		t.Errorf("an exact version kept: index read %d times, archive %d times", index.Load(), downloads.Load())
	}
	fsys = parentChart("  - {name: sub, version: '>=0.3.0', repository: '" + srv.URL + "/stable'}\n")
	r, err := Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: charts})
	if err != nil || r.Manifests[0].Key.Name != "sub-0.4.0" {
		t.Fatalf("range: %v %v", r.Keys(), err)
	}
	// Chart.lock pins the version a range would not.
	fsys["app/Chart.lock"] = file("dependencies:\n- {name: sub, version: 0.3.0, repository: '" + srv.URL + "/stable'}\ndigest: sha256:x\ngenerated: \"2026-01-01T00:00:00Z\"\n")
	if r, err = Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: charts}); err != nil || r.Manifests[0].Key.Name != "sub-0.3.0" {
		t.Fatalf("locked: %v %v", r.Keys(), err)
	}
	fsys = parentChart("  - {name: sub, version: '9.9.9', repository: '" + srv.URL + "/stable'}\n")
	if _, err := Render(fsys, "app", Options{App: "a", Namespace: "n", Charts: charts}); err == nil || !strings.Contains(err.Error(), `index.yaml lists no version of sub matching "9.9.9"`) {
		t.Errorf("missing version: %v", err)
	}
}

func TestJsonnetErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		js   *dotferry.Jsonnet
		want string
	}{
		{"runtime error", fstest.MapFS{"j/main.jsonnet": file("local x = 1;\n{\n  a: error 'boom',\n}\n")}, nil,
			"jsonnet j/main.jsonnet: RUNTIME ERROR: boom\n\tj/main.jsonnet:3:6-18"},
		{"syntax error", fstest.MapFS{"j/main.jsonnet": file("{\n  a: ,\n}\n")}, nil, "j/main.jsonnet:2:6"},
		{"error in a library", fstest.MapFS{"j/main.jsonnet": file("(import 'l.libsonnet').f()\n"), "lib/l.libsonnet": file("{\n  f():: std.extVar('missing'),\n}\n")},
			&dotferry.Jsonnet{Libs: []string{"lib"}}, "lib/l.libsonnet:2:9"},
		{"import outside", fstest.MapFS{"j/main.jsonnet": file("import '../../etc/passwd'\n")}, nil, "leaves the repository"},
		{"absolute import", fstest.MapFS{"j/main.jsonnet": file("import '/etc/passwd'\n")}, nil, "only paths relative to the repository are read"},
		{"not found", fstest.MapFS{"j/main.jsonnet": file("import 'nope.libsonnet'\n")}, nil, `couldn't open import "nope.libsonnet"`},
		{"bad output", fstest.MapFS{"j/main.jsonnet": file("{a: {kind: 'ConfigMap', apiVersion: 'v1', metadata: {name: 'x'}}, b: 3}\n")}, nil,
			`jsonnet j/main.jsonnet: the output: want a manifest, a list of manifests or an object of manifests; "b" is float64`},
		{"main outside", fstest.MapFS{"j/main.jsonnet": file("{}")}, &dotferry.Jsonnet{Main: "../../x.jsonnet"}, "spec.source.jsonnet.main: ../../x.jsonnet leaves the repository"},
		{"missing kind", fstest.MapFS{"j/main.jsonnet": file("[{apiVersion: 'v1', metadata: {name: 'x'}}]")}, nil, "jsonnet j/main.jsonnet: [0]: kind is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Render(tc.fsys, "j", Options{App: "a", Namespace: "n", Jsonnet: tc.js})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestHelmSkipCRDsAndKustomizeHelmCharts(t *testing.T) {
	fsys := chartFS(map[string]string{"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"})
	fsys["c/crds/w.yaml"] = file("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced, versions: []}\n")
	for skip, want := range map[bool]int{false: 2, true: 1} {
		r, err := Render(fsys, "c", Options{App: "a", Namespace: "n", Helm: &dotferry.Helm{SkipCRDs: skip}})
		if err != nil || len(r.Manifests) != want {
			t.Errorf("skipCrds %v: %v %v", skip, r.Keys(), err)
		}
	}
	kfs := fstest.MapFS{"k/kustomization.yaml": file("helmCharts:\n- {name: web, repo: https://charts.example.com, version: 1.0.0}\n")}
	_, err := Render(kfs, "k", Options{App: "a", Namespace: "n"})
	if err == nil || !strings.Contains(err.Error(), "kustomize build k: helmCharts are not supported") {
		t.Errorf("kustomize helmCharts: %v", err)
	}
	t.Logf("kustomize helmCharts: %v", err)
}
