package deploy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

func manyConfigMaps(n int, value string) map[string]string {
	files := map[string]string{}
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString("---\n")
		}
		b.WriteString(configMapYAML(fmt.Sprintf("cm-%04d", i), map[string]string{"v": value}))
	}
	files["app/cms.yaml"] = b.String()
	return files
}

// TestConcurrentSyncsDoNotInterleave: syncs of one app, from two Syncers
// (two processes, as far as the Lease is concerned) and from one, run one
// after the other; a lease held by someone else makes a sync wait, then
// fail with ErrLocked naming the holder; an expired one is taken over.
func TestConcurrentSyncsDoNotInterleave(t *testing.T) {
	e := newEnv(t, manyConfigMaps(40, "1"))
	app := e.app("locked", "app")
	s1 := e.syncer(Options{Identity: "one"})
	s2 := e.syncer(Options{Identity: "two"})

	run := func(syncers ...*Syncer) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, len(syncers))
		for i, s := range syncers {
			wg.Go(func() {
				_, errs[i] = s.Sync(e.ctx, app, SyncOptions{Prune: true})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
	run(s1, s2)
	e.commit("change", manyConfigMaps(40, "2"))
	run(s1, s1)

	st, err := e.s.Status(e.ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.History) != 4 {
		t.Fatalf("history: %d records", len(st.History))
	}
	h := slices.Clone(st.History)
	slices.SortFunc(h, func(a, b Record) int { return a.Started.Compare(b.Started) })
	for i := 1; i < len(h); i++ {
		if h[i].Started.Before(h[i-1].Finished) {
			t.Errorf("syncs overlap: %v–%v and %v–%v", h[i-1].Started, h[i-1].Finished, h[i].Started, h[i].Finished)
		}
	}
	if c := h[2].Counts.Configured + h[3].Counts.Configured; c != 40 {
		t.Errorf("the change was applied %d times, want 40 objects once", c)
	}

	// Someone else holds the lease.
	leases := e.cs.CoordinationV1().Leases(e.ns)
	l, err := leases.Get(e.ctx, LeasePrefix+"locked", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Spec.HolderIdentity != nil {
		t.Fatalf("lease not released: %v", *l.Spec.HolderIdentity)
	}
	now := metav1.NewMicroTime(time.Now())
	l.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("someone-else"), LeaseDurationSeconds: ptr.To[int32](60), AcquireTime: &now, RenewTime: &now}
	if l, err = leases.Update(e.ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err = e.s.Status(e.ctx, app)
	if err != nil || st.Lock == nil || st.Lock.Holder != "someone-else" {
		t.Fatalf("status lock = %+v %v", st.Lock, err)
	}
	s3 := e.syncer(Options{LockTimeout: 500 * time.Millisecond})
	start := time.Now()
	_, err = s3.Sync(e.ctx, app, SyncOptions{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "someone-else") || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	t.Log(err)

	// A sync that waits for the lease applies the branch as it is once it
	// holds it, not as it was when the sync started (the render began
	// then).
	waiting := e.syncer(Options{LockTimeout: time.Minute})
	type result struct {
		rec Record
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := waiting.Sync(e.ctx, app, SyncOptions{})
		done <- result{rec, err}
	}()
	time.Sleep(500 * time.Millisecond) // the render of the old head is done
	newHead := e.commit("while waiting", manyConfigMaps(40, "3"))
	time.Sleep(time.Second)
	if l, err = leases.Get(e.ctx, LeasePrefix+"locked", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	l.Spec.HolderIdentity = nil
	if l, err = leases.Update(e.ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.rec.Revision != newHead {
		t.Fatalf("a sync that waited for the lease synced %s (%v), want the head %s", r.rec.Revision, r.err, newHead)
	}
	if v := e.mustConfigMap("cm-0000").Data["v"]; v != "3" {
		t.Errorf("cm-0000 v = %q, want 3", v)
	}
	if l, err = leases.Get(e.ctx, LeasePrefix+"locked", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	l.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To("someone-else"), LeaseDurationSeconds: ptr.To[int32](60), AcquireTime: &now, RenewTime: &now}

	// Expired: taken over.
	old := metav1.NewMicroTime(time.Now().Add(-2 * time.Minute))
	l.Spec.RenewTime = &old
	if _, err = leases.Update(e.ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Sync(e.ctx, app, SyncOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestAPIServerRestartMidSync restarts the API server while a sync
// applies: the sync either rides it out or fails cleanly, and the next
// sync converges (every object there, all in the inventory). It starts a
// cluster of its own.
func TestAPIServerRestartMidSync(t *testing.T) {
	c := kube.Start(t)
	const n = 400
	e := newEnvOn(t, c, manyConfigMaps(n, "1"))
	e.s = e.syncer(Options{Concurrency: 4})
	app := e.app("restart", "app")

	type result struct {
		rec Record
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := e.s.Sync(e.ctx, app, SyncOptions{Prune: true})
		done <- result{rec, err}
	}()
	// Restart once the apply is under way.
	deadline := time.Now().Add(time.Minute)
	for {
		l, err := e.cs.CoreV1().ConfigMaps(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: LabelApp + "=restart"})
		if err == nil && len(l.Items) >= 20 {
			t.Logf("restarting the API server with %d of %d objects applied", len(l.Items), n)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sync did not start applying")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Restart(t)
	r := <-done
	t.Logf("sync across the restart: result %s, counts %+v, err %v", r.rec.Result, r.rec.Counts, r.err)
	if r.err == nil && r.rec.Result != Succeeded {
		t.Fatalf("no error but %s", r.rec.Result)
	}

	rec := e.sync(app, SyncOptions{Prune: true})
	if rec.Result != Succeeded || rec.Counts.Created+rec.Counts.Configured+rec.Counts.Unchanged != n {
		t.Fatalf("next sync: %+v", rec)
	}
	l, err := e.cs.CoreV1().ConfigMaps(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: LabelApp + "=restart"})
	if err != nil || len(l.Items) != n {
		t.Fatalf("%d objects, %v", len(l.Items), err)
	}
	inv, err := e.s.readInventory(e.ctx, app)
	if err != nil || len(inv) != n {
		t.Fatalf("inventory: %d, %v", len(inv), err)
	}
	if d := e.sync(app, SyncOptions{Prune: true}); d.Counts.Unchanged != n {
		t.Fatalf("not converged: %+v", d.Counts)
	}

	// An outage longer than the retry budget fails the sync; the next
	// converges.
	e.commit("v2", manyConfigMaps(n, "2"))
	short := e.syncer(Options{Concurrency: 2, RetryTimeout: time.Second, LeaseDuration: 3 * time.Second})
	go func() {
		rec, err := short.Sync(e.ctx, app, SyncOptions{Prune: true})
		done <- result{rec, err}
	}()
	for {
		l, err := e.cs.CoreV1().ConfigMaps(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: LabelApp + "=restart"})
		changed := 0
		for _, cm := range l.Items {
			if cm.Data["v"] == "2" {
				changed++
			}
		}
		if err == nil && changed >= 10 {
			break
		}
		if time.Now().After(deadline.Add(time.Minute)) {
			t.Fatal("the sync did not start applying")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.StopAPIServer(t)
	r = <-done
	c.StartAPIServer(t)
	t.Logf("sync across an outage: result %s, counts %+v, err %v", r.rec.Result, r.rec.Counts, r.err)
	if r.err == nil || r.rec.Result != Failed {
		t.Fatalf("the sync did not fail: %+v", r.rec)
	}
	rec = e.sync(app, SyncOptions{Prune: true})
	if rec.Result != Succeeded || rec.Counts.Unchanged+rec.Counts.Configured != n {
		t.Fatalf("after the outage: %+v", rec)
	}
	l, err = e.cs.CoreV1().ConfigMaps(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: LabelApp + "=restart"})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range l.Items {
		if cm.Data["v"] != "2" {
			t.Fatalf("%s not converged", cm.Name)
		}
	}
}

// TestCRDAndNamespaceFirst: a Namespace, a CRD and a custom resource of
// it in that namespace, all new, sync in one go: the resource can only be
// validated and applied once the first two are.
func TestCRDAndNamespaceFirst(t *testing.T) {
	// The CRD's group carries the test's namespace (NS), unique per run,
	// so repeated runs (-count) on one cluster each create their own.
	suffix := "NS"
	e := newEnv(t, map[string]string{
		"app/ns.yaml":     "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS-extra}\n",
		"app/crd.yaml":    crdYAML(suffix+".example.com", "Widget", "{size: {type: integer}}"),
		"app/widget.yaml": "apiVersion: " + suffix + ".example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: NS-extra}\nspec: {size: 3}\n",
	})
	app := e.app("crd", "app")
	rec := e.sync(app, SyncOptions{Prune: true})
	var order []string
	for _, o := range rec.Objects {
		order = append(order, o.Kind)
		if o.Action != ActionCreated || o.Health != "Current" {
			t.Errorf("%s: %s %s", o.ObjectKey, o.Action, o.Health)
		}
	}
	if !slices.Equal(order, []string{"Namespace", "CustomResourceDefinition", "Widget"}) || rec.Result != Succeeded {
		t.Fatalf("record: %v %+v", order, rec)
	}
	gvr := e.ns + ".example.com"
	u, err := e.s.dyn.Resource(schemaGVR(gvr, "v1", "widgets")).Namespace(e.ns+"-extra").Get(e.ctx, "w", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(u.Object, "spec", "size"); size != 3 {
		t.Errorf("size = %d", size)
	}
	// Widgets are pruned with the rest when removed from git.
	e.commit("drop the widget", nil, "app/widget.yaml")
	rec = e.sync(app, SyncOptions{Prune: true})
	if rec.Counts.Pruned != 1 {
		t.Fatalf("%+v", rec.Counts)
	}
	if _, err := e.s.dyn.Resource(schemaGVR(gvr, "v1", "widgets")).Namespace(e.ns+"-extra").Get(e.ctx, "w", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// TestCRDInstalledElsewhere: a CRD another Syncer (another app, another
// process) installed after this Syncer read (and cached the mappings of)
// discovery: concurrent lookups of its kind, and a render of many
// resources of it prepared on every CPU, find it after a discovery reset
// instead of failing "no kind".
func TestCRDInstalledElsewhere(t *testing.T) {
	e := newEnv(t, map[string]string{"plain/cm.yaml": configMapYAML("c", nil)})
	e.sync(e.app("plain", "plain"), SyncOptions{}) // discovery read and kept
	suffix := "NS"
	e.commit("the CRD", map[string]string{"crds/crd.yaml": crdYAML(suffix+".example.com", "Gadget", "{size: {type: integer}}")})
	if _, err := e.syncer(Options{Identity: "other"}).Sync(e.ctx, e.app("crds", "crds"), SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	// Callers that miss the kind at once all find it after one reset.
	gvk := schema.GroupVersionKind{Group: e.ns + ".example.com", Version: "v1", Kind: "Gadget"}
	start := make(chan struct{})
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			<-start
			_, errs[i] = e.s.mapping(gvk)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent lookups of a kind installed since: %v", err)
	}
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "---\napiVersion: %s.example.com/v1\nkind: Gadget\nmetadata: {name: g%d}\nspec: {size: %d}\n", suffix, i, i)
	}
	e.commit("gadgets", map[string]string{"gadgets/g.yaml": b.String()})
	rec, err := e.s.Sync(e.ctx, e.app("gadgets", "gadgets"), SyncOptions{})
	if err != nil || rec.Counts.Created != 40 {
		t.Fatalf("sync of 40 Gadgets: %v %+v", err, rec.Counts)
	}
}
