package service

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A GitHub push triggers only the repository it names, and only for that
// repository's base branch: the second repository's branch is release.
func TestGitHubPushMatchedToItsRepositoryAndBranch(t *testing.T) {
	f := newFixture(t)
	files := map[string]string{".ferry/policies.yaml": apiPolicy, "apps/api/deploy.yaml": apiDeployment}
	f.repo("one", files)
	f.repo("two", files)
	f.git.Commit("two", "release", "the release branch", f.host(files))
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s, %s]
webhooks: {githubSecretFile: %s}
`, f.pullRepo("one", "main"), f.pullRepo("two", "release"), f.file("gh-secret", "hook-secret")), Options{})
	r.waitReady()
	for _, repo := range []string{"one", "two"} {
		if !f.branchHas(repo, "ferry/api", "apps/api/deploy.yaml", "release.20240301") {
			t.Fatalf("%s: the first cycle did not bump", repo)
		}
	}
	if _, err := f.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	head, _ := f.git.Head("two", "release")

	// Pushes no configured repository and branch matches trigger nothing.
	for _, c := range []struct{ repo, branch string }{{"acme/other", "main"}, {"acme/one", "release"}, {"acme/two", "main"}} {
		if code := r.githubPush("hook-secret", c.repo, c.branch, head); code != http.StatusAccepted {
			t.Errorf("push to %s %s: %d, want 202 (ignored)", c.repo, c.branch, code)
		}
	}
	time.Sleep(4 * time.Second) // a triggered cycle would have run by now
	for _, repo := range []string{"one", "two"} {
		if f.branchHas(repo, "ferry/api", "apps/api/deploy.yaml", "release.20240305") {
			t.Errorf("%s was bumped by a push that matches no configured repository and branch", repo)
		}
	}

	if code := r.githubPush("hook-secret", "acme/two", "release", head); code != http.StatusOK {
		t.Fatalf("push to acme/two release: %d, want 200", code)
	}
	waitFor(t, "acme/two to be bumped", func() bool {
		return f.branchHas("two", "ferry/api", "apps/api/deploy.yaml", "release.20240305")
	})
	time.Sleep(2 * time.Second)
	if f.branchHas("one", "ferry/api", "apps/api/deploy.yaml", "release.20240305") {
		t.Error("a push to acme/two bumped acme/one too")
	}
}

// An image push is checked against the policies of every repository: the
// first repository governs acme/api, the second acme/web.
func TestImageWebhookCheckedAgainstEveryRepository(t *testing.T) {
	f := newFixture(t)
	f.repo("one", map[string]string{".ferry/policies.yaml": apiPolicy, "apps/api/deploy.yaml": apiDeployment})
	f.repo("two", map[string]string{".ferry/policies.yaml": webPolicy, "apps/web/deploy.yaml": webDeployment})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s, %s]
webhooks: {registryTokenFile: %s}
`, f.pullRepo("one", "main"), f.pullRepo("two", "main"), f.file("reg-token", "reg-secret")), Options{})
	r.waitReady()

	if code := r.registryPush("reg-secret", f.reg.Host, "acme/unrelated", "1.0.0"); code/100 != 2 {
		t.Errorf("unrelated push: %d", code)
	}
	waitFor(t, "the unrelated push to be reported as ignored", func() bool {
		return strings.Contains(r.status(), "no policy governs that image")
	})

	if _, err := f.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	if code := r.registryPush("reg-secret", f.reg.Host, "acme/api", "release.20240305"); code != http.StatusOK {
		t.Fatalf("push of acme/api: %d", code)
	}
	waitFor(t, "acme/one to follow the pushed acme/api tag", func() bool {
		return f.branchHas("one", "ferry/api", "apps/api/deploy.yaml", "release.20240305")
	})
	if strings.Count(r.status(), "no policy governs that image") != 1 {
		t.Errorf("a governed push was reported as ignored: %.800s", r.status())
	}
}

// A merged pull request is recognised from the repository's own bot branch
// template (.ferry/config.yaml spec.branch), not from a fixed ferry/ prefix.
func TestMergeWebhookWithCustomBranchTemplate(t *testing.T) {
	f := newFixture(t)
	f.repo("one", map[string]string{
		".ferry/policies.yaml": apiPolicy,
		".ferry/config.yaml":   "apiVersion: ferry.dev/v1alpha1\nkind: Config\nspec: {branch: 'deps/{{group}}'}\n",
		"apps/api/deploy.yaml": apiDeployment,
	})
	r := f.start(fmt.Sprintf(`kind: RunConfig
listen: LISTEN
schedule: {interval: 1h, jitter: 0s}
repos: [%s]
webhooks: {githubSecretFile: %s}
`, f.pullRepo("one", "main"), f.file("gh-secret", "hook-secret")), Options{})
	r.waitReady()
	if !f.branchHas("one", "deps/api", "apps/api/deploy.yaml", "release.20240301") {
		t.Fatal("the first cycle did not push deps/api")
	}
	if _, err := f.reg.Seed(context.Background(), "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	if code := r.githubMerged("hook-secret", "acme/one", "feature/x", "main", 7); code != http.StatusAccepted {
		t.Errorf("a merged pull request from a person's branch: %d, want 202 (ignored)", code)
	}
	if code := r.githubMerged("hook-secret", "acme/one", "deps/api", "main", 1); code != http.StatusOK {
		t.Fatalf("a merged pull request from deps/api: %d, want 200", code)
	}
	waitFor(t, "the cycle the merge triggered", func() bool {
		return f.branchHas("one", "deps/api", "apps/api/deploy.yaml", "release.20240305")
	})
}
