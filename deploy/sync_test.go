package deploy

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrygitops/ferry/deploy/diff"
	"github.com/ferrygitops/ferry/deploy/inventory"
)

// TestSyncDiffPrune: a plain directory (multi-document files, a List,
// JSON, a nested directory; hidden directories and other files ignored)
// is diffed, synced, re-synced for free, then changed: the object removed
// from git is pruned, the one opted out with ferry.dev/prune: disabled is
// kept, and one created by hand with the app's label (never in the
// inventory) is left alone.
func TestSyncDiffPrune(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/a.yaml": configMapYAML("a", map[string]string{"k": "1"}),
		"app/b.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: b
  annotations: {ferry.dev/prune: disabled}
data: {k: "1"}
`,
		"app/multi.yaml": `# two documents
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80, targetPort: 8080}]
  selector: {app: web}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
---
`,
		"app/list.yaml": `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: c}
  data: {k: "1"}
`,
		"app/nested/d.json":    `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"k": "1"}}`,
		"app/.hidden/x.yaml":   configMapYAML("hidden", nil),
		"app/README.md":        "not a manifest",
		"other/elsewhere.yaml": configMapYAML("elsewhere", nil),
	})
	app := e.app("web", "app")

	r, err := e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, k := range r.Keys() {
		keys = append(keys, k.String())
	}
	want := []string{"ServiceAccount/NS/web", "ConfigMap/NS/a", "ConfigMap/NS/b", "ConfigMap/NS/c", "ConfigMap/NS/d", "Service/NS/web"}
	for i := range want {
		want[i] = strings.ReplaceAll(want[i], "NS", e.ns)
	}
	if !slices.Equal(keys, want) {
		t.Fatalf("render order = %v, want %v", keys, want)
	}
	if r.Revision != e.head() {
		t.Errorf("revision = %s, want %s", r.Revision, e.head())
	}

	d, err := e.s.Diff(e.ctx, app, r)
	if err != nil {
		t.Fatal(err)
	}
	if d.InSync || len(d.Changed()) != 6 || d.Objects[0].Action != DiffCreate || !strings.Contains(d.Objects[0].Diff, "+kind: ServiceAccount") {
		t.Fatalf("diff before the first sync = %+v", d)
	}

	rec := e.sync(app, SyncOptions{Prune: true})
	if rec.Result != Succeeded || rec.Counts.Created != 6 || rec.Revision != e.head() {
		t.Fatalf("first sync = %+v", rec)
	}
	cm := e.mustConfigMap("a")
	if cm.Labels[LabelApp] != "web" || cm.Annotations[AnnotationAppliedHash] == "" {
		t.Errorf("labels %v, annotations %v", cm.Labels, cm.Annotations)
	}
	if _, err := e.configMap("hidden"); !apierrors.IsNotFound(err) {
		t.Errorf("a hidden directory was applied: %v", err)
	}
	if d, err := e.s.Diff(e.ctx, app, r); err != nil || !d.InSync {
		t.Fatalf("diff after sync: %v %+v", err, d.Changed())
	}

	// Nothing changed: no apply, no dry-run.
	before := e.s.Stats()
	rec = e.sync(app, SyncOptions{Prune: true})
	calls := e.s.Stats().Sub(before)
	if rec.Counts.Unchanged != 6 || rec.Counts.Changed() || calls.ByMethod["PATCH"] != 0 || calls.ByMethod["PATCH(dry-run)"] != 0 {
		t.Fatalf("no-op sync: %+v, calls %+v", rec.Counts, calls)
	}
	t.Logf("no-op sync of 6 objects: %d requests %v", calls.Requests, calls.ByMethod)
	// The lease, the state, the inventory and the labelled Lists are read
	// once each; the inventory is not read again to learn it is unchanged.
	if calls.Requests > 14 {
		t.Errorf("a no-op sync of 6 objects made %d requests %v, want at most 14", calls.Requests, calls.ByMethod)
	}

	// A ConfigMap created by hand with the app's label: not Ferry's.
	stray := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stray", Labels: map[string]string{LabelApp: "web"}}}
	if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Create(e.ctx, stray, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.commit("drop a and b, change the service", map[string]string{
		"app/multi.yaml": `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 81, targetPort: 8080}]
  selector: {app: web}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
