package bot

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	"github.com/ferrygitops/ferry/registry"
)

const bumpPolicies = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: api
spec:
  image: HOST/acme/api
  filterTags:
    pattern: '^release\.(?P<stamp>\d{8})$'
    extract: '$stamp'
  policy:
    date: {layout: '20060102'}
  pullRequest:
    labels: [image-bump]
    reviewers: [alice]
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: web
spec:
  image: HOST/acme/web
  policy:
    semver: {range: '>=1.0.0'}
  pullRequest: {group: frontend}
---
apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: docs
spec:
  image: HOST/acme/docs
  policy:
    semver: {}
  pullRequest: {group: frontend}
`

const bumpDeploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: HOST/acme/api:release.20240101 # the API
`

const bumpFrontend = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: HOST/acme/web:1.0.0
        - name: docs
          image: HOST/acme/docs:0.9.0
`

type bumpEnv struct {
	t     *testing.T
	reg   *ociregistry.Server
	git   *gitserver.Server
	gh    *githubapi.Server
	forge *forge.Client
	url   string
	now   time.Time
}

func newBumpEnv(t *testing.T) *bumpEnv {
	t.Helper()
	ctx := context.Background()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	e := &bumpEnv{t: t, reg: ociregistry.New(), git: gitserver.New(t, gitserver.WithBasicAuth("ferry", "git-secret-123")), now: time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC)}
	t.Cleanup(e.reg.Close)
	for repo, tags := range map[string][]string{
		"acme/api":  {"release.20240101", "release.20240301", "latest"},
		"acme/web":  {"1.0.0", "1.2.0"},
		"acme/docs": {"0.9.0", "1.0.0"},
	} {
		if _, err := e.reg.Seed(ctx, repo, tags...); err != nil {
			t.Fatal(err)
		}
	}
	h := e.reg.Host
	e.url = e.git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(bumpPolicies, "HOST", h),
		"apps/api.yaml":        strings.ReplaceAll(bumpDeploy, "HOST", h),
		"apps/frontend.yaml":   strings.ReplaceAll(bumpFrontend, "HOST", h),
		"README.md":            "manifests\n",
	})
	e.gh = githubapi.NewServer(e.git.GitHub())
	t.Cleanup(e.gh.Close)
	e.gh.AddRepo("acme", "manifests")
	fc, err := forge.New(forge.Options{BaseURL: e.gh.BaseURL(), Token: githubapi.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	e.forge = fc
	return e
}

func (e *bumpEnv) opts() BumpOptions {
	return BumpOptions{
		URL:    e.url,
		Auth:   gitrepo.Auth{Username: "ferry", Token: "git-secret-123"},
		Forge:  e.forge,
		Owner:  "acme",
		Repo:   "manifests",
		Author: gitrepo.Signature{Name: "Ferry", Email: "ferry@example.com"},
		Now:    e.now,
	}
}

func (e *bumpEnv) bump(opts BumpOptions) *BumpResult {
	e.t.Helper()
	reg := registry.New(registry.Options{Limits: registry.Limits{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	res, err := Bump(context.Background(), reg, opts)
	if err != nil {
		e.t.Fatalf("Bump: %v", err)
	}
	return res
}

func group(t *testing.T, res *BumpResult, name string) GroupResult {
	t.Helper()
	for _, g := range res.Groups {
		if g.Group == name {
			return g
		}
	}
	t.Fatalf("no group %q in %+v", name, res.Groups)
	return GroupResult{}
}

func (e *bumpEnv) openPRs() []githubapi.PR {
	var out []githubapi.PR
	for _, pr := range e.gh.PullRequests("acme", "manifests") {
		if pr.State == "open" {
			out = append(out, pr)
		}
	}
	return out
}

func TestBumpOpensOnePullRequestPerGroupAndIsIdempotent(t *testing.T) {
	e := newBumpEnv(t)
	res := e.bump(e.opts())

	api := group(t, res, "api")
	if api.Action != "created" || api.Branch != "ferry/api" || !api.Pushed || api.Error != "" {
		t.Fatalf("api group = %+v", api)
	}
	fe := group(t, res, "frontend")
	if fe.Action != "created" || len(fe.Changes) != 2 || fe.Error != "" {
		t.Fatalf("frontend group = %+v", fe)
	}
	prs := e.openPRs()
	if len(prs) != 2 {
		t.Fatalf("%d open pull requests, want 2", len(prs))
	}
	for _, pr := range prs {
		if pr.Head == "ferry/api" {
			if pr.Title != "Bump api to release.20240301" {
				t.Errorf("title = %q", pr.Title)
			}
			if !strings.Contains(pr.Body, "| `apps/api.yaml:10` |") || !strings.Contains(pr.Body, "`release.20240301`") {
				t.Errorf("body lacks the change table:\n%s", pr.Body)
			}
			if len(pr.Labels) != 1 || pr.Labels[0] != "image-bump" || len(pr.Reviewers) != 1 {
				t.Errorf("labels %v reviewers %v", pr.Labels, pr.Reviewers)
			}
		}
	}
	got, err := e.git.ReadFile("manifests", "ferry/api", "apps/api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(bumpDeploy, "HOST", e.reg.Host), "release.20240101", "release.20240301")
	if got != want {
		t.Errorf("branch content:\n%s\nwant:\n%s", got, want)
	}
	if main, _ := e.git.ReadFile("manifests", "main", "apps/api.yaml"); strings.Contains(main, "20240301") {
		t.Error("the base branch was changed in pull-request mode")
	}
	if w := e.gh.Writes(); w > 8 {
		t.Errorf("%d GitHub writes for 2 pull requests, want at most 4 each", w)
	}

	// Nothing new: no git or GitHub writes at all.
	pushes, writes := e.git.Pushes("manifests"), e.gh.Writes()
	e.now = e.now.Add(time.Hour)
	res = e.bump(e.opts())
	for _, g := range res.Groups {
		if g.Action != "unchanged" || g.Pushed {
			t.Errorf("second run, group %s: action %q pushed %v", g.Group, g.Action, g.Pushed)
		}
	}
	if e.git.Pushes("manifests") != pushes || e.gh.Writes() != writes {
		t.Errorf("second run wrote: pushes %d→%d, GitHub writes %d→%d", pushes, e.git.Pushes("manifests"), writes, e.gh.Writes())
	}

	// A newer tag: the same branch and pull request are updated.
	if _, err := e.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	writes = e.gh.Writes()
	res = e.bump(e.opts())
	api = group(t, res, "api")
	if api.Action != "updated" || !api.Pushed {
		t.Errorf("after a new tag: %+v", api)
	}
	if n := len(e.openPRs()); n != 2 {
		t.Errorf("%d open pull requests, want still 2", n)
	}
	if w := e.gh.Writes() - writes; w < 1 || w > 2 {
		t.Errorf("%d GitHub writes to update one pull request, want 1-2", w)
	}
	if got, _ := e.git.ReadFile("manifests", "ferry/api", "apps/api.yaml"); !strings.Contains(got, "release.20240305") {
		t.Errorf("branch not updated:\n%s", got)
	}
}

func TestBumpClosesPullRequestWhenNoLongerNeeded(t *testing.T) {
	e := newBumpEnv(t)
	e.bump(e.opts())
	// Someone bumps the API by hand on main.
	e.git.Commit("manifests", "main", "bump api by hand", map[string]string{
		"apps/api.yaml": strings.ReplaceAll(strings.ReplaceAll(bumpDeploy, "HOST", e.reg.Host), "release.20240101", "release.20240301"),
	})
	res := e.bump(e.opts())
	if api := group(t, res, "api"); api.Action != "closed" {
		t.Fatalf("api group = %+v", api)
	}
	for _, pr := range e.gh.PullRequests("acme", "manifests") {
		if pr.Head == "ferry/api" && (pr.State != "closed" || len(pr.Comments) == 0) {
			t.Errorf("pull request %d: state %s, %d comments", pr.Number, pr.State, len(pr.Comments))
		}
	}
	if _, ok := e.git.Head("manifests", "ferry/api"); ok {
		t.Error("the closed pull request's branch was not deleted")
	}
}

func TestBumpLeavesBranchAHumanPushedTo(t *testing.T) {
	e := newBumpEnv(t)
	e.bump(e.opts())
	human := e.git.Commit("manifests", "ferry/api", "fix by hand", map[string]string{"NOTES.md": "hi\n"})
	if _, err := e.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	res := e.bump(e.opts())
	api := group(t, res, "api")
	if api.Error == "" || !strings.Contains(api.Error, "did not make") || api.Pushed {
		t.Errorf("api group = %+v, want an error and no push", api)
	}
	if head, _ := e.git.Head("manifests", "ferry/api"); head != human {
		t.Errorf("the human's commit was overwritten")
	}
	if !res.Failed() {
		t.Error("Failed() = false")
	}
}

func TestBumpHoldsARolledBackTag(t *testing.T) {
	e := newBumpEnv(t)
	res := e.bump(e.opts())
	api := group(t, res, "api")
	// The pull request is merged, then rolled back by a person.
	if _, err := e.git.Merge("manifests", "main", "ferry/api", "Merge pull request #1 from acme/ferry/api"); err != nil {
		t.Fatal(err)
	}
	e.git.Commit("manifests", "main", "Revert the API bump: it broke checkout", map[string]string{
		"apps/api.yaml": strings.ReplaceAll(bumpDeploy, "HOST", e.reg.Host),
	})
	if _, err := e.forge.Close(context.Background(), "acme", "manifests", api.Branch, "merged", true); err != nil {
		t.Fatal(err)
	}
	res = e.bump(e.opts())
	api = group(t, res, "api")
	if len(api.Changes) != 0 || api.Action != "up-to-date" || len(api.Holds) != 1 || api.Holds[0].Tag != "release.20240301" {
		t.Fatalf("after rollback: %+v", api)
	}
	var held bool
	for _, p := range res.Scan.Policies {
		for _, r := range p.References {
			held = held || r.Status == StatusHeld
		}
	}
	if !held {
		t.Error("the scan report does not show the reference as held")
	}
	// A newer release is proposed again.
	if _, err := e.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	res = e.bump(e.opts())
	if api = group(t, res, "api"); api.Action != "created" || !strings.Contains(api.Title, "release.20240305") {
		t.Errorf("after a newer release: %+v", api)
	}
}

func TestBumpDryRunWritesNothing(t *testing.T) {
	e := newBumpEnv(t)
	opts := e.opts()
	opts.DryRun = true
	res := e.bump(opts)
	if api := group(t, res, "api"); api.Action != "would-create" || !strings.Contains(api.Diff, "+          image: ") {
		t.Errorf("api group = %+v", api)
	}
	if e.git.Pushes("manifests") != 0 || e.gh.Writes() != 0 {
		t.Errorf("dry run wrote: %d pushes, %d GitHub writes", e.git.Pushes("manifests"), e.gh.Writes())
	}
}

func TestBumpPushMode(t *testing.T) {
	t.Run("straight to the base", func(t *testing.T) {
		e := newBumpEnv(t)
		opts := e.opts()
		opts.Mode, opts.Forge = ModePush, nil
		res := e.bump(opts)
		for _, g := range res.Groups {
			if g.Action != "pushed" {
				t.Errorf("group %s: %+v", g.Group, g)
			}
		}
		if got, _ := e.git.ReadFile("manifests", "main", "apps/api.yaml"); !strings.Contains(got, "release.20240301") {
			t.Errorf("main not updated:\n%s", got)
		}
		res = e.bump(opts)
		for _, g := range res.Groups {
			if g.Action != "up-to-date" || g.Pushed {
				t.Errorf("second run, group %s: %+v", g.Group, g)
			}
		}
	})
	t.Run("protected base", func(t *testing.T) {
		e := newBumpEnv(t)
		e.git.Protect("manifests", "main")
		opts := e.opts()
		opts.Mode, opts.Forge = ModePush, nil
		res := e.bump(opts)
		api := group(t, res, "api")
		if !strings.Contains(api.Error, "rejected") && !strings.Contains(api.Error, "declined") {
			t.Errorf("api group = %+v, want the rejection", api)
		}
		if got, _ := e.git.ReadFile("manifests", "main", "apps/api.yaml"); strings.Contains(got, "release.20240301") {
			t.Error("a protected base was changed")
		}
	})
	t.Run("base moved during the run", func(t *testing.T) {
		e := newBumpEnv(t)
		var once sync.Once
		e.git.OnRequest(func(r gitserver.Request) {
			if r.Service == "git-receive-pack" {
				once.Do(func() {
					e.git.Commit("manifests", "main", "unrelated change", map[string]string{"README.md": "changed\n"})
				})
			}
		})
		opts := e.opts()
		opts.Mode, opts.Forge = ModePush, nil
		res := e.bump(opts)
		if api := group(t, res, "api"); api.Action != "pushed" {
			t.Errorf("api group = %+v", api)
		}
		if got, _ := e.git.ReadFile("manifests", "main", "README.md"); got != "changed\n" {
			t.Error("the concurrent change was lost")
		}
		if got, _ := e.git.ReadFile("manifests", "main", "apps/api.yaml"); !strings.Contains(got, "release.20240301") {
			t.Error("the bump did not land after the retry")
		}
	})
}

// failingForge fails pull-request creation: a crash between push and PR.
type failingForge struct{ *forge.Client }

func (failingForge) Ensure(context.Context, forge.PullRequest) (forge.Result, error) {
	return forge.Result{}, errors.New("killed")
}

func TestBumpRecoversFromACrashBetweenPushAndPullRequest(t *testing.T) {
	e := newBumpEnv(t)
	opts := e.opts()
	opts.Forge = failingForge{e.forge}
	res := e.bump(opts)
	if api := group(t, res, "api"); !api.Pushed || api.Error == "" {
		t.Fatalf("api group = %+v", api)
	}
	pushes := e.git.Pushes("manifests")
	res = e.bump(e.opts())
	if api := group(t, res, "api"); api.Action != "created" || api.Pushed {
		t.Errorf("after the crash: %+v (want the pull request created, no new push)", api)
	}
	if e.git.Pushes("manifests") != pushes {
		t.Error("the branch was pushed again")
	}
	if n := len(e.openPRs()); n != 2 {
		t.Errorf("%d open pull requests, want 2", n)
	}
}

func TestBumpConcurrentRunsOpenOnePullRequest(t *testing.T) {
	e := newBumpEnv(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reg := registry.New(registry.Options{})
			if _, err := Bump(context.Background(), reg, e.opts()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	heads := map[string]int{}
	for _, pr := range e.openPRs() {
		heads[pr.Head]++
	}
	if heads["ferry/api"] != 1 || heads["ferry/frontend"] != 1 || len(heads) != 2 {
		t.Errorf("open pull requests by head: %v, want one each", heads)
	}
}

func TestBumpReusesItsClone(t *testing.T) {
	e := newBumpEnv(t)
	opts := e.opts()
	opts.Dir = t.TempDir() + "/clone"
	e.bump(opts)
	// Upstream moves on; the kept clone must follow it.
	e.git.Commit("manifests", "main", "bump api by hand", map[string]string{
		"apps/api.yaml": strings.ReplaceAll(strings.ReplaceAll(bumpDeploy, "HOST", e.reg.Host), "release.20240101", "release.20240301"),
	})
	res := e.bump(opts)
	if api := group(t, res, "api"); api.Action != "closed" {
		t.Errorf("api group on the reused clone = %+v", api)
	}
	if fe := group(t, res, "frontend"); fe.Action != "unchanged" {
		t.Errorf("frontend group on the reused clone = %+v", fe)
	}
	// A directory holding something else is replaced by a fresh clone.
	other := t.TempDir()
	e.git.CreateRepo("other", map[string]string{"x": "y"})
	if _, err := gitrepo.Clone(context.Background(), e.git.RepoURL("other"), "main", other+"/c", gitrepo.Auth{Username: "ferry", Token: "git-secret-123"}, 1); err != nil {
		t.Fatal(err)
	}
	opts.Dir = other + "/c"
	if res := e.bump(opts); group(t, res, "frontend").Action != "unchanged" {
		t.Errorf("after replacing a foreign clone: %+v", res.Groups)
	}
}

func TestBumpRespectsADeclinedPullRequest(t *testing.T) {
	e := newBumpEnv(t)
	e.bump(e.opts())
	// A person closes the API's pull request without merging it.
	if _, err := e.forge.Close(context.Background(), "acme", "manifests", "ferry/api", "not this one", false); err != nil {
		t.Fatal(err)
	}
	pushes, writes := e.git.Pushes("manifests"), e.gh.Writes()
	res := e.bump(e.opts())
	if api := group(t, res, "api"); api.Action != "declined" || api.PullNumber == 0 {
		t.Fatalf("api group after the close = %+v", api)
	}
	if e.git.Pushes("manifests") != pushes || e.gh.Writes() != writes {
		t.Error("a declined change set was pushed or proposed again")
	}
	// A newer release is a new question.
	if _, err := e.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	res = e.bump(e.opts())
	if api := group(t, res, "api"); api.Action != "created" || !strings.Contains(api.Title, "release.20240305") {
		t.Errorf("after a newer release: %+v", api)
	}
}

// A GitHub App alone: its installation token authenticates the API and,
// with no git credentials given, the clone and the pushes too.
func TestBumpWithAGitHubAppOnly(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	e := newBumpEnv(t)
	var gh *githubapi.Server
	git := gitserver.New(t, gitserver.WithAuthFunc(func(u, p string) bool { return gh.ValidGitCredentials(u, p) }))
	gh = githubapi.NewServer(git.GitHub(), githubapi.WithApp(githubapi.App{ID: 42, InstallationID: 7, PublicKey: &key.PublicKey}))
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "manifests")
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(bumpPolicies, "HOST", e.reg.Host),
		"apps/api.yaml":        strings.ReplaceAll(bumpDeploy, "HOST", e.reg.Host),
	})
	fc, err := forge.New(forge.Options{BaseURL: gh.BaseURL(), App: &forge.AppAuth{AppID: 42, InstallationID: 7, PrivateKeyPEM: keyPEM}})
	if err != nil {
		t.Fatal(err)
	}
	opts := e.opts()
	opts.URL, opts.Forge, opts.Auth = url, fc, gitrepo.Auth{}
	res := e.bump(opts)
	if api := group(t, res, "api"); api.Action != "created" || !api.Pushed {
		t.Fatalf("api group = %+v", api)
	}
	if prs := gh.PullRequests("acme", "manifests"); len(prs) != 1 || prs[0].User != "ferry[bot]" {
		t.Errorf("pull requests = %+v", prs)
	}
}
