package deploy

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrygitops/ferry/deploy/inventory"
)

// jobYAML is a Job with annotations (a hook, when they say so).
func jobYAML(meta string, ann map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: batch/v1\nkind: Job\nmetadata:\n  %s\n", meta)
	if len(ann) > 0 {
		b.WriteString("  annotations:\n")
		for k, v := range ann {
			fmt.Fprintf(&b, "    %s: %q\n", k, v)
		}
	}
	b.WriteString("spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: busybox}]\n")
	return b.String()
}

func annotated(doc string, ann map[string]string) string {
	var b strings.Builder
	b.WriteString("  annotations:\n")
	for k, v := range ann {
		fmt.Fprintf(&b, "    %s: %q\n", k, v)
	}
	return strings.Replace(doc, "metadata:\n", "metadata:\n"+b.String(), 1)
}

// finishJob sets a Job's status as the Job controller does when it
// completes (or fails): start and completion times, counts and the
// conditions kstatus reads, through the status subresource.
func (e *env) finishJob(name string, succeed bool) {
	e.t.Helper()
	job, err := e.cs.BatchV1().Jobs(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	now := metav1.Now()
	job.Status.StartTime = &now
	if succeed {
		job.Status.CompletionTime, job.Status.Succeeded = &now, 1
		job.Status.Conditions = append(job.Status.Conditions, batchCondition("SuccessCriteriaMet", now), batchCondition("Complete", now))
	} else {
		job.Status.Failed = 1
		ft, f := batchCondition("FailureTarget", now), batchCondition("Failed", now)
		ft.Reason, f.Reason = "BackoffLimitExceeded", "BackoffLimitExceeded"
		job.Status.Conditions = append(job.Status.Conditions, ft, f)
	}
	if _, err := e.cs.BatchV1().Jobs(e.ns).UpdateStatus(e.ctx, job, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// waitJob waits for a Job whose name starts with prefix to exist.
func (e *env) waitJob(prefix string) *batchv1.Job {
	e.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		jobs, err := e.cs.BatchV1().Jobs(e.ns).List(e.ctx, metav1.ListOptions{})
		if err != nil {
			e.t.Fatal(err)
		}
		for i := range jobs.Items {
			if strings.HasPrefix(jobs.Items[i].Name, prefix) && jobs.Items[i].DeletionTimestamp == nil {
				return &jobs.Items[i]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("no Job %s* appeared", prefix)
	return nil
}

type syncResult struct {
	rec Record
	err error
}

// syncAsync starts a sync and returns its result channel.
func (e *env) syncAsync(app App, opts SyncOptions) chan syncResult {
	ch := make(chan syncResult, 1)
	go func() {
		rec, err := e.s.Sync(context.Background(), app, opts)
		ch <- syncResult{rec, err}
	}()
	return ch
}

func hookSummary(rec Record) []string {
	var out []string
	for _, h := range rec.Hooks {
		s := fmt.Sprintf("%s %s/%s %s", h.Phase, h.Kind, h.Name, h.Result)
		if h.Deleted {
			s += " deleted"
		}
		out = append(out, s)
	}
	return out
}

// TestPreSyncHookBeforeDeployment: a PreSync Job (Argo CD's annotations)
// must complete before the Deployment changes; it is deleted once it
// succeeded (HookSucceeded); a PostSync hook with generateName runs after
// the Deployment is healthy; hooks stay out of the inventory, the diff
// and a sync with nothing to do; status shows the hook runs.
func TestPreSyncHookBeforeDeployment(t *testing.T) {
	e := newEnv(t, map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:1.0")})
	fakeDeploymentController(t, e.c.Config(), e.ns)
	app := e.app("presync", "app")
	if rec := e.sync(app, SyncOptions{Timeout: time.Minute}); rec.Result != Succeeded || len(rec.Hooks) != 0 {
		t.Fatalf("first sync: %+v", rec)
	}
	e.commit("migrate, then 1.1", map[string]string{
		"app/api.yaml":     deploymentYAML("api", "nginx:1.1"),
		"app/migrate.yaml": jobYAML("name: migrate", map[string]string{"argocd.argoproj.io/hook": "PreSync", "argocd.argoproj.io/hook-delete-policy": "HookSucceeded"}),
		"app/smoke.yaml":   annotated("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: smoke-\ndata: {ok: \"1\"}\n", map[string]string{"argocd.argoproj.io/hook": "PostSync"}),
	})
	r, err := e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.s.Diff(e.ctx, app, r)
	if err != nil || len(d.Changed()) != 1 || d.Changed()[0].Kind != "Deployment" {
		t.Fatalf("diff lists hooks: %v %+v", err, d.Changed())
	}

	done := e.syncAsync(app, SyncOptions{Timeout: time.Minute})
	job := e.waitJob("migrate")
	time.Sleep(500 * time.Millisecond)
	if img := e.image("api"); img != "nginx:1.0" {
		t.Fatalf("the Deployment changed before the PreSync Job completed: %s", img)
	}
	if job.Labels[LabelApp] != "presync" {
		t.Errorf("hook labels %v", job.Labels)
	}
	select {
	case res := <-done:
		t.Fatalf("the sync ended before the Job completed: %+v %v", res.rec, res.err)
	default:
	}
	e.finishJob("migrate", true)
	res := <-done
	if res.err != nil || res.rec.Result != Succeeded {
		t.Fatalf("sync: %v %+v", res.err, res.rec)
	}
	if img := e.image("api"); img != "nginx:1.1" {
		t.Errorf("image %s after the sync", img)
	}
	got := hookSummary(res.rec)
	if len(got) != 2 || got[0] != "PreSync Job/migrate Succeeded deleted" || !strings.HasPrefix(got[1], "PostSync ConfigMap/smoke-") || !strings.HasSuffix(got[1], " Succeeded") {
		t.Fatalf("hooks = %v", got)
	}
	if _, err := e.cs.BatchV1().Jobs(e.ns).Get(e.ctx, "migrate", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the succeeded hook was not deleted: %v", err)
	}
	smoke := res.rec.Hooks[1].Name
	if _, err := e.configMap(smoke); err != nil {
		t.Errorf("PostSync hook %s: %v", smoke, err)
	}
	inv, err := e.s.readInventory(e.ctx, app)
	if err != nil || len(inv) != 1 {
		t.Errorf("inventory holds hooks: %v %v", inv, err)
	}

	// Nothing to do: no hook runs, nothing pruned.
	rec := e.sync(app, SyncOptions{Timeout: time.Minute, Prune: true})
	if len(rec.Hooks) != 0 || rec.Counts.Changed() {
		t.Errorf("no-op sync: hooks %v, counts %+v", hookSummary(rec), rec.Counts)
	}
	if _, err := e.configMap(smoke); err != nil {
		t.Errorf("a hook was pruned: %v", err)
	}
	st, err := e.s.Status(e.ctx, app)
	if err != nil || len(st.History) < 2 || len(st.History[1].Hooks) != 2 || st.History[1].Hooks[0].Phase != "PreSync" {
		t.Fatalf("status: %v %+v", err, st.History)
	}
}

// TestPreSyncHookFails: a failing PreSync Job stops the sync with nothing
// else applied and the inventory empty; the SyncFail hook runs; the
// failed Job stays (BeforeHookCreation, the default) and is deleted and
// created again by the next sync.
func TestPreSyncHookFails(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/a.yaml":       configMapYAML("a", map[string]string{"k": "1"}),
		"app/api.yaml":     deploymentYAML("api", "nginx:1.0"),
		"app/migrate.yaml": jobYAML("name: migrate", map[string]string{"argocd.argoproj.io/hook": "PreSync"}),
		"app/fail.yaml":    annotated(configMapYAML("sync-failed", map[string]string{"k": "1"}), map[string]string{"argocd.argoproj.io/hook": "SyncFail"}),
		"app/post.yaml":    annotated(configMapYAML("post", nil), map[string]string{"argocd.argoproj.io/hook": "PostSync"}),
	})
	app := e.app("failing", "app")
	done := e.syncAsync(app, SyncOptions{Timeout: time.Minute, Prune: true})
	first := e.waitJob("migrate")
	e.finishJob("migrate", false)
	res := <-done
	if res.err == nil || res.rec.Result != Failed || res.rec.Reason != inventory.HookFailed {
		t.Fatalf("sync: %v %+v", res.err, res.rec)
	}
	if !strings.Contains(res.err.Error(), "nothing else applied") || !strings.Contains(res.err.Error(), "Job.batch/"+e.ns+"/migrate") {
		t.Errorf("err = %v", res.err)
	}
	for _, name := range []string{"a", "post"} {
		if _, err := e.configMap(name); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s was applied: %v", name, err)
		}
	}
	if _, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, "api", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Deployment was applied: %v", err)
	}
	if _, err := e.configMap("sync-failed"); err != nil {
		t.Errorf("the SyncFail hook did not run: %v", err)
	}
	if inv, err := e.s.readInventory(e.ctx, app); err != nil || len(inv) != 0 {
		t.Errorf("inventory: %v %v", inv, err)
	}
	got := hookSummary(res.rec)
	want := []string{"PreSync Job/migrate Failed", "PostSync ConfigMap/post NotRun", "SyncFail ConfigMap/sync-failed Succeeded"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("hooks = %v, want %v", got, want)
	}
	for _, o := range res.rec.Objects {
		if o.Action != "" {
			t.Errorf("%s: %s", o.ObjectKey, o.Action)
		}
	}
	st, err := e.s.Status(e.ctx, app)
	if err != nil || st.Last == nil || st.Last.Reason != inventory.HookFailed || len(st.Last.Hooks) != 3 {
		t.Fatalf("status: %v %+v", err, st.Last)
	}
	// The failed Job was kept; the next sync deletes it and creates it again.
	if j, err := e.cs.BatchV1().Jobs(e.ns).Get(e.ctx, "migrate", metav1.GetOptions{}); err != nil || j.UID != first.UID {
		t.Fatalf("the failed hook: %v", err)
	}
	// Watch does not retry the revision by itself.
	if tk := e.s.SyncNow(e.ctx, app); !tk.Record.DryRun || len(tk.Record.Hooks) != 2 || tk.Record.Hooks[0].Result != inventory.HookNotRun {
		t.Fatalf("watch round after a failed hook: %+v", tk.Record)
	}
	if j, err := e.cs.BatchV1().Jobs(e.ns).Get(e.ctx, "migrate", metav1.GetOptions{}); err != nil || j.UID != first.UID {
		t.Fatalf("a watch round re-ran the hook: %v", err)
	}
	fakeDeploymentController(t, e.c.Config(), e.ns)
	done = e.syncAsync(app, SyncOptions{Timeout: time.Minute, Prune: true})
	deadline := time.Now().Add(time.Minute)
	for {
		j, err := e.cs.BatchV1().Jobs(e.ns).Get(e.ctx, "migrate", metav1.GetOptions{})
		if err == nil && j.UID != first.UID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hook was not created again")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.finishJob("migrate", true)
	res = <-done
	if res.err != nil || res.rec.Result != Succeeded || res.rec.Counts.Created != 2 {
		t.Fatalf("second sync: %v %+v", res.err, res.rec)
	}
	if got := hookSummary(res.rec); strings.Join(got, "|") != "PreSync Job/migrate Succeeded|PostSync ConfigMap/post Succeeded" {
		t.Errorf("hooks = %v", got)
	}
}

// TestSyncWaves: objects are applied wave by wave (lower first, negative
// allowed), each wave Current before the next: the wave-1 ConfigMap is
// not created until the wave-0 Deployment reports a finished rollout.
func TestSyncWaves(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/early.yaml": annotated(configMapYAML("early", nil), map[string]string{"argocd.argoproj.io/sync-wave": "-1"}),
		"app/api.yaml":   deploymentYAML("api", "nginx:1.0"),
		"app/late.yaml":  annotated(configMapYAML("late", nil), map[string]string{"argocd.argoproj.io/sync-wave": "1"}),
		"app/later.yaml": annotated(configMapYAML("later", nil), map[string]string{"helm.sh/hook-weight": "5"}),
	})
	app := e.app("waves", "app")
	done := e.syncAsync(app, SyncOptions{Timeout: time.Minute})
	var rvAPI int
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, "api", metav1.GetOptions{})
		if err == nil {
			rvAPI, _ = strconv.Atoi(d.ResourceVersion)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the Deployment was not applied")
		}
		time.Sleep(20 * time.Millisecond)
	}
	early := e.mustConfigMap("early")
	if rv, _ := strconv.Atoi(early.ResourceVersion); rv >= rvAPI {
		t.Errorf("wave -1 (rv %d) not before wave 0 (rv %d)", rv, rvAPI)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := e.configMap("late"); !apierrors.IsNotFound(err) {
		t.Fatalf("wave 1 applied before wave 0 was healthy: %v", err)
	}
	markReady(e.ctx, e.cs, e.deployment("api"))
	res := <-done
	if res.err != nil || res.rec.Result != Succeeded || res.rec.Counts.Created != 4 {
		t.Fatalf("sync: %v %+v", res.err, res.rec)
	}
	late, later := e.mustConfigMap("late"), e.mustConfigMap("later")
	rvLate, _ := strconv.Atoi(late.ResourceVersion)
	rvLater, _ := strconv.Atoi(later.ResourceVersion)
	if rvLate <= rvAPI || rvLater <= rvLate {
		t.Errorf("resource versions: api %d, late %d, later %d", rvAPI, rvLate, rvLater)
	}

	// A wave that does not become healthy stops the sync before the next.
	e.commit("a new image, a new late", map[string]string{
		"app/api.yaml":  deploymentYAML("api", "nginx:2.0"),
		"app/late.yaml": annotated(configMapYAML("late", map[string]string{"v": "2"}), map[string]string{"argocd.argoproj.io/sync-wave": "1"}),
	})
	rec, err := e.s.Sync(e.ctx, app, SyncOptions{Timeout: time.Second})
	if err == nil || rec.Result != Failed || rec.Reason != inventory.WaveUnhealthy || !strings.Contains(err.Error(), "wave 0") {
		t.Fatalf("unhealthy wave: %v %+v", err, rec)
	}
	if cm := e.mustConfigMap("late"); cm.Data["v"] != "" {
		t.Error("wave 1 was applied after wave 0 failed to become healthy")
	}
}

