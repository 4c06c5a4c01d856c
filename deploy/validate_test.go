package deploy

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// gone reports whether a cluster-scoped object is absent or being deleted
// (the harness runs no namespace controller, so a deleted Namespace stays
// Terminating).
func gone(t *testing.T, e *env, gvr schema.GroupVersionResource, name string) bool {
	t.Helper()
	u, err := e.s.dyn.Resource(gvr).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return u.GetDeletionTimestamp() != nil
}

// TestRejectedSyncChangesNothing: a sync whose objects in a new Namespace,
// or of a kind a new CRD defines, are rejected leaves the cluster as it
// was: the Namespace and the CRD it had to create to validate them are
// removed again, nothing else is applied, and the inventory is unchanged.
func TestRejectedSyncChangesNothing(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/a.yaml":  configMapYAML("a", map[string]string{"k": "1"}),
		"app/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS-probe}\n",
		"app/svc.yaml": `apiVersion: v1
kind: Service
metadata: {name: bad, namespace: NS-probe}
spec: {ports: [{port: 70000}]}
`,
	})
	app := e.app("probe", "app")
	_, err := e.s.Sync(e.ctx, app, SyncOptions{Prune: true})
	if err == nil {
		t.Fatal("the sync succeeded")
	}
	if !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(err.Error(), "70000") {
		t.Errorf("err = %v", err)
	}
	t.Log(err)
	if !gone(t, e, schemaGVR("", "v1", "namespaces"), e.ns+"-probe") {
		t.Error("namespace " + e.ns + "-probe was left behind")
	}
	if _, err := e.configMap("a"); !apierrors.IsNotFound(err) {
		t.Errorf("a was applied: %v", err)
	}
	if inv, err := e.s.readInventory(e.ctx, app); err != nil || len(inv) != 0 {
		t.Errorf("inventory: %v %v", inv, err)
	}

	e.commit("a new CRD and an invalid widget", map[string]string{
		"app/crd.yaml":    crdYAML("NS.example.com", "Gadget", "{size: {type: integer, maximum: 10}}"),
		"app/gadget.yaml": "apiVersion: NS.example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 99}\n",
	}, "app/ns.yaml", "app/svc.yaml")
	_, err = e.s.Sync(e.ctx, app, SyncOptions{Prune: true})
	if err == nil {
		t.Fatal("the sync succeeded")
	}
	if !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(err.Error(), "Gadget") {
		t.Errorf("err = %v", err)
	}
	t.Log(err)
	if !gone(t, e, schemaGVR("apiextensions.k8s.io", "v1", "customresourcedefinitions"), "gadgets."+e.ns+".example.com") {
		t.Error("the CRD was left behind")
	}
	if _, err := e.configMap("a"); !apierrors.IsNotFound(err) {
		t.Errorf("a was applied: %v", err)
	}
	if inv, err := e.s.readInventory(e.ctx, app); err != nil || len(inv) != 0 {
		t.Errorf("inventory: %v %v", inv, err)
	}
}
