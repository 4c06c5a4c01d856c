package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// The cluster tests share one API server (kube.Shared); each uses its own
// namespaces and app names. TestAPIServerRestartMidSync starts its own.
//
// No controllers run in the harness, so no Deployment ever reports a
// rollout by itself. Tests that wait for health set the status through the
// status subresource, as the deployment controller would:
// TestDriftSelfHeal, TestWatchSyncsNewCommits, TestRollbackPinned,
// TestKustomize and BenchmarkSync4000 run fakeDeploymentController;
// TestHealth calls markReady (and completes its Job) by hand after
// checking that the sync is Degraded without it.
func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

// env is one test's cluster namespace, git server and Syncer.
type env struct {
	t    *testing.T
	c    *kube.Cluster
	cs   kubernetes.Interface
	ns   string
	git  *gitserver.Server
	repo string // repository name on git
	url  string
	s    *Syncer
	ctx  context.Context
}

// newEnv makes a namespace on the shared cluster and a git repository
// holding files.
func newEnv(t *testing.T, files map[string]string) *env {
	t.Helper()
	return newEnvOn(t, kube.Shared(t), files)
}

func newEnvOn(t *testing.T, c *kube.Cluster, files map[string]string) *env {
	t.Helper()
	e := &env{t: t, c: c, cs: c.Client(t), ns: c.Namespace(t), git: gitserver.New(t), repo: "manifests", ctx: context.Background()}
	fixed := map[string]string{}
	for k, v := range files {
		fixed[strings.ReplaceAll(k, "NS", e.ns)] = strings.ReplaceAll(v, "NS", e.ns)
	}
	e.url = e.git.CreateRepo(e.repo, fixed)
	e.s = e.syncer(Options{})
	return e
}

// syncer returns a new Syncer on the env's cluster with its own work
// directory, keeping its bookkeeping in the env's namespace (tests share
// one cluster and reuse app names).
func (e *env) syncer(opts Options) *Syncer {
	e.t.Helper()
	if opts.Namespace == "" {
		opts.Namespace = e.ns
	}
	return syncerFor(e.t, e.c.Config(), opts)
}

func syncerFor(t testing.TB, cfg *rest.Config, opts Options) *Syncer {
	t.Helper()
	if opts.WorkDir == "" {
		opts.WorkDir = t.TempDir()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// app returns an app of the env's repository.
func (e *env) app(name, path string) App {
	return App{Name: name, RepoURL: e.url, Branch: "main", Path: path, Namespace: e.ns, Prune: true, Automated: true, SelfHeal: true}
}

// commit commits to main, replacing NS in names and contents.
func (e *env) commit(msg string, files map[string]string, deletes ...string) string {
	e.t.Helper()
	fixed := map[string]string{}
	for k, v := range files {
		fixed[strings.ReplaceAll(k, "NS", e.ns)] = strings.ReplaceAll(v, "NS", e.ns)
	}
	return e.git.Commit(e.repo, "main", msg, fixed, deletes...)
}

func (e *env) head() string {
	h, _ := e.git.Head(e.repo, "main")
	return h
}

func (e *env) sync(app App, opts SyncOptions) Record {
	e.t.Helper()
	rec, err := e.s.Sync(e.ctx, app, opts)
	if err != nil {
		e.t.Fatalf("sync %s: %v", app.Name, err)
	}
	return rec
}

func (e *env) configMap(name string) (*corev1.ConfigMap, error) {
	return e.cs.CoreV1().ConfigMaps(e.ns).Get(e.ctx, name, metav1.GetOptions{})
}

func (e *env) mustConfigMap(name string) *corev1.ConfigMap {
	e.t.Helper()
	cm, err := e.configMap(name)
	if err != nil {
		e.t.Fatal(err)
	}
	return cm
}

// actions maps "Kind/name" to the action of every object in rec.
func actions(rec Record) map[string]Action {
	out := map[string]Action{}
	for _, o := range rec.Objects {
		out[o.Kind+"/"+o.Name] = o.Action
	}
	return out
}

func configMapYAML(name string, data map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n", name)
	for k, v := range data {
		fmt.Fprintf(&b, "  %s: %q\n", k, v)
	}
	return b.String()
}

func deploymentYAML(name, image string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: %[2]s
`, name, image)
}

// fakeDeploymentController plays kube-controller-manager for the
// Deployments of namespace ns: it watches them and, through the status
// subresource, reports every generation rolled out (observedGeneration,
// replicas, updatedReplicas, readyReplicas, availableReplicas, conditions
// Available and Progressing/NewReplicaSetAvailable), which kstatus reads
// as Current. Tests that wait for health start it: the harness runs no
// controllers. It stops when the test ends.
func fakeDeploymentController(t testing.TB, cfg *rest.Config, ns string) {
	t.Helper()
	kube.FakeDeploymentController(t, cfg, ns)
}

func markReady(ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) {
	kube.MarkDeploymentReady(ctx, cs, d)
}

func schemaGVR(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// crdYAML is a namespaced CustomResourceDefinition of kind in group,
// served and stored at v1, whose spec has the properties props (an inline
// YAML mapping, e.g. "{size: {type: integer}}").
func crdYAML(group, kind, props string) string {
	plural := strings.ToLower(kind) + "s"
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ` + plural + `.` + group + `}
spec:
  group: ` + group + `
  scope: Namespaced
  names: {plural: ` + plural + `, singular: ` + strings.ToLower(kind) + `, kind: ` + kind + `, listKind: ` + kind + `List}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: ` + props + `}
`
}