// TestHelmHooks: Helm's hook annotations map onto the phases: a
// pre-install,pre-upgrade Job with hook-weight and
// hook-delete-policy runs before the rest and is deleted on success, a
// post-install hook runs after, a test hook is never applied; an invalid
// annotation stops the sync before any change, naming the object, its
// file and line.
func TestHelmHooks(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/cm.yaml": configMapYAML("config", map[string]string{"k": "1"}),
		"app/hooks.yaml": jobYAML("name: db-init", map[string]string{"helm.sh/hook": "pre-install,pre-upgrade", "helm.sh/hook-weight": "-5", "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded"}) +
			"---\n" + annotated(configMapYAML("notify", nil), map[string]string{"helm.sh/hook": "post-install,post-upgrade"}) +
			"---\n" + annotated(configMapYAML("test-connection", nil), map[string]string{"helm.sh/hook": "test"}),
	})
	app := e.app("helm", "app")
	done := e.syncAsync(app, SyncOptions{Timeout: time.Minute, Prune: true})
	e.waitJob("db-init")
	if _, err := e.configMap("config"); !apierrors.IsNotFound(err) {
		t.Fatalf("applied before the pre-install hook completed: %v", err)
	}
	e.finishJob("db-init", true)
	res := <-done
	if res.err != nil || res.rec.Result != Succeeded {
		t.Fatalf("sync: %v %+v", res.err, res.rec)
	}
	want := "PreSync Job/db-init Succeeded deleted|PostSync ConfigMap/notify Succeeded"
	if got := strings.Join(hookSummary(res.rec), "|"); got != want || res.rec.Hooks[0].Wave != -5 {
		t.Errorf("hooks = %s (wave %d), want %s", got, res.rec.Hooks[0].Wave, want)
	}
	if _, err := e.configMap("test-connection"); !apierrors.IsNotFound(err) {
		t.Errorf("a Helm test hook was applied: %v", err)
	}
	if _, err := e.configMap("notify"); err != nil {
		t.Error(err)
	}

	e.commit("a typo", map[string]string{
		"app/cm.yaml": configMapYAML("config", map[string]string{"k": "2"}),
		"app/more.yaml": configMapYAML("fine", nil) + "---\n" +
			annotated(configMapYAML("typo", nil), map[string]string{"argocd.argoproj.io/sync-wave": "two"}),
	})
	rec, err := e.s.Sync(e.ctx, app, SyncOptions{Timeout: time.Minute, Prune: true})
	if err == nil || rec.Reason != inventory.RenderFailed {
		t.Fatalf("invalid annotation: %v %+v", err, rec)
	}
	want = fmt.Sprintf(`app/more.yaml:7: ConfigMap/%s/typo: annotation argocd.argoproj.io/sync-wave: "two" is not an integer`, e.ns)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if cm := e.mustConfigMap("config"); cm.Data["k"] != "1" {
		t.Error("the sync changed config")
	}
	if _, err := e.configMap("fine"); !apierrors.IsNotFound(err) {
		t.Errorf("fine was applied: %v", err)
	}
}

