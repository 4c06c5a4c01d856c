package examples_test

import (
	"context"
	"testing"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestDeployManifestsApply builds examples/deploy/{cronjob,deployment} with
// kustomize and server-side applies them to a real API server, then checks
// the RBAC is as narrow as the README says.
func TestDeployManifestsApply(t *testing.T) {
	cluster := kube.Start(t)
	ctx := context.Background()
	cfg := cluster.Config()
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	// The apps' namespaces the sync RoleBindings live in.
	for _, ns := range []string{"myapp-staging", "myapp-production"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	for _, dir := range []string{"deploy/cronjob", "deploy/deployment"} {
		resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			t.Fatalf("kustomize build %s: %v", dir, err)
		}
		for _, r := range resMap.Resources() {
			data, err := r.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(data); err != nil {
				t.Fatal(err)
			}
			gvk := u.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Fatalf("%s %s: %v", dir, gvk, err)
			}
			var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
			if u.GetNamespace() != "" {
				ri = dyn.Resource(m.Resource).Namespace(u.GetNamespace())
			}
			if _, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "ferry-examples-test", Force: ptr(true)}); err != nil {
				t.Errorf("applying %s %s/%s from %s: %v", gvk.Kind, u.GetNamespace(), u.GetName(), dir, err)
			}
			if gvk.Kind == "Namespace" {
				mapper.Reset()
			}
		}
	}

	if _, err := cs.CoreV1().Services("ferry-system").Get(ctx, "ferry", metav1.GetOptions{}); err != nil {
		t.Errorf("the Service: %v", err)
	}
	if _, err := cs.BatchV1().CronJobs("ferry-system").Get(ctx, "ferry-bump", metav1.GetOptions{}); err != nil {
		t.Errorf("the CronJob: %v", err)
	}
	d, err := cs.AppsV1().Deployments("ferry-system").Get(ctx, "ferry", metav1.GetOptions{})
	if err != nil || *d.Spec.Replicas != 2 {
		t.Errorf("the Deployment: %v", err)
	}
	sa, err := cs.CoreV1().ServiceAccounts("ferry-system").Get(ctx, "ferry", metav1.GetOptions{})
	if err != nil || sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Errorf("the ServiceAccount with its IRSA annotation: %v", err)
	}

	// Least privilege: the sync may change Deployments in the apps'
	// namespaces and nowhere else, and may not read Secrets anywhere.
	sacs := kubernetes.NewForConfigOrDie(cluster.ConfigFor("system:serviceaccount:ferry-system:ferry", "system:serviceaccounts", "system:serviceaccounts:ferry-system", "system:authenticated"))
	for _, c := range []struct {
		ns, group, resource, verb string
		allowed                   bool
	}{
		{"myapp-staging", "apps", "deployments", "patch", true},
		{"myapp-production", "", "services", "delete", true},
		{"default", "apps", "deployments", "patch", false},
		{"kube-system", "", "configmaps", "get", false},
		{"myapp-staging", "", "secrets", "get", false},
		{"ferry-system", "coordination.k8s.io", "leases", "update", true},
		{"ferry-system", "", "configmaps", "create", true},
		{"", "", "namespaces", "delete", false},
	} {
		rev, err := sacs.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authv1.ResourceAttributes{Namespace: c.ns, Group: c.group, Resource: c.resource, Verb: c.verb},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rev.Status.Allowed != c.allowed {
			t.Errorf("ferry may %s %s in %q: %v, want %v", c.verb, c.resource, c.ns, rev.Status.Allowed, c.allowed)
		}
	}
}

func ptr[T any](v T) *T { return &v }