`,
	}, "app/a.yaml", "app/b.yaml")
	r, err = e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err = e.s.Diff(e.ctx, app, r)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]DiffAction{}
	for _, o := range d.Changed() {
		got[o.Kind+"/"+o.Name] = o.Action
	}
	if len(got) != 2 || got["Service/web"] != DiffUpdate || got["ConfigMap/a"] != DiffPrune {
		t.Fatalf("diff = %v", got)
	}
	for _, o := range d.Objects {
		if o.Name == "web" && o.Kind == "Service" && !strings.Contains(o.Diff, "-  - port: 80") {
			t.Errorf("service diff:\n%s", o.Diff)
		}
	}

	rec = e.sync(app, SyncOptions{Prune: true})
	acts := actions(rec)
	if acts["ConfigMap/a"] != ActionPruned || acts["ConfigMap/b"] != ActionSkipped || acts["Service/web"] != ActionConfigured || acts["ConfigMap/c"] != ActionUnchanged {
		t.Fatalf("actions = %v", acts)
	}
	if _, ok := acts["ConfigMap/stray"]; ok {
		t.Error("the stray ConfigMap was considered")
	}
	if _, err := e.configMap("a"); !apierrors.IsNotFound(err) {
		t.Errorf("a not pruned: %v", err)
	}
	for _, name := range []string{"b", "stray"} {
		if _, err := e.configMap(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	inv := e.mustConfigMap(InventoryPrefix + "web").Data["objects"]
	if strings.Contains(inv, `"a"`) || strings.Contains(inv, `"b"`) || !strings.Contains(inv, `"c"`) || strings.Contains(inv, "stray") {
		t.Errorf("inventory:\n%s", inv)
	}

	st, err := e.s.Status(e.ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 3 || st.Revision != e.head() || st.Last.Counts.Pruned != 1 || len(st.Objects) != 4 || st.Lock != nil {
		t.Fatalf("status = %+v", st)
	}
	for _, o := range st.Objects {
		if o.Health != "Current" {
			t.Errorf("%s: %s", o.ObjectKey, o.Health)
		}
	}
}

// TestBrokenManifestAborts: invalid YAML, and an object the API server
// rejects, stop the sync before any change: the inventory keeps its
// resourceVersion, the changed object keeps its old data, and the object
// removed from git is not pruned. The failed sync is recorded (issue 17:
// failed syncs are visible), with its reason, beside the revision that
// last synced.
func TestBrokenManifestAborts(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/a.yaml": configMapYAML("a", map[string]string{"k": "1"}),
		"app/b.yaml": configMapYAML("b", map[string]string{"k": "1"}),
	})
	app := e.app("broken", "app")
	e.sync(app, SyncOptions{Prune: true})
	invRV := e.mustConfigMap(InventoryPrefix + "broken").ResourceVersion
	recRV := e.mustConfigMap(RecordPrefix + "broken").ResourceVersion

	synced := e.head()
	check := func(t *testing.T, wantErr string, reason Reason) {
		t.Helper()
		rec, err := e.s.Sync(e.ctx, app, SyncOptions{Prune: true})
		if err == nil || !strings.Contains(err.Error(), wantErr) || rec.Result != Failed {
			t.Fatalf("sync = %v, %+v; want an error with %q", err, rec.Result, wantErr)
		}
		t.Logf("error: %v", err)
		if rv := e.mustConfigMap(InventoryPrefix + "broken").ResourceVersion; rv != invRV {
			t.Error("the inventory changed")
		}
		if rv := e.mustConfigMap(RecordPrefix + "broken").ResourceVersion; rv == recRV {
			t.Error("the failed sync was not recorded")
		}
		recRV = e.mustConfigMap(RecordPrefix + "broken").ResourceVersion
		st, err := e.s.Status(e.ctx, app)
		if err != nil || st.Last.Result != Failed || st.Last.Reason != reason || st.Last.Revision != e.head() || st.Revision != synced {
			t.Errorf("status after the failure: %v, last %+v, revision %s", err, st.Last, st.Revision)
		}
		if got := e.mustConfigMap("a").Data["k"]; got != "1" {
			t.Errorf("a was applied: k=%s", got)
		}
		if _, err := e.configMap("b"); err != nil {
			t.Errorf("b was pruned: %v", err)
		}
	}

	e.commit("broken YAML", map[string]string{
		"app/a.yaml":      configMapYAML("a", map[string]string{"k": "2"}),
		"app/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: [unclosed\n",
	}, "app/b.yaml")
	t.Run("invalid YAML", func(t *testing.T) { check(t, "app/broken.yaml:", inventory.RenderFailed) })

	e.commit("rejected object", map[string]string{
		"app/broken.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: no-selector}
spec:
  template:
    metadata: {labels: {app: x}}
    spec:
      containers: [{name: c, image: nginx}]
`,
	})
	t.Run("rejected by the API server", func(t *testing.T) {
		check(t, "Deployment.apps/"+e.ns+"/no-selector (app/broken.yaml:1)", inventory.Rejected)
	})

	e.commit("unknown kind", map[string]string{
		"app/broken.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
	})
	t.Run("unknown kind", func(t *testing.T) { check(t, "no kind Widget", inventory.RenderFailed) })

	e.commit("fixed", nil, "app/broken.yaml")
	rec := e.sync(app, SyncOptions{Prune: true})
	if acts := actions(rec); acts["ConfigMap/a"] != ActionConfigured || acts["ConfigMap/b"] != ActionPruned {
		t.Fatalf("after the fix: %v", acts)
	}
}