// TestPostSyncHookFails: a PostSync Job that fails leaves the applied app
// Degraded (HookFailed), runs the SyncFail hook, and is deleted by its
// HookFailed policy.
func TestPostSyncHookFails(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/a.yaml":     configMapYAML("a", map[string]string{"k": "1"}),
		"app/smoke.yaml": jobYAML("name: smoke", map[string]string{"argocd.argoproj.io/hook": "PostSync", "argocd.argoproj.io/hook-delete-policy": "HookFailed"}),
		"app/fail.yaml":  annotated(configMapYAML("sync-failed", nil), map[string]string{"argocd.argoproj.io/hook": "SyncFail"}),
	})
	app := e.app("postfail", "app")
	done := e.syncAsync(app, SyncOptions{Timeout: time.Minute})
	e.waitJob("smoke")
	if _, err := e.configMap("a"); err != nil {
		t.Fatalf("PostSync ran before the Sync phase: %v", err)
	}
	e.finishJob("smoke", false)
	res := <-done
	if res.err != nil || res.rec.Result != Degraded || res.rec.Reason != inventory.HookFailed || !strings.Contains(res.rec.Error, "PostSync") {
		t.Fatalf("sync: %v %+v", res.err, res.rec)
	}
	if got := strings.Join(hookSummary(res.rec), "|"); got != "PostSync Job/smoke Failed deleted|SyncFail ConfigMap/sync-failed Succeeded" {
		t.Errorf("hooks = %s", got)
	}
	if _, err := e.cs.BatchV1().Jobs(e.ns).Get(e.ctx, "smoke", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the failed hook was not deleted (HookFailed): %v", err)
	}
}
