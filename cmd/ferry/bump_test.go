package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

func TestBumpCommand(t *testing.T) {
	reg := seededRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(releasePolicy, "HOST", reg.Host),
		".ferry/config.yaml": `apiVersion: ferry.dev/v1alpha1
kind: Config
spec:
  pullRequest: {labels: [deps]}
  commit: {authorName: Release Bot, authorEmail: bot@acme.example}
`,
		"apps/api/deploy.yaml": strings.ReplaceAll(deployment, "HOST", reg.Host),
	})
	gh := newGitHub(t, git)
	t.Setenv("GITHUB_TOKEN", githubapi.DefaultToken)

	args := []string{"bump", "--repo", url, "--github-url", gh.BaseURL(), "--github-repo", "acme/manifests", "-o", "json"}
	code, out, errs := run(t, append(args, "--dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, errs)
	}
	if gh.Writes() != 0 || git.Pushes("manifests") != 0 {
		t.Fatal("the dry run wrote")
	}
	code, out, errs = run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	var res bot.BumpResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Groups) != 2 || res.Groups[0].Action != "created" || res.Groups[1].Action != "created" {
		t.Fatalf("groups = %+v", res.Groups)
	}
	prs := gh.PullRequests("acme", "manifests")
	if len(prs) != 2 || len(prs[0].Labels) != 1 || prs[0].Labels[0] != "deps" {
		t.Errorf("pull requests = %+v", prs)
	}
	head, _ := git.Head("manifests", "ferry/api")
	if author, _ := git.Git("manifests", "log", "-1", "--format=%an <%ae>", head); strings.TrimSpace(author) != "Release Bot <bot@acme.example>" {
		t.Errorf("commit author = %q, want the one from .ferry/config.yaml", author)
	}
	if strings.Contains(errs, githubapi.DefaultToken) || strings.Contains(out, githubapi.DefaultToken) {
		t.Error("the token appears in the output")
	}

	t.Run("usage errors are exit 2", func(t *testing.T) {
		if code, _, _ := run(t, "bump"); code != 2 {
			t.Errorf("no --repo: exit %d", code)
		}
		if code, _, _ := run(t, "bump", "--repo", url, "--mode", "yolo"); code != 2 {
			t.Errorf("bad mode: exit %d", code)
		}
		t.Setenv("GITHUB_TOKEN", "")
		if code, _, errs := run(t, "bump", "--repo", url, "--github-repo", "acme/manifests"); code != 2 || !strings.Contains(errs, "GITHUB_TOKEN") {
			t.Errorf("no credentials: exit %d: %s", code, errs)
		}
	})
}
