package render

import (
	"slices"
	"strings"
	"testing"
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
