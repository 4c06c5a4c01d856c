package render

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/document"
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
		{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"generateName": "x-"}}, "generateName is only supported for hooks"},
		{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"generateName": 3, "annotations": map[string]any{AnnotationHook: "PreSync"}}}, "metadata.generateName is not a string"},
		{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "labels": map[string]any{"a": int64(1)}}}, "metadata.labels.a is not a string"},
	} {
		if _, err := flatten([]rawObject{{obj: tc.obj, source: "s"}}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}

	// A hook may have a generated name; its key is the prefix.
	hook := map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"generateName": "migrate-", "annotations": map[string]any{AnnotationHelmHook: "pre-install"}}}
	ms, err := prepare([]rawObject{{obj: hook, source: "h.yaml:1"}}, Options{App: "a", Namespace: "ns"})
	if err != nil || len(ms) != 1 || ms[0].Key.Name != "migrate-" || ms[0].Object.GetName() != "" || ms[0].Object.GetGenerateName() != "migrate-" {
		t.Fatalf("generateName hook: %v %+v", err, ms)
	}
}

// roundTrip is what parseManifests did before yamlObject: YAML to JSON
// text, then Kubernetes' JSON decoder.
func roundTrip(doc []byte) (any, error) {
	j, err := sigsyaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var v any
	if err := utiljson.Unmarshal(j, &v); err != nil {
		return nil, err
	}
	return v, nil
}

func TestYAMLObjectAsYAMLToJSON(t *testing.T) {
	docs := []string{
		"",
		"# only a comment\n",
		"null\n",
		"~\n",
		"just text\n",
		"[1, 2.5, -0, 0.0, 1.0, 1e3, 1e21, 1e-7, 0x1F, 0o17, 017, 9223372036854775807, 9223372036854775808, 18446744073709551616, -9223372036854775808]\n",
		"{a: .inf}\n",
		"{a: -.inf}\n",
		"{a: .nan}\n",
		"{1: one, 2.5: two, true: three, null: four}\n",
		"{1: one, '1': two}\n",
		"{yes: y, no: n, on: o, off: f, y: short}\n",
		"{t: 2001-12-14t21:59:43.10-05:00, d: 2002-12-14, tagged: !!timestamp 2001-12-14 21:59:43.10 -5}\n",
		"{bin: !!binary aGVsbG8=, bad: !!binary /w==, s: !!str 12, f: !!float 3, i: !!int '7'}\n",
		"{invalid: \"\\xff\\xfeok\", \"\\xffkey\": v}\n",
		"{!!binary /w==: a, !!binary /g==: b, \"\\uFFFD\": c}\n",
		"{a: &x {b: [1, {c: d}]}, e: *x, <<: {f: g}}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: {app: web, \"8\": eight}\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.27\n        resources: {limits: {cpu: 0.5, memory: 128Mi}}\n        args: [--port, 8080, '--x', null, true]\n",
		"a: |\n  multi\n  line\n  \nb: >-\n  folded\n  text\n",
		"a: b\na: c\n",
		"a: [b\n",
		"{[1, 2]: list key}\n",
		"{{a: b}: map key}\n",
	}
	for _, doc := range docs {
		want, wantErr := roundTrip([]byte(doc))
		got, err := yamlObject([]byte(doc))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("%q: err = %v, want %v", doc, err, wantErr)
			continue
		}
		if wantErr != nil {
			if err.Error() != wantErr.Error() && !strings.HasPrefix(wantErr.Error(), "json: ") {
				t.Errorf("%q: err = %q, want %q", doc, err, wantErr)
			}
			continue
		}
		// {1: one, '1': two} keeps either value, as the map's order falls.
		if strings.Contains(doc, "'1'") {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\n got %#v\nwant %#v", doc, got, want)
		}
	}
}

// manifestFile is n Deployments and Services in one multi-document file.
func manifestFile(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-%04[1]d
  labels: {app: svc-%04[1]d}
spec:
  replicas: 2
  selector: {matchLabels: {app: svc-%04[1]d}}
  template:
    metadata: {labels: {app: svc-%04[1]d}}
    spec:
      containers:
      - name: app
        image: registry.example.com/app:release.20181103
        ports: [{containerPort: 8080}]
        resources: {limits: {cpu: 500m, memory: 128Mi}}
---
apiVersion: v1
kind: Service
metadata: {name: svc-%04[1]d}
spec:
  selector: {app: svc-%04[1]d}
  ports: [{port: 80, targetPort: 8080}]
`, i)
	}
	return []byte(b.String())
}

// BenchmarkParseManifests compares the YAML-to-JSON round trip with
// yamlObject on 1,000 objects.
func BenchmarkParseManifests(b *testing.B) {
	data := manifestFile(500)
	docs := document.Split(data)
	b.Run("sigs.k8s.io/yaml+json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			for _, d := range docs {
				if _, err := roundTrip(d.Data); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("ferry", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := parseManifests("m.yaml", data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestParseCache(t *testing.T) {
	fsys := fstest.MapFS{
		"app/a.yaml": {Data: manifestFile(3)},
		"app/b.yaml": {Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {n: \"1\", f: '2.5'}\nx: {i: 9007199254740993, f: 2.5, one: 1.0, big: 1e21, s: \"<&>\"}\n---\n# empty\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {x: 'yes'}}\ndata: {big: \"9007199254740993\"}\n")},
	}
	opts := Options{App: "a", Namespace: "ns"}
	want, err := Render(fsys, "app", opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for round := range 3 { // writes, then reads; the third from a new cache (a new process)
		c, err := NewParseCache(dir)
		if err != nil {
			t.Fatal(err)
		}
		opts.ParseCache = c
		got, err := Render(fsys, "app", opts)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Manifests, want.Manifests) {
			t.Fatalf("round %d: the render through the cache differs", round)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 {
		t.Fatalf("cache entries %v %v, want one per file", entries, err)
	}
	// A damaged entry is parsed again and rewritten.
	bad := filepath.Join(dir, entries[0].Name())
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Render(fsys, "app", opts)
	if err != nil || !reflect.DeepEqual(got.Manifests, want.Manifests) {
		t.Fatalf("with a damaged entry: %v", err)
	}
	if b, _ := os.ReadFile(bad); !json.Valid(b) {
		t.Errorf("the damaged entry was not rewritten: %q", b)
	}
	// A changed file is another entry; an invalid one is an error, as
	// without the cache, and no entry.
	fsys["app/b.yaml"] = &fstest.MapFile{Data: []byte("a: [b\n")}
	if _, err := Render(fsys, "app", opts); err == nil || !strings.Contains(err.Error(), "app/b.yaml:1: invalid YAML") {
		t.Errorf("invalid file through the cache: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d entries after a failed parse, want 2", len(entries))
	}
	// Entries unused for ParseCacheTTL go when a cache is made.
	old := time.Now().Add(-ParseCacheTTL - time.Hour)
	if err := os.Chtimes(bad, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := NewParseCache(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("an entry unused for the TTL stays: %v", err)
	}
}
