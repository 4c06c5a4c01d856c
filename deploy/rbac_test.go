package deploy

import (
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// grantNamespaced gives the service account ferry of namespace home what
// the namespaced mode of install/ grants: in each destination namespace,
// the app's kinds and its own Namespace object (get, patch); in home, the
// bookkeeping ConfigMaps and Leases. It waits until RBAC says yes.
func grantNamespaced(e *env, home string, destinations ...string) (user string) {
	e.t.Helper()
	user = "system:serviceaccount:" + home + ":ferry"
	sa := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "ferry", Namespace: home}}
	bind := func(ns string, rules []rbacv1.PolicyRule) {
		e.t.Helper()
		if _, err := e.cs.RbacV1().Roles(ns).Create(e.ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "ferry"}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.cs.RbacV1().RoleBindings(ns).Create(e.ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ferry"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "ferry"}, Subjects: sa}, metav1.CreateOptions{}); err != nil {
			e.t.Fatal(err)
		}
	}
	for _, ns := range destinations {
		bind(ns, []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "create", "patch", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "patch"}},
		})
	}
	bind(home, []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
	})
	cs := kubernetes.NewForConfigOrDie(e.c.ConfigFor(user, "system:serviceaccounts", "system:authenticated"))
	deadline := time.Now().Add(10 * time.Second)
	for _, ns := range append(destinations, home) {
		for {
			rev, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(e.ctx, &authv1.SelfSubjectAccessReview{Spec: authv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authv1.ResourceAttributes{Namespace: ns, Resource: "configmaps", Verb: "get"},
			}}, metav1.CreateOptions{})
			if err != nil {
				e.t.Fatal(err)
			}
			if rev.Status.Allowed {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("RBAC never allowed %s to get configmaps in %s", user, ns)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return user
}

// TestSyncNamespacedRBAC: with only the Roles of install/'s namespaced
// mode (no cluster-scoped permission at all), a sync of an app holding its
// own Namespace object works: the Namespace is read with a GET of that one
// object instead of a cluster-wide List, the inventory, record and lease
// go to Ferry's namespace, a re-sync changes nothing, a prune deletes, and
// status reads it all back. Objects outside the granted namespaces are
// refused before anything is applied, with the API server's reason.
func TestSyncNamespacedRBAC(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: NS\n",
		"app/a.yaml":         configMapYAML("a", map[string]string{"k": "1"}),
		"app/b.yaml":         configMapYAML("b", map[string]string{"k": "1"}),
	})
	home := e.c.Namespace(t)
	user := grantNamespaced(e, home, e.ns)
	s := syncerFor(t, e.c.ConfigFor(user, "system:serviceaccounts", "system:authenticated"), Options{Namespace: home})
	app := e.app("scoped", "app")

	rec, err := s.Sync(e.ctx, app, SyncOptions{Prune: true, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("sync with namespaced RBAC: %v", err)
	}
	if rec.Result != Succeeded || rec.Counts.Configured != 1 || rec.Counts.Created != 2 {
		t.Fatalf("first sync: %s %+v\n%+v", rec.Result, rec.Counts, rec.Objects)
	}
	ns, err := e.cs.CoreV1().Namespaces().Get(e.ctx, e.ns, metav1.GetOptions{})
	if err != nil || ns.Labels[LabelApp] != "scoped" {
		t.Fatalf("the app's Namespace object was not applied: %v %v", err, ns.Labels)
	}
	for _, name := range []string{InventoryPrefix + "scoped", RecordPrefix + "scoped"} {
		if _, err := e.cs.CoreV1().ConfigMaps(home).Get(e.ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s not in Ferry's namespace %s: %v", name, home, err)
		}
		if _, err := e.configMap(name); !apierrors.IsNotFound(err) {
			t.Errorf("%s is in the app's namespace: %v", name, err)
		}
	}
	if _, err := e.cs.CoordinationV1().Leases(home).Get(e.ctx, LeasePrefix+"scoped", metav1.GetOptions{}); err != nil {
		t.Errorf("the sync lease is not in Ferry's namespace: %v", err)
	}

	// Nothing to do: no write, and the refused List is not asked again.
	before := s.Stats()
	rec, err = s.Sync(e.ctx, app, SyncOptions{Prune: true})
	if err != nil || rec.Counts.Changed() || rec.Counts.Unchanged != 3 {
		t.Fatalf("second sync: %v %+v", err, rec.Counts)
	}
	if d := s.Stats().Sub(before); d.ByMethod["PATCH"] != 0 || d.ByMethod["PATCH(dry-run)"] != 0 {
		t.Errorf("an unchanged sync applied: %v", d.ByMethod)
	}

	e.commit("drop b", nil, "app/b.yaml")
	rec, err = s.Sync(e.ctx, app, SyncOptions{Prune: true})
	if err != nil || rec.Counts.Pruned != 1 {
		t.Fatalf("pruning sync: %v %+v", err, rec.Counts)
	}
	st, err := s.Status(e.ctx, app)
	if err != nil {
		t.Fatalf("status with namespaced RBAC: %v", err)
	}
	if st.InventoryNamespace != home || len(st.Objects) != 2 {
		t.Errorf("status: namespace %s, objects %+v", st.InventoryNamespace, st.Objects)
	}
	for _, o := range st.Objects {
		if o.Health != "Current" {
			t.Errorf("status: %s is %s (%s)", o.ObjectKey, o.Health, o.Message)
		}
	}

	// Outside the granted namespaces: refused at the dry-run, nothing applied.
	other := e.c.Namespace(t)
	e.commit("elsewhere", map[string]string{"away/c.yaml": strings.Replace(configMapYAML("c", nil), "metadata:\n", "metadata:\n  namespace: "+other+"\n", 1)})
	_, err = s.Sync(e.ctx, e.app("away", "away"), SyncOptions{})
	if err == nil || !strings.Contains(err.Error(), "nothing applied") || !strings.Contains(err.Error(), `resource "configmaps" in API group "" in the namespace "`+other+`"`) {
		t.Errorf("a sync outside the granted namespaces: %v", err)
	}
	// Another namespace's Namespace object: neither listed nor read.
	e.commit("their namespace", map[string]string{"theirs/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + other + "\n"})
	_, err = s.Sync(e.ctx, e.app("theirs", "theirs"), SyncOptions{})
	if err == nil || !strings.Contains(err.Error(), "reading namespaces "+other+": Ferry may neither list namespaces at cluster scope nor get this one") {
		t.Errorf("a sync of another namespace's Namespace object: %v", err)
	}
	if _, err := e.c.Client(t).CoreV1().ConfigMaps(other).Get(e.ctx, "c", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the refused object exists: %v", err)
	}
}
