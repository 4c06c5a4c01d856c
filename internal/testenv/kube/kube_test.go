package kube_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

func TestMain(m *testing.M) {
	os.Exit(kube.Main(m, kube.WithUser("shared-viewer")))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func clientset(t *testing.T, c *kube.Cluster, user string, groups ...string) kubernetes.Interface {
	t.Helper()
	cfg := c.Config()
	if user != kube.AdminUser {
		cfg = c.ConfigFor(user, groups...)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestCluster exercises one dedicated cluster end to end: CRUD, server-side
// apply, RBAC, kubeconfig files and a restart of the API server.
func TestCluster(t *testing.T) {
	start := time.Now()
	c := kube.Start(t, kube.WithUser("restricted", "ferry:restricted"))
	t.Logf("cluster at %s ready in %s", c.URL, time.Since(start).Round(time.Millisecond))
	cs := c.Client(t)

	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != kube.KubernetesVersion {
		t.Errorf("server version %s, want %s", v.GitVersion, kube.KubernetesVersion)
	}

	const ns = "ferry-harness"
	t.Run("create", func(t *testing.T) {
		if _, err := cs.CoreV1().Namespaces().Create(ctx(t), &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: ns},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cm, err := cs.CoreV1().ConfigMaps(ns).Create(ctx(t), &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "created"},
			Data:       map[string]string{"k": "v"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.UID == "" || cm.ResourceVersion == "" {
			t.Errorf("created ConfigMap lacks uid/resourceVersion: %+v", cm.ObjectMeta)
		}
		got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx(t), "created", metav1.GetOptions{})
		if err != nil || got.Data["k"] != "v" {
			t.Fatalf("get: %v, %v", got, err)
		}
	})

	t.Run("server-side apply", func(t *testing.T) {
		manifest := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied","namespace":"` + ns + `"},"data":{"a":"1","b":"2"}}`
		force := true
		cm, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx(t), "applied", types.ApplyPatchType, []byte(manifest),
			metav1.PatchOptions{FieldManager: "ferry-test", Force: &force})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["a"] != "1" || cm.Data["b"] != "2" {
			t.Errorf("data %v", cm.Data)
		}
		managers := map[string]metav1.ManagedFieldsOperationType{}
		for _, mf := range cm.ManagedFields {
			managers[mf.Manager] = mf.Operation
		}
		if managers["ferry-test"] != metav1.ManagedFieldsOperationApply {
			t.Errorf("managedFields %v, want ferry-test: Apply", managers)
		}

		// Applying again without "b" prunes the field the manager owned.
		manifest = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"applied","namespace":"` + ns + `"},"data":{"a":"1"}}`
		cm, err = cs.CoreV1().ConfigMaps(ns).Patch(ctx(t), "applied", types.ApplyPatchType, []byte(manifest),
			metav1.PatchOptions{FieldManager: "ferry-test"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := cm.Data["b"]; ok {
			t.Errorf("field b survived re-apply without it: %v", cm.Data)
		}

		// Another manager applying a conflicting value without force is
		// refused with a conflict, as on a real cluster.
		_, err = cs.CoreV1().ConfigMaps(ns).Apply(ctx(t),
			corev1ac.ConfigMap("applied", ns).WithData(map[string]string{"a": "other"}),
			metav1.ApplyOptions{FieldManager: "someone-else"})
		if !apierrors.IsConflict(err) {
			t.Errorf("conflicting apply: err = %v, want a conflict", err)
		}
	})

	t.Run("rbac", func(t *testing.T) {
		restricted := clientset(t, c, "restricted")
		_, err := restricted.CoreV1().Secrets("").List(ctx(t), metav1.ListOptions{})
		if !apierrors.IsForbidden(err) {
			t.Fatalf("restricted user listing secrets cluster-wide: err = %v, want Forbidden", err)
		}
		if !strings.Contains(err.Error(), `"restricted"`) {
			t.Errorf("forbidden message does not name the user: %v", err)
		}

		// Grant the group read access to ConfigMaps in one namespace only.
		if _, err := cs.RbacV1().Roles(ns).Create(ctx(t), &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "cm-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx(t), &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "cm-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "cm-reader"},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "ferry:restricted"}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The authorizer reads RBAC objects from an informer cache: a new
		// binding takes effect a moment later, as on any cluster.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := restricted.CoreV1().ConfigMaps(ns).List(ctx(t), metav1.ListOptions{})
			if err == nil {
				break
			}
			if !apierrors.IsForbidden(err) || time.Now().After(deadline) {
				t.Fatalf("restricted user listing configmaps after the binding: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, err := restricted.CoreV1().ConfigMaps("default").List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("restricted user listing configmaps in default: err = %v, want Forbidden", err)
		}
		if err := restricted.CoreV1().ConfigMaps(ns).Delete(ctx(t), "created", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("restricted user deleting a configmap: err = %v, want Forbidden", err)
		}

		// An unregistered user is impersonated by the admin: same answer.
		stranger := clientset(t, c, "stranger", "ferry:restricted")
		if _, err := stranger.CoreV1().ConfigMaps(ns).List(ctx(t), metav1.ListOptions{}); err != nil {
			t.Errorf("impersonated group member listing configmaps: %v", err)
		}
		if _, err := stranger.CoreV1().Secrets("").List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("impersonated user listing secrets: err = %v, want Forbidden", err)
		}
	})

	t.Run("kubeconfig", func(t *testing.T) {
		for _, tc := range []struct {
			path      string
			forbidden bool
		}{
			{c.Kubeconfig(), false},
			{c.KubeconfigFor("restricted"), true},
			{c.KubeconfigFor("stranger", "nobody"), true},
		} {
			cfg, err := clientcmd.BuildConfigFromFlags("", tc.path)
			if err != nil {
				t.Fatalf("%s: %v", tc.path, err)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cs.CoreV1().Secrets("").List(ctx(t), metav1.ListOptions{})
			if tc.forbidden != apierrors.IsForbidden(err) || (!tc.forbidden && err != nil) {
				t.Errorf("%s: listing secrets: %v (forbidden expected: %v)", tc.path, err, tc.forbidden)
			}
		}
	})

	t.Run("restart keeps data", func(t *testing.T) {
		before, err := cs.CoreV1().ConfigMaps(ns).Get(ctx(t), "applied", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// A client polling through the outage, as a sync loop would; it
		// builds its configs concurrently with the restart.
		stopPoll := make(chan struct{})
		polled := make(chan int)
		go func() {
			ok := 0
			for {
				select {
				case <-stopPoll:
					polled <- ok
					return
				case <-time.After(20 * time.Millisecond):
				}
				pc, err := kubernetes.NewForConfig(c.ConfigFor("restricted"))
				if err != nil {
					continue
				}
				if _, err := pc.CoreV1().ConfigMaps(ns).Get(context.Background(), "applied", metav1.GetOptions{}); err == nil {
					ok++
				}
			}
		}()
		t0 := time.Now()
		c.StopAPIServer(t)
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx(t), "applied", metav1.GetOptions{}); err == nil {
			t.Error("request to a stopped API server succeeded")
		}
		c.StartAPIServer(t)
		t.Logf("API server restarted in %s", time.Since(t0).Round(time.Millisecond))
		// The client made before the restart still works (same URL and CA).
		after, err := cs.CoreV1().ConfigMaps(ns).Get(ctx(t), "applied", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.UID != before.UID || after.ResourceVersion != before.ResourceVersion || after.Data["a"] != "1" {
			t.Errorf("after restart %+v %v, before %+v %v", after.ObjectMeta, after.Data, before.ObjectMeta, before.Data)
		}
		// And RBAC objects survived too.
		if _, err := clientset(t, c, "restricted").CoreV1().ConfigMaps(ns).List(ctx(t), metav1.ListOptions{}); err != nil {
			t.Errorf("restricted user after restart: %v", err)
		}
		close(stopPoll)
		if n := <-polled; n == 0 {
			t.Error("the polling client never succeeded")
		}
		c.Restart(t)
		if _, err := cs.CoreV1().Namespaces().Get(ctx(t), ns, metav1.GetOptions{}); err != nil {
			t.Errorf("namespace after a second restart: %v", err)
		}
	})

	t.Run("status subresource", func(t *testing.T) {
		// Without controllers nothing sets status; tests set it themselves.
		ns := c.Namespace(t)
		pod, err := cs.CoreV1().Pods(ns).Create(ctx(t), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.invalid/c:1"}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating a pod in Namespace(t) (needs its default ServiceAccount): %v", err)
		}
		if pod.Status.Phase != corev1.PodPending {
			t.Errorf("phase %q, want Pending", pod.Status.Phase)
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
		pod, err = cs.CoreV1().Pods(ns).UpdateStatus(ctx(t), pod, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pod.Status.Phase != corev1.PodRunning {
			t.Errorf("phase after UpdateStatus %q", pod.Status.Phase)
		}
	})
}

// TestShared shows the per-package cluster: both subtests get the same one.
func TestShared(t *testing.T) {
	var urls []string
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			c := kube.Shared(t)
			urls = append(urls, c.URL)
			ns := c.Namespace(t)
			if !strings.HasPrefix(ns, "testshared-"+name+"-") {
				t.Errorf("namespace %q", ns)
			}
			viewer := clientset(t, c, "shared-viewer")
			if _, err := viewer.CoreV1().Namespaces().List(ctx(t), metav1.ListOptions{}); !apierrors.IsForbidden(err) {
				t.Errorf("viewer without bindings listing namespaces: %v", err)
			}
		})
	}
	if len(urls) == 2 && urls[0] != urls[1] {
		t.Errorf("two shared clusters: %v", urls)
	}
}
