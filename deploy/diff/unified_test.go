package diff

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrygitops/ferry/deploy/render"
)

func secret(data map[string]any, ann map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": "db", "namespace": "web", "resourceVersion": "7", "uid": "u"}
	if ann != nil {
		md["annotations"] = ann
	}
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": md, "data": data}}
}

var secretKey = render.ObjectKey{Kind: "Secret", Namespace: "web", Name: "db"}

// TestUnifiedMasksSecrets: a Secret's values and the annotations that
// repeat them show only whether each changed.
func TestUnifiedMasksSecrets(t *testing.T) {
	before := secret(map[string]any{"password": "b2xk", "user": "YWRtaW4=", "gone": "eA=="}, map[string]any{render.AnnotationAppliedHash: "h1"})
	after := secret(map[string]any{"password": "bmV3", "user": "YWRtaW4=", "new": "eQ=="}, map[string]any{render.AnnotationAppliedHash: "h2"})
	d := Unified(secretKey, before, after)
	for _, want := range []string{
		"--- live/Secret/web/db", "+++ git/Secret/web/db",
		"-  password: '" + MaskBefore + "'", "+  password: '" + MaskAfter + "'",
		"  user: '" + MaskUnchanged + "'", "-  gone: '***'", "+  new: '***'",
		"-    ferry.dev/applied-hash: '" + MaskBefore + "'",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("diff lacks %q:\n%s", want, d)
		}
	}
	for _, leak := range []string{"b2xk", "bmV3", "YWRtaW4", "eA==", "eQ==", "h1", "h2", "resourceVersion", "uid: u"} {
		if strings.Contains(d, leak) {
			t.Errorf("%q in the diff:\n%s", leak, d)
		}
	}
	if d := Unified(secretKey, nil, after); !strings.Contains(d, "--- /dev/null") || !strings.Contains(d, "+  password: '***'") {
		t.Errorf("create:\n%s", d)
	}
	if d := Unified(secretKey, before, nil); !strings.Contains(d, "+++ /dev/null") || !strings.Contains(d, "-  password: '***'") {
		t.Errorf("prune:\n%s", d)
	}
	m := Mask(secretKey, after.Object)
	if m["data"].(map[string]any)["password"] != MaskOnly || after.Object["data"].(map[string]any)["password"] != "bmV3" {
		t.Errorf("Mask: %v; original %v", m["data"], after.Object["data"])
	}
	cm := map[string]any{"kind": "ConfigMap", "data": map[string]any{"k": "v"}}
	if got := Mask(render.ObjectKey{Kind: "ConfigMap"}, cm); got["data"].(map[string]any)["k"] != "v" {
		t.Error("a ConfigMap was masked")
	}
}

func TestEqualAndDesired(t *testing.T) {
	a := secret(map[string]any{"k": "dg=="}, nil)
	b := secret(map[string]any{"k": "dg=="}, nil)
	b.SetResourceVersion("8")
	b.Object["status"] = map[string]any{"x": "y"}
	if !Equal(a, b) {
		t.Error("server fields made a difference")
	}
	m := &render.Manifest{Key: secretKey, Object: &unstructured.Unstructured{Object: map[string]any{
		"kind": "Secret", "stringData": map[string]any{"k": "v"}, "data": map[string]any{"j": "dw=="},
	}}}
	got := Desired(m)
	if got["data"].(map[string]any)["k"] != "dg==" || got["stringData"] != nil || m.Object.Object["stringData"] == nil {
		t.Errorf("Desired = %v (manifest %v)", got, m.Object.Object)
	}
}
