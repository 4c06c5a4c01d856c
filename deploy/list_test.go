package deploy

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

// deploymentListJSON is a List of n Deployments as the API server sends
// it: items without apiVersion and kind, with managedFields and status.
func deploymentListJSON(t testing.TB, n int) []byte {
	t.Helper()
	l := appsv1.DeploymentList{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DeploymentList"},
		ListMeta: metav1.ListMeta{ResourceVersion: "4711", Continue: "next-page"}}
	fields := []byte(`{"f:metadata":{"f:annotations":{"f:ferry.dev/applied-hash":{}},"f:labels":{"f:app":{},"f:ferry.dev/app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}`)
	for i := range n {
		name := fmt.Sprintf("svc-%04d", i)
		l.Items = append(l.Items, appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench", UID: "0a4f0c3e-6b7d-4c55-9a52-1f7e6a0d2b41", ResourceVersion: "4711", Generation: 1,
				Labels:      map[string]string{"app": name, LabelApp: "bench"},
				Annotations: map[string]string{AnnotationAppliedHash: "sha256:8d3c5e0e6f", "deployment.kubernetes.io/revision": "1"},
				ManagedFields: []metav1.ManagedFieldsEntry{
					{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps/v1", FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: fields}},
					{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1", FieldsType: "FieldsV1", Subresource: "status",
						FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:status":{"f:availableReplicas":{},"f:conditions":{},"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}`)}},
				}},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:release.20181103",
						Ports: []corev1.ContainerPort{{ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}}}}}},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}},
		})
	}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clientGoDecode decodes body as the dynamic client's List does.
func clientGoDecode(body []byte) (*unstructured.UnstructuredList, error) {
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, body)
	if err != nil {
		return nil, err
	}
	return obj.(*unstructured.UnstructuredList), nil
}

func TestDecodeListAsClientGo(t *testing.T) {
	body := deploymentListJSON(t, 3)
	want, err := clientGoDecode(body)
	if err != nil {
		t.Fatal(err)
	}
	got, rv, cont, err := decodeList(body)
	if err != nil {
		t.Fatal(err)
	}
	if rv != "4711" || cont != "next-page" {
		t.Errorf("resourceVersion %q, continue %q; want 4711, next-page", rv, cont)
	}
	if len(got) != len(want.Items) {
		t.Fatalf("%d items, want %d", len(got), len(want.Items))
	}
	for i := range got {
		w := want.Items[i].DeepCopy()
		if len(w.GetManagedFields()) == 0 {
			t.Fatal("the fixture has no managedFields")
		}
		unstructured.RemoveNestedField(w.Object, "metadata", "managedFields")
		if !reflect.DeepEqual(got[i].Object, w.Object) {
			t.Errorf("item %d:\n got %#v\nwant %#v", i, got[i].Object, w.Object)
		}
		if got[i].GroupVersionKind() != (schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}) {
			t.Errorf("item %d is a %v", i, got[i].GroupVersionKind())
		}
		if r, ok := got[i].Object["spec"].(map[string]any)["replicas"].(int64); !ok || r != 1 {
			t.Errorf("item %d: spec.replicas %#v, want int64 1", i, got[i].Object["spec"].(map[string]any)["replicas"])
		}
	}
	// Items of a List of custom resources carry their own apiVersion and kind.
	own, _, _, err := decodeList([]byte(`{"apiVersion":"example.com/v1","kind":"WidgetList","metadata":{},"items":[{"apiVersion":"example.com/v1beta1","kind":"Widget","metadata":{"name":"a"}}]}`))
	if err != nil || len(own) != 1 || own[0].GetAPIVersion() != "example.com/v1beta1" {
		t.Errorf("custom resource list: %v %v", own, err)
	}
	for _, bad := range []string{`{"items":[1]}`, `{"items":{}}`, `not json`, `{"items":[null]}`} {
		if _, _, _, err := decodeList([]byte(bad)); err == nil {
			t.Errorf("decodeList(%s): no error", bad)
		}
	}
}

// BenchmarkDecodeList compares client-go's decoding of a List of 1,000
// Deployments (as the dynamic client's List makes it) with decodeList.
func BenchmarkDecodeList(b *testing.B) {
	body := deploymentListJSON(b, 1000)
	b.Run("client-go", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := clientGoDecode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ferry", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, _, err := decodeList(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
