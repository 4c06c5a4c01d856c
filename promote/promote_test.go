package promote

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	"github.com/ferrygitops/ferry/registry"
)

// The tests share one API server; no controllers run in it, so the tests
// set Deployment and Job statuses as their controllers would
// (kube.FakeDeploymentController, completeJob, failJob).
func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

const policies = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata: {name: web}
spec:
  image: HOST/acme/web
  policy: {semver: {}}
  digest: true
  update: {paths: ['overlays/staging/**']}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-staging}
spec:
  source: {path: overlays/staging}
  destination: {namespace: STAGING}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web-production}
spec:
  source: {path: overlays/production}
  destination: {namespace: PRODUCTION}
---
apiVersion: ferry.dev/v1alpha1
kind: Promotion
metadata: {name: web}
spec:
  from: {app: web-staging}
  to: {app: web-production}
  soak: 30m
  verify:
    job: {template: verify/smoke.yaml, timeout: 10m}
  pullRequest: {labels: [promotion]}
`

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: IMAGE   # the web server
`

const smokeJob = `apiVersion: batch/v1
kind: Job
metadata:
  name: smoke
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: smoke
          image: busybox
          command: [wget, -qO-, http://web]
`

type env struct {
	t         *testing.T
	ctx       context.Context
	cs        kubernetes.Interface
	staging   string // namespaces
	prod      string
	reg       *ociregistry.Server
	git       *gitserver.Server
	gh        *githubapi.Server
	forge     *forge.Client
	url       string
	syncer    *deploy.Syncer
	digests   map[string]string
	stagingOK bool
}

func newEnv(t *testing.T) *env { return newEnvVerify(t, "") }

