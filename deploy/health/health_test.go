package health

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(kind string, spec, status map[string]any, generation int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": kind,
		"metadata": map[string]any{"name": "x", "namespace": "n", "generation": generation}, "spec": spec, "status": status}}
	return u
}

func TestOf(t *testing.T) {
	rolledOut := map[string]any{"observedGeneration": int64(1), "replicas": int64(1), "updatedReplicas": int64(1), "readyReplicas": int64(1), "availableReplicas": int64(1),
		"conditions": []any{map[string]any{"type": "Available", "status": "True"}, map[string]any{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}}}
	for _, tc := range []struct {
		name string
		u    *unstructured.Unstructured
		want string
	}{
		{"missing", nil, NotFound},
		{"rolled out", obj("Deployment", map[string]any{"replicas": int64(1)}, rolledOut, 1), Current},
		{"not observed", obj("Deployment", map[string]any{"replicas": int64(1)}, map[string]any{}, 1), InProgress},
		{"configmap", &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}}}, Current},
		{"failed condition", &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "j", "generation": int64(1)},
			"status": map[string]any{"conditions": []any{map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}}}}}, Failed},
	} {
		got, msg := Of(tc.u)
		if got != tc.want {
			t.Errorf("%s: %s (%s), want %s", tc.name, got, msg, tc.want)
		}
		if got == Current && msg != "" {
			t.Errorf("%s: message %q for Current", tc.name, msg)
		}
		if Settled(got) != (got == Current || got == Failed) {
			t.Errorf("%s: Settled", tc.name)
		}
	}
}