// TestRefusePruneEverything: a render of nothing does not prune the app,
// unless allowed.
func TestRefusePruneEverything(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/a.yaml":    configMapYAML("a", nil),
		"app/README.md": "manifests of app a",
	})
	app := e.app("empty", "app")
	e.sync(app, SyncOptions{Prune: true})
	e.commit("oops", nil, "app/a.yaml")
	_, err := e.s.Sync(e.ctx, app, SyncOptions{Prune: true})
	if !errors.Is(err, ErrRefusePruneAll) {
		t.Fatalf("err = %v", err)
	}
	if _, err := e.configMap("a"); err != nil {
		t.Fatal(err)
	}
	rec := e.sync(app, SyncOptions{Prune: true, AllowEmpty: true})
	if rec.Counts.Pruned != 1 {
		t.Fatalf("%+v", rec)
	}
	if _, err := e.configMap("a"); !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestSecretMasked: Secret values never appear in diffs or records, only
// markers saying whether each changed.
func TestSecretMasked(t *testing.T) {
	secret := func(pw string) string {
		return `apiVersion: v1
kind: Secret
metadata: {name: db}
stringData:
  password: ` + pw + `
  user: admin-user
`
	}
	e := newEnv(t, map[string]string{"app/secret.yaml": secret("hunter2-old")})
	app := e.app("secret", "app")
	rec := e.sync(app, SyncOptions{})
	e.commit("rotate", map[string]string{"app/secret.yaml": secret("hunter2-new")})

	// The first re-sync of a stringData Secret must not see drift.
	r, err := e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.s.Diff(e.ctx, app, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Changed()) != 1 {
		t.Fatalf("diff = %+v", d)
	}
	text := d.Changed()[0].Diff
	t.Logf("diff:\n%s", text)
	if !strings.Contains(text, "-  password: '"+diff.MaskBefore+"'") || !strings.Contains(text, "+  password: '"+diff.MaskAfter+"'") ||
		!strings.Contains(text, "  user: '"+diff.MaskUnchanged+"'") {
		t.Errorf("markers missing")
	}
	rec = e.sync(app, SyncOptions{})
	js, _ := json.Marshal(rec)
	for _, leak := range []string{"hunter2", "aHVudGVyMi", "admin-user", "YWRtaW4tdXNlcg"} {
		if strings.Contains(text, leak) || strings.Contains(string(js), leak) {
			t.Errorf("%q leaked", leak)
		}
	}
	// Unchanged since: the stringData is compared as data.
	before := e.s.Stats()
	rec = e.sync(app, SyncOptions{})
	if calls := e.s.Stats().Sub(before); rec.Counts.Unchanged != 1 || calls.ByMethod["PATCH(dry-run)"] != 0 {
		t.Errorf("re-sync: %+v %+v", rec.Counts, calls)
	}
}

// TestNoTakeoverOfForeignObjects: an object that exists but was never
// applied by Ferry is adopted when git agrees with it, but a conflicting
// value of another field manager fails the sync before any change instead
// of being overwritten; once Ferry owns an object, its fields are taken
// back (Force), and a deleted one is re-created.
func TestNoTakeoverOfForeignObjects(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/same.yaml":  configMapYAML("same", map[string]string{"v": "1"}),
		"app/other.yaml": configMapYAML("other", map[string]string{"v": "git"}),
		"app/mine.yaml":  configMapYAML("mine", map[string]string{"v": "1"}),
	})
	for name, v := range map[string]string{"same": "1", "other": "kubectl"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": v}}
		if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Create(e.ctx, cm, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
			t.Fatal(err)
		}
	}
	app := e.app("foreign", "app")
	_, err := e.s.Sync(e.ctx, app, SyncOptions{Prune: true})
	if err == nil || !strings.Contains(err.Error(), "ConfigMap/"+e.ns+"/other") || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
	if _, err := e.configMap("mine"); !apierrors.IsNotFound(err) {
		t.Fatalf("something was applied: %v", err)
	}
	if got := e.mustConfigMap("other").Data["v"]; got != "kubectl" {
		t.Fatalf("overwritten: %s", got)
	}

	e.commit("agree", map[string]string{"app/other.yaml": configMapYAML("other", map[string]string{"v": "kubectl"})})
	rec := e.sync(app, SyncOptions{Prune: true})
	if acts := actions(rec); acts["ConfigMap/same"] != ActionConfigured || acts["ConfigMap/mine"] != ActionCreated {
		t.Fatalf("adoption: %v", acts)
	}
	if e.mustConfigMap("same").Labels[LabelApp] != "foreign" {
		t.Fatal("not labelled")
	}

	// Now Ferry's: another manager's change is taken back, a deletion undone.
	cm := e.mustConfigMap("other")
	cm.Data["v"] = "edited"
	if _, err := e.cs.CoreV1().ConfigMaps(e.ns).Update(e.ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if err := e.cs.CoreV1().ConfigMaps(e.ns).Delete(e.ctx, "mine", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rec = e.sync(app, SyncOptions{Prune: true})
	if acts := actions(rec); acts["ConfigMap/other"] != ActionConfigured || acts["ConfigMap/mine"] != ActionCreated || acts["ConfigMap/same"] != ActionUnchanged {
		t.Fatalf("heal: %v", acts)
	}
	if got := e.mustConfigMap("other").Data["v"]; got != "kubectl" {
		t.Fatalf("not healed: %s", got)
	}
}