// newEnvVerify makes the env with spec.verify replaced by verify, if given.
func newEnvVerify(t *testing.T, verify string) *env {
	t.Helper()
	c := kube.Shared(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	e := &env{t: t, ctx: context.Background(), cs: c.Client(t), staging: c.Namespace(t), prod: c.Namespace(t),
		reg: ociregistry.New(), git: gitserver.New(t)}
	t.Cleanup(e.reg.Close)
	var err error
	if e.digests, err = e.reg.SeedDistinct(e.ctx, "acme/web", "1.0.0", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	img := e.reg.Host + "/acme/web:1.0.0@" + e.digests["1.0.0"]
	r := strings.NewReplacer("HOST", e.reg.Host, "STAGING", e.staging, "PRODUCTION", e.prod)
	docs := policies
	if verify != "" {
		docs = strings.Replace(docs, "job: {template: verify/smoke.yaml, timeout: 10m}", verify, 1)
	}
	e.url = e.git.CreateRepo("manifests", map[string]string{
		".ferry/ferry.yaml":                   r.Replace(docs),
		"overlays/staging/deployment.yaml":    strings.Replace(deployment, "IMAGE", img, 1),
		"overlays/production/deployment.yaml": strings.Replace(deployment, "IMAGE", img, 1),
		"verify/smoke.yaml":                   smokeJob,
	})
	e.gh = githubapi.NewServer(e.git.GitHub())
	t.Cleanup(e.gh.Close)
	e.gh.AddRepo("acme", "manifests")
	if e.forge, err = forge.New(forge.Options{BaseURL: e.gh.BaseURL(), Token: githubapi.DefaultToken}); err != nil {
		t.Fatal(err)
	}
	inv := c.Namespace(t)
	e.syncer, err = deploy.New(c.Config(), deploy.Options{WorkDir: t.TempDir(), Namespace: inv, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.syncer.Close() })
	return e
}

func (e *env) app(name string) deploy.App {
	ns, path := e.staging, "overlays/staging"
	if name == "web-production" {
		ns, path = e.prod, "overlays/production"
	}
	return deploy.App{Name: name, RepoURL: e.url, Branch: "main", Path: path, Namespace: ns, Prune: true}
}

// bump runs the bump cycle and merges its pull request, as people would.
func (e *env) bumpAndMerge() string {
	e.t.Helper()
	reg := registry.New(registry.Options{Limits: registry.Limits{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	res, err := bot.Bump(e.ctx, reg, bot.BumpOptions{URL: e.url, Forge: e.forge, Owner: "acme", Repo: "manifests",
		Author: gitrepo.Signature{Name: "Ferry", Email: "ferry@example.com"}, Now: time.Now()})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Groups) != 1 || res.Groups[0].PullNumber == 0 {
		e.t.Fatalf("bump: %+v", res.Groups)
	}
	return e.merge(res.Groups[0].PullNumber)
}

// merge merges pull request n through the API, as a person's click would.
func (e *env) merge(n int) string {
	e.t.Helper()
	gc, err := github.NewClient(nil).WithAuthToken(githubapi.DefaultToken).WithEnterpriseURLs(e.gh.BaseURL(), e.gh.UploadURL())
	if err != nil {
		e.t.Fatal(err)
	}
	m, _, err := gc.PullRequests.Merge(e.ctx, "acme", "manifests", n, "", nil)
	if err != nil {
		e.t.Fatalf("merging #%d: %v", n, err)
	}
	return m.GetSHA()
}

// sync syncs an app, with the deployment controller stood in for when
// healthy, and reports it to the forge as ferry run does.
func (e *env) sync(name string, healthy bool) deploy.Record {
	e.t.Helper()
	app := e.app(name)
	timeout := 30 * time.Second
	if healthy {
		ctx, cancel := context.WithCancel(e.ctx)
		defer cancel()
		go e.markReady(ctx, app.Namespace)
	} else {
		timeout = 1500 * time.Millisecond
	}
	rec, err := e.syncer.Sync(e.ctx, app, deploy.SyncOptions{Prune: true, Timeout: timeout})
	if err != nil {
		e.t.Fatalf("sync %s: %v", name, err)
	}
	if err := ReportSync(e.ctx, e.forge, "acme", "manifests", rec); err != nil {
		e.t.Fatal(err)
	}
	return rec
}

// markReady marks the Deployment rolled out until ctx ends.
func (e *env) markReady(ctx context.Context, ns string) {
	for ctx.Err() == nil {
		d, err := e.cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration != d.Generation {
			kube.MarkDeploymentReady(ctx, e.cs, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *env) opts(now time.Time) Options {
	return Options{URL: e.url, Forge: e.forge, Owner: "acme", Repo: "manifests", Staging: e.syncer, Kube: e.cs,
		Author: gitrepo.Signature{Name: "Ferry", Email: "ferry@example.com"}, Now: now}
}

func (e *env) promote(now time.Time) Result {
	e.t.Helper()
	res, err := Run(e.ctx, e.opts(now), "web")
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res) != 1 {
		e.t.Fatalf("results: %+v", res)
	}
	return res[0]
}

func (e *env) job(rev string) *batchv1.Job {
	e.t.Helper()
	jobs, err := e.cs.BatchV1().Jobs(e.staging).List(e.ctx, metav1.ListOptions{LabelSelector: LabelRevision + "=" + rev[:12]})
	if err != nil || len(jobs.Items) != 1 {
		e.t.Fatalf("verification jobs of %s: %v %v", rev, jobs, err)
	}
	return &jobs.Items[0]
}

// completeJob and failJob set the status the Job controller would.
func (e *env) completeJob(rev string) {
	e.t.Helper()
	j := e.job(rev)
	now := metav1.Now()
	j.Status.StartTime, j.Status.CompletionTime, j.Status.Succeeded = &now, &now, 1
	j.Status.Conditions = append(j.Status.Conditions, cond("SuccessCriteriaMet", now), cond("Complete", now))
	if _, err := e.cs.BatchV1().Jobs(e.staging).UpdateStatus(e.ctx, j, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) failJob(rev string) {
	e.t.Helper()
	j := e.job(rev)
	now := metav1.Now()
	j.Status.StartTime, j.Status.Failed = &now, 1
	j.Status.Conditions = append(j.Status.Conditions, cond("FailureTarget", now), cond("Failed", now))
	j.Status.Conditions[len(j.Status.Conditions)-1].Reason = "BackoffLimitExceeded"
	j.Status.Conditions[len(j.Status.Conditions)-2].Reason = "BackoffLimitExceeded"
	if _, err := e.cs.BatchV1().Jobs(e.staging).UpdateStatus(e.ctx, j, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func cond(typ string, now metav1.Time) batchv1.JobCondition {
	return batchv1.JobCondition{Type: batchv1.JobConditionType(typ), Status: corev1.ConditionTrue, LastProbeTime: now, LastTransitionTime: now}
}

func (e *env) openPromotionPRs() []githubapi.PR {
	var out []githubapi.PR
	for _, pr := range e.gh.PullRequests("acme", "manifests") {
		if pr.State == "open" && pr.Head == "ferry/promote-web" {
			out = append(out, pr)
		}
	}
	return out
}

func (e *env) liveImage(ns string) string {
	e.t.Helper()
	d, err := e.cs.AppsV1().Deployments(ns).Get(e.ctx, "web", metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

func TestPromotionEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.sync("web-staging", true)
	e.sync("web-production", true)

	// bump → merge → staging sync → health.
	merged := e.bumpAndMerge()
	rec := e.sync("web-staging", true)
	if rec.Revision != merged || rec.Result != deploy.Succeeded {
		t.Fatalf("staging sync: %+v", rec)
	}
	want := e.reg.Host + "/acme/web:1.1.0@" + e.digests["1.1.0"]
	if got := e.liveImage(e.staging); got != want {
		t.Fatalf("staging runs %s, want %s", got, want)
	}

	// Soak: not yet.
	now := time.Now()
	r := e.promote(now)
	if r.Action != "waiting" || r.Revision != merged || gate(r, "soak").State != Pending {
		t.Fatalf("before the soak: %+v", r)
	}
	// Soaked: the verification Job starts, and is waited for.
	now = now.Add(31 * time.Minute)
	r = e.promote(now)
	if r.Action != "waiting" || gate(r, "verification").State != Pending {
		t.Fatalf("verification running: %+v", r)
	}
	j := e.job(merged)
	if j.Labels[LabelPromotion] != "web" || j.Spec.ActiveDeadlineSeconds == nil || *j.Spec.ActiveDeadlineSeconds != 600 {
		t.Errorf("job = %+v", j.ObjectMeta)
	}
	if len(e.openPromotionPRs()) != 0 {
		t.Fatal("a pull request before the verification passed")
	}
	e.completeJob(merged)

	// The promotion PR: production gets exactly staging's image.
	r = e.promote(now)
	if r.Action != "created" || r.PullNumber == 0 || !r.Passed() {
		t.Fatalf("promotion: %+v", r)
	}
	prodFile, err := e.git.ReadFile("manifests", "ferry/promote-web", "overlays/production/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if wantFile := strings.Replace(deployment, "IMAGE", want, 1); prodFile != wantFile {
		t.Errorf("production on the promotion branch:\n%s\nwant (byte-exact):\n%s", prodFile, wantFile)
	}
	prs := e.openPromotionPRs()
	if len(prs) != 1 {
		t.Fatalf("%d promotion pull requests", len(prs))
	}
	pr := prs[0]
	for _, s := range []string{merged, "Healthy since:", "verification: passed", "completed", "```diff", "-          image: " + e.reg.Host + "/acme/web:1.0.0@"} {
		if !strings.Contains(pr.Body, s) {
			t.Errorf("body lacks %q:\n%s", s, pr.Body)
		}
	}
	if !strings.Contains(pr.Title, "web 1.1.0") || len(pr.Labels) != 1 || pr.Labels[0] != "promotion" {
		t.Errorf("title %q labels %v", pr.Title, pr.Labels)
	}
	head, _ := e.git.Head("manifests", "ferry/promote-web")
	if st := e.gh.Statuses("acme", "manifests", head); len(st) != 1 || st[0].Context != StatusContext || st[0].State != "success" {
		t.Errorf("gate status on the PR head: %+v", st)
	}

	// Nothing new: nothing written.
	writes, pushes := e.gh.Writes(), e.git.Pushes("manifests")
	if r = e.promote(now.Add(time.Minute)); r.Action != "unchanged" {
		t.Errorf("second run: %+v", r)
	}
	if e.gh.Writes() != writes || e.git.Pushes("manifests") != pushes {
		t.Errorf("second run wrote: GitHub %d→%d, pushes %d→%d", writes, e.gh.Writes(), pushes, e.git.Pushes("manifests"))
	}

	// merge → production sync → deployment statuses on both commits.
	promoted := e.merge(r.PullNumber)
	rec = e.sync("web-production", true)
	if rec.Revision != promoted || rec.Result != deploy.Succeeded {
		t.Fatalf("production sync: %+v", rec)
	}
	if got := e.liveImage(e.prod); got != want {
		t.Errorf("production runs %s, want %s", got, want)
	}
	deployed := map[string]string{}
	for _, d := range e.gh.Deployments("acme", "manifests") {
		deployed[d.Environment+"@"+d.SHA] = d.Statuses[len(d.Statuses)-1].State
	}
	if deployed["web-staging@"+merged] != "success" || deployed["web-production@"+promoted] != "success" {
		t.Errorf("deployments: %v", deployed)
	}
	// Production runs what staging runs: up to date, the PR is gone.
	e.sync("web-staging", true)
	if r = e.promote(now.Add(2 * time.Hour)); r.Action != "up-to-date" || len(r.Changes) != 0 {
		t.Errorf("after the promotion: %+v", r)
	}

	// A person rolls production back: the promotion is held, not redone.
	e.git.Commit("manifests", "main", "Roll production back: 1.1.0 breaks checkout", map[string]string{
		"overlays/production/deployment.yaml": strings.Replace(deployment, "IMAGE", e.reg.Host+"/acme/web:1.0.0@"+e.digests["1.0.0"], 1),
	})
	r = e.promote(now.Add(3 * time.Hour))
	if r.Action != "up-to-date" || len(r.Holds) != 1 || r.Holds[0].Tag != "1.1.0" || len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0].Why, "rolled back") {
		t.Errorf("after a rollback by hand: %+v", r)
	}
	if n := len(e.openPromotionPRs()); n != 0 {
		t.Errorf("%d promotion pull requests after a rollback by hand", n)
	}
}

func TestPromotionDeclinedIsNotProposedAgain(t *testing.T) {
	e := newEnv(t)
	merged := e.bumpAndMerge()
	e.sync("web-staging", true)
	now := time.Now().Add(time.Hour)
	e.promote(now)
	e.completeJob(merged)
	if r := e.promote(now); r.Action != "created" {
		t.Fatalf("%+v", r)
	}
	if _, err := e.forge.Close(e.ctx, "acme", "manifests", "ferry/promote-web", "not this one", false); err != nil {
		t.Fatal(err)
	}
	r := e.promote(now.Add(time.Minute))
	if r.Action != "declined" || len(e.openPromotionPRs()) != 0 {
		t.Fatalf("after people closed it: %+v", r)
	}
}

func gate(r Result, name string) Gate {
	for _, g := range r.Gates {
		if g.Name == name {
			return g
		}
	}
	return Gate{}
}

func TestPromotionVerificationFailsNoPullRequest(t *testing.T) {
	e := newEnv(t)
	merged := e.bumpAndMerge()
	e.sync("web-staging", true)
	now := time.Now().Add(time.Hour)
	if r := e.promote(now); r.Action != "waiting" {
		t.Fatalf("%+v", r)
	}
	e.failJob(merged)
	r := e.promote(now)
	if r.Action != "blocked" || gate(r, "verification").State != Failed || !strings.Contains(gate(r, "verification").Detail, "BackoffLimitExceeded") {
		t.Fatalf("%+v", r)
	}
	if n := len(e.openPromotionPRs()); n != 0 {
		t.Errorf("%d promotion pull requests after a failed verification", n)
	}
}

func TestPromotionStagingDegradedNoPullRequest(t *testing.T) {
	e := newEnv(t)
	e.bumpAndMerge()
	rec := e.sync("web-staging", false)
	if rec.Result != deploy.Degraded {
		t.Fatalf("staging sync: %+v", rec)
	}
	r := e.promote(time.Now().Add(time.Hour))
	if r.Action != "blocked" || gate(r, "synced").State != Failed || !strings.Contains(gate(r, "synced").Detail, "Degraded") {
		t.Fatalf("%+v", r)
	}
	if n := len(e.openPromotionPRs()); n != 0 {
		t.Errorf("%d promotion pull requests from a degraded staging", n)
	}
	deps := e.gh.Deployments("acme", "manifests")
	if len(deps) != 1 || deps[0].Statuses[0].State != "failure" {
		t.Errorf("deployments: %+v", deps)
	}
}

func TestPromotionNewerVersionUpdatesThePullRequest(t *testing.T) {
	e := newEnv(t)
	first := e.bumpAndMerge()
	e.sync("web-staging", true)
	now := time.Now().Add(time.Hour)
	e.promote(now)
	e.completeJob(first)
	r := e.promote(now)
	if r.Action != "created" {
		t.Fatalf("%+v", r)
	}
	number := r.PullNumber

	// 1.2.0 passes staging: the same PR now proposes it.
	if _, err := e.reg.Seed(e.ctx, "acme/web", "1.2.0"); err != nil {
		t.Fatal(err)
	}
	second := e.bumpAndMerge()
	e.sync("web-staging", true)
	now = now.Add(time.Hour)
	e.promote(now)
	e.completeJob(second)
	r = e.promote(now)
	if r.Action != "updated" || r.PullNumber != number {
		t.Fatalf("newer version: %+v (first PR #%d)", r, number)
	}
	prs := e.openPromotionPRs()
	if len(prs) != 1 || !strings.Contains(prs[0].Title, "1.2.0") || !strings.Contains(prs[0].Body, second) {
		t.Fatalf("pull requests: %+v", prs)
	}

	// 1.3.0 fails in staging: the pending PR is left as it is.
	if _, err := e.reg.Seed(e.ctx, "acme/web", "1.3.0"); err != nil {
		t.Fatal(err)
	}
	e.bumpAndMerge()
	e.sync("web-staging", false)
	head, _ := e.git.Head("manifests", "ferry/promote-web")
	r = e.promote(now.Add(time.Hour))
	if r.Action != "blocked" {
		t.Fatalf("failing version: %+v", r)
	}
	if h, _ := e.git.Head("manifests", "ferry/promote-web"); h != head {
		t.Error("the pending promotion branch moved for a failing version")
	}
	if prs := e.openPromotionPRs(); len(prs) != 1 || !strings.Contains(prs[0].Title, "1.2.0") {
		t.Errorf("pull requests: %+v", prs)
	}
}

func TestPromotionNeverBackwardsAndSkipsRejected(t *testing.T) {
	e := newEnv(t)
	merged := e.bumpAndMerge()
	e.sync("web-staging", true)
	now := time.Now().Add(time.Hour)
	e.promote(now)
	e.completeJob(merged)

	// Someone rejects 1.1.0: staging runs it, but it is not promoted.
	e.git.Commit("manifests", "main", "reject web 1.1.0", map[string]string{
		".ferry/rejections.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: Rejection\nspec:\n  image: " + e.reg.Host + "/acme/web:1.1.0\n  reason: leaks memory\n",
	})
	r := e.promote(now)
	if r.Action != "blocked" || gate(r, "rejected").State != Failed || !strings.Contains(gate(r, "rejected").Detail, "leaks memory") {
		t.Fatalf("rejected version: %+v", r)
	}
	if n := len(e.openPromotionPRs()); n != 0 {
		t.Fatalf("%d pull requests for a rejected version", n)
	}
	e.git.Commit("manifests", "main", "lift", nil, ".ferry/rejections.yaml")

	// Production already runs a newer version: never backwards.
	if _, err := e.reg.Seed(e.ctx, "acme/web", "2.0.0"); err != nil {
		t.Fatal(err)
	}
	d2, _ := registry.New(registry.Options{}).Digest(e.ctx, e.reg.Host+"/acme/web", "2.0.0")
	e.git.Commit("manifests", "main", "production by hand", map[string]string{
		"overlays/production/deployment.yaml": strings.Replace(deployment, "IMAGE", e.reg.Host+"/acme/web:2.0.0@"+d2, 1),
	})
	r = e.promote(now)
	if r.Action != "up-to-date" || len(r.Skipped) != 1 || !strings.Contains(r.Skipped[0].Why, "never promoted backwards") {
		t.Fatalf("production ahead: %+v", r)
	}
	if n := len(e.openPromotionPRs()); n != 0 {
		t.Fatalf("%d pull requests to go backwards", n)
	}
}

func TestPromotionConvergesAfterACrash(t *testing.T) {
	e := newEnv(t)
	merged := e.bumpAndMerge()
	e.sync("web-staging", true)
	now := time.Now().Add(time.Hour)
	// Crash after the Job was created (the run ends before it is read).
	e.promote(now)
	e.promote(now) // finds the same Job, does not start a second
	jobs, err := e.cs.BatchV1().Jobs(e.staging).List(e.ctx, metav1.ListOptions{LabelSelector: LabelPromotion + "=web"})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("jobs: %d %v", len(jobs.Items), err)
	}
	e.completeJob(merged)
	// Crash between the push and the pull request: GitHub fails the create.
	e.gh.FailNext(10, githubapi.Fault{Status: http.StatusBadGateway, Message: "Bad Gateway", Route: githubapi.RouteCreatePull})
	res, err := Run(e.ctx, e.opts(now), "web")
	if err != nil || len(res) != 1 || res[0].Error == "" || !res[0].Pushed && res[0].Action != "error" {
		t.Fatalf("crashed run: %+v %v", res, err)
	}
	if _, ok := e.git.Head("manifests", "ferry/promote-web"); !ok {
		t.Fatal("the branch was not pushed before the failure")
	}
	e.gh.ClearFaults()
	r := e.promote(now)
	if r.Action != "created" || r.Pushed {
		t.Fatalf("after the crash: %+v", r)
	}
	r = e.promote(now)
	if r.Action != "unchanged" || len(e.openPromotionPRs()) != 1 {
		t.Fatalf("third run: %+v, %d PRs", r, len(e.openPromotionPRs()))
	}
}

func TestReportSyncStates(t *testing.T) {
	git := gitserver.New(t)
	git.CreateRepo("manifests", map[string]string{"README.md": "x\n"})
	head, _ := git.Head("manifests", "main")
	gh := githubapi.NewServer(git.GitHub())
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "manifests")
	fc, err := forge.New(forge.Options{BaseURL: gh.BaseURL(), Token: githubapi.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		app  string
		rec  deploy.Record
		want string
	}{
		{"a", deploy.Record{Result: deploy.Succeeded, Objects: []deploy.ObjectResult{{Health: "Current"}}}, "success"},
		{"b", deploy.Record{Result: deploy.Succeeded, Objects: []deploy.ObjectResult{{Health: "InProgress"}}}, "in_progress"},
		{"c", deploy.Record{Result: deploy.Degraded, Reason: "HealthTimeout"}, "failure"},
		{"d", deploy.Record{Result: "Failed", Reason: "RenderFailed"}, "error"},
	} {
		tc.rec.App, tc.rec.Revision = tc.app, head
		if err := ReportSync(ctx, fc, "acme", "manifests", tc.rec); err != nil {
			t.Fatal(err)
		}
		var got string
		for _, d := range gh.Deployments("acme", "manifests") {
			if d.Environment == tc.app {
				got = d.Statuses[len(d.Statuses)-1].State
			}
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.rec.Result, got, tc.want)
		}
	}
	dry := deploy.Record{App: "e", Revision: head, DryRun: true, Result: deploy.Succeeded}
	if err := ReportSync(ctx, fc, "acme", "manifests", dry); err != nil || len(gh.Deployments("acme", "manifests")) != 4 {
		t.Errorf("a dry run was reported: %v", err)
	}
}

func TestPromotionLeftToStagingsCluster(t *testing.T) {
	git := gitserver.New(t)
	r := strings.NewReplacer("HOST", "ghcr.io", "STAGING", "web-staging", "PRODUCTION", "web-production")
	url := git.CreateRepo("manifests", map[string]string{".ferry/ferry.yaml": r.Replace(policies)})
	connect := func(context.Context, deploy.App) (Staging, kubernetes.Interface, func(), error) {
		return nil, nil, nil, ErrElsewhere
	}
	res, err := Run(context.Background(), Options{URL: url, Connect: connect, DryRun: true, Now: time.Now()}, "web-production")
	if err != nil || len(res) != 1 || res[0].Action != "elsewhere" || res[0].Error != "" {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := Run(context.Background(), Options{URL: url, Connect: connect, DryRun: true, Now: time.Now()}, "nope"); !errors.Is(err, ErrNoPromotion) {
		t.Errorf("an unknown promotion: %v", err)
	}
	bare := git.CreateRepo("bare", map[string]string{"README.md": "no .ferry here\n"})
	if res, err := Run(context.Background(), Options{URL: bare, Connect: connect, DryRun: true, Now: time.Now()}, ""); err != nil || len(res) != 0 {
		t.Errorf("a repository without .ferry: %+v %v", res, err)
	}
}

func TestPromotionHTTPCheck(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(int(status.Load())) }))
	t.Cleanup(srv.Close)
	e := newEnvVerify(t, "http: {url: '"+strings.Replace(srv.URL, "http://", "http://probe:pa55word@", 1)+"/healthz?token=s3cret', status: 204}")
	e.bumpAndMerge()
	e.sync("web-staging", true)
	now := time.Now().Add(time.Hour)
	r := e.promote(now)
	if g := gate(r, "verification"); r.Action != "blocked" || g.State != Failed || !strings.Contains(g.Detail, "answered 503, want 204") {
		t.Fatalf("a failing check: %+v", r)
	}
	if n := len(e.openPromotionPRs()); n != 0 {
		t.Fatalf("%d pull requests after a failing check", n)
	}
	status.Store(http.StatusNoContent)
	if r = e.promote(now); r.Action != "created" || gate(r, "verification").State != Passed {
		t.Fatalf("a passing check: %+v", r)
	}
	if pr := e.openPromotionPRs(); len(pr) != 1 || strings.Contains(pr[0].Body, "s3cret") || strings.Contains(pr[0].Body, "pa55word") || !strings.Contains(pr[0].Body, "/healthz answered 204") {
		t.Errorf("the check's credentials in the body, or no result:\n%v", pr)
	}
}

func TestPromotionSoakSpansCommitsThatChangeNothingStagingRuns(t *testing.T) {
	e := newEnv(t)
	merged := e.bumpAndMerge()
	first := e.sync("web-staging", true)
	now := time.Now().Add(time.Hour)
	e.promote(now) // starts the Job
	// A commit that changes nothing staging runs: staging syncs it, the
	// soak goes on and the Job of the version is reused.
	e.git.Commit("manifests", "main", "docs", map[string]string{"README.md": "hello\n"})
	if rec := e.sync("web-staging", true); rec.Revision == merged {
		t.Fatal("staging did not sync the new commit")
	}
	e.completeJob(merged)
	r := e.promote(now)
	if r.Action != "created" || !r.HealthySince.Equal(first.Finished) {
		t.Fatalf("after an unrelated commit: %+v (first sync finished %s)", r, first.Finished)
	}
	jobs, err := e.cs.BatchV1().Jobs(e.staging).List(e.ctx, metav1.ListOptions{LabelSelector: LabelPromotion + "=web"})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("jobs: %d %v", len(jobs.Items), err)
	}
}
