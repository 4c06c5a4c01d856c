package promote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

func TestRejectByPullRequestThenUndoByPush(t *testing.T) {
	ctx := context.Background()
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{".ferry/policies.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: Config\nspec: {pullRequest: {labels: [ops]}}\n"})
	gh := githubapi.NewServer(git.GitHub())
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "manifests")
	fc, err := forge.New(forge.Options{BaseURL: gh.BaseURL(), Token: githubapi.DefaultToken})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	opts := RejectOptions{URL: url, Forge: fc, Owner: "acme", Repo: "manifests", Author: gitrepo.Signature{Name: "Ferry", Email: "ferry@example.com"}, Now: now}

	res, err := Reject(ctx, opts, "ghcr.io/acme/web:1.1.0", "leaks memory", "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != "created" || res.Branch != "ferry/reject-1.1.0" || res.PullNumber == 0 {
		t.Fatalf("%+v", res)
	}
	data, err := git.ReadFile("manifests", res.Branch, dotferry.RejectionsFile)
	if err != nil {
		t.Fatal(err)
	}
	set, err := dotferry.Parse(dotferry.RejectionsFile, []byte(data))
	if err != nil || len(set.Rejections) != 1 {
		t.Fatalf("%v\n%s", err, data)
	}
	if r := set.Rejections[0]; r.Image != "ghcr.io/acme/web" || r.Tag != "1.1.0" || r.Reason != "leaks memory" || r.By != "alice" || r.At != "2026-12-05T06:00:00Z" {
		t.Errorf("rejection = %+v", r)
	}
	pr, _ := gh.PullRequest("acme", "manifests", res.PullNumber)
	if !strings.Contains(pr.Body, "leaks memory") || len(pr.Labels) != 1 || pr.Labels[0] != "ops" {
		t.Errorf("pull request: %+v", pr)
	}
	// Again: the same pull request, no new one.
	if res, err = Reject(ctx, opts, "ghcr.io/acme/web:1.1.0", "leaks memory", "alice", false); err != nil || res.Action != "unchanged" {
		t.Fatalf("again: %+v %v", res, err)
	}
	if _, err := git.Merge("manifests", "main", res.Branch, "Merge pull request #1 from acme/ferry/reject-1.1.0"); err != nil {
		t.Fatal(err)
	}
	if res, err = Reject(ctx, opts, "ghcr.io/acme/web:1.1.0", "still bad", "", false); err != nil || res.Action != "already" {
		t.Fatalf("already rejected: %+v %v", res, err)
	}
	// A digest, straight to main.
	opts.Mode = bot.ModePush
	digest := "ghcr.io/acme/web@sha256:" + strings.Repeat("ab", 32)
	if res, err = Reject(ctx, opts, digest, "CVE-2026-1", "", false); err != nil || res.Action != "pushed" {
		t.Fatalf("digest: %+v %v", res, err)
	}
	// Undo the tag by push: the digest stays.
	if res, err = Reject(ctx, opts, "ghcr.io/acme/web:1.1.0", "", "", true); err != nil || res.Action != "pushed" {
		t.Fatalf("undo: %+v %v", res, err)
	}
	data, _ = git.ReadFile("manifests", "main", dotferry.RejectionsFile)
	if set, err = dotferry.Parse(dotferry.RejectionsFile, []byte(data)); err != nil || len(set.Rejections) != 1 || set.Rejections[0].Digest == "" {
		t.Fatalf("after undo: %v\n%s", err, data)
	}
	if _, err = Reject(ctx, opts, "ghcr.io/acme/web:1.1.0", "", "", true); !errors.Is(err, ErrNotRejected) {
		t.Errorf("undo of a version not rejected: %v", err)
	}
	for _, bad := range []string{"ghcr.io/acme/web", "ghcr.io/acme/web:1.0"} {
		reason := "x"
		if bad == "ghcr.io/acme/web:1.0" {
			reason = " "
		}
		if _, err := Reject(ctx, opts, bad, reason, "", false); err == nil {
			t.Errorf("%q %q: no error", bad, reason)
		}
	}
}
