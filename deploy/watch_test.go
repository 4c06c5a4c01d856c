package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func (e *env) deployment(name string) *appsv1.Deployment {
	e.t.Helper()
	d, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

func (e *env) image(name string) string {
	e.t.Helper()
	return e.deployment(name).Spec.Template.Spec.Containers[0].Image
}

// kubectlEdit changes a Deployment the way `kubectl edit` does: an update
// under another field manager, of fields Ferry manages.
func (e *env) kubectlEdit(name, image string, replicas int32) {
	e.t.Helper()
	d := e.deployment(name)
	d.Spec.Template.Spec.Containers[0].Image = image
	d.Spec.Replicas = &replicas
	if _, err := e.cs.AppsV1().Deployments(e.ns).Update(e.ctx, d, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		e.t.Fatal(err)
	}
}

// watchUntil runs Watch with a short interval until done reports true for
// a tick (or 60 s pass), and returns the ticks.
func watchUntil(t *testing.T, e *env, app App, done func(Tick) bool) []Tick {
	t.Helper()
	ticks := make(chan Tick, 100)
	s := e.syncer(Options{OnTick: func(tk Tick) { ticks <- tk }})
	ctx, cancel := context.WithCancel(e.ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.Watch(ctx, app, 100*time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}()
	var seen []Tick
	timeout := time.After(60 * time.Second)
	for {
		select {
		case tk := <-ticks:
			seen = append(seen, tk)
			if tk.Err != nil {
				t.Logf("tick error: %v", tk.Err)
			}
			if done(tk) {
				return seen
			}
		case <-timeout:
			t.Fatalf("no such tick in 60s; ticks: %+v", seen)
			return nil
		}
	}
}

// TestDriftSelfHeal: a kubectl-edit-style change of fields Ferry manages
// is drift for Diff, and the next Sync and a Watch tick heal it. The fake
// deployment controller (fakeDeploymentController) sets the Deployment's
// status so health waits end.
func TestDriftSelfHeal(t *testing.T) {
	e := newEnv(t, map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:1.0")})
	fakeDeploymentController(t, e.c.Config(), e.ns)
	app := e.app("drift", "app")
	if rec := e.sync(app, SyncOptions{Prune: true, Timeout: 30 * time.Second}); rec.Result != Succeeded {
		t.Fatalf("%+v", rec)
	}

	e.kubectlEdit("api", "nginx:evil", 3)
	r, err := e.s.Render(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.s.Diff(e.ctx, app, r)
	if err != nil {
		t.Fatal(err)
	}
	ch := d.Changed()
	if len(ch) != 1 || !ch[0].Drifted || !strings.Contains(ch[0].Diff, "-      - image: nginx:evil") ||
		!strings.Contains(ch[0].Diff, "+      - image: nginx:1.0") || !strings.Contains(ch[0].Diff, "-  replicas: 3") {
		t.Fatalf("diff = %+v\n%s", d, ch[0].Diff)
	}
	t.Logf("drift diff:\n%s", ch[0].Diff)

	rec := e.sync(app, SyncOptions{Prune: true, Timeout: 30 * time.Second})
	if rec.Counts.Configured != 1 || rec.Result != Succeeded {
		t.Fatalf("heal = %+v", rec)
	}
	if img, dep := e.image("api"), e.deployment("api"); img != "nginx:1.0" || *dep.Spec.Replicas != 1 {
		t.Fatalf("not healed: %s ×%d", img, *dep.Spec.Replicas)
	}

	// Watch: quiet ticks are not recorded; drift is healed at the next.
	hist := len(e.mustConfigMap(RecordPrefix + "drift").Data["history"])
	watchUntil(t, e, app, func(tk Tick) bool { return tk.Err == nil })
	if got := len(e.mustConfigMap(RecordPrefix + "drift").Data["history"]); got != hist {
		t.Error("a quiet tick was recorded")
	}
	e.kubectlEdit("api", "nginx:evil", 2)
	ticks := watchUntil(t, e, app, func(tk Tick) bool { return len(tk.Drifted) > 0 })
	last := ticks[len(ticks)-1]
	if last.Record.Counts.Configured != 1 || last.Record.DryRun || last.Drifted[0].Name != "api" {
		t.Fatalf("tick = %+v", last)
	}
	if p := strings.Join(last.Drifted[0].Paths, ","); !strings.Contains(p, "spec.replicas") || !strings.Contains(p, "spec.template.spec.containers[0].image") {
		t.Errorf("drifted paths = %s", p)
	}
	if e.image("api") != "nginx:1.0" {
		t.Fatal("watch did not heal")
	}

	// selfHeal off: drift is reported, not healed.
	app.SelfHeal = false
	e.kubectlEdit("api", "nginx:evil", 2)
	ticks = watchUntil(t, e, app, func(tk Tick) bool { return len(tk.Drifted) > 0 })
	if last := ticks[len(ticks)-1]; !last.Record.DryRun || e.image("api") != "nginx:evil" {
		t.Fatalf("selfHeal off healed: %+v", last.Record)
	}
}

// TestWatchSyncsNewCommits: Watch applies a merged commit within a tick.
func TestWatchSyncsNewCommits(t *testing.T) {
	e := newEnv(t, map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:1.0")})
	fakeDeploymentController(t, e.c.Config(), e.ns)
	app := e.app("watch", "app")
	app.Timeout = 30 * time.Second
	watchUntil(t, e, app, func(tk Tick) bool { return tk.Record.Revision == e.head() && tk.Record.Result == Succeeded })
	if e.image("api") != "nginx:1.0" {
		t.Fatal("first tick did not sync")
	}
	merged := e.commit("bump", map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:1.1")})
	watchUntil(t, e, app, func(tk Tick) bool { return tk.Record.Revision == merged && tk.Record.Result == Succeeded })
	if e.image("api") != "nginx:1.1" {
		t.Fatal("the merged commit was not applied")
	}

	// automated off: a new commit is only reported.
	app.Automated = false
	e.commit("bump", map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:1.2")})
	ticks := watchUntil(t, e, app, func(tk Tick) bool { return tk.Err == nil })
	if !ticks[0].Record.DryRun || ticks[0].Record.Counts.Configured != 1 || e.image("api") != "nginx:1.1" {
		t.Fatalf("automated off: %+v, image %s", ticks[0].Record, e.image("api"))
	}
}

// TestHealth: without a controller a Deployment stays InProgress and the
// sync is Degraded at the timeout; once its status says rolled out
// (markReady, as the deployment controller would), a no-op sync finds it
// Current without waiting.
func TestHealth(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/api.yaml": deploymentYAML("api", "nginx:1.0"),
		"app/job.yaml": `apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: m, image: busybox}]
`,
	})
	app := e.app("health", "app")
	start := time.Now()
	rec, err := e.s.Sync(e.ctx, app, SyncOptions{Timeout: 1500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Result != Degraded || time.Since(start) < 1500*time.Millisecond || !strings.Contains(rec.Error, "not healthy") {
		t.Fatalf("%+v", rec)
	}
	for _, o := range rec.Objects {
		if o.Health != "InProgress" {
			t.Errorf("%s: %s %s", o.ObjectKey, o.Health, o.Message)
		}
	}
	markReady(e.ctx, e.cs, e.deployment("api"))
	job, err := e.cs.BatchV1().Jobs(e.ns).Get(e.ctx, "migrate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	job.Status.StartTime, job.Status.CompletionTime, job.Status.Succeeded = &now, &now, 1
	job.Status.Conditions = append(job.Status.Conditions,
		batchCondition("SuccessCriteriaMet", now), batchCondition("Complete", now))
	if _, err := e.cs.BatchV1().Jobs(e.ns).UpdateStatus(e.ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := e.s.Stats()
	rec = e.sync(app, SyncOptions{Timeout: time.Minute})
	if rec.Result != Succeeded || rec.Counts.Unchanged != 2 {
		t.Fatalf("%+v", rec)
	}
	t.Logf("no-op sync with health: %+v", e.s.Stats().Sub(before))
	st, err := e.s.Status(e.ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if st.History[0].Result != Succeeded || st.History[1].Result != Degraded || st.Objects[0].Health != "Current" {
		t.Fatalf("status = %+v", st)
	}
}

func batchCondition(typ string, now metav1.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: batchv1.JobConditionType(typ), Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now}
}
