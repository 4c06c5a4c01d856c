package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/internal/scratch"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
)

func init() { revertPRHook = openRevertPR }

// openRevertPR is `ferry rollback APP --pr`: instead of rolling the cluster
// back, it commits the app's files as they were at the target revision on
// the branch ferry/revert-APP and opens (or updates) a pull request, so git
// stays the source of truth and the normal sync applies the merge.
// Credentials: GITHUB_TOKEN (the API, and git over HTTPS), and
// FERRY_GITHUB_URL for GitHub Enterprise and FERRY_GITHUB_REPO (OWNER/NAME)
// when the clone URL does not say, like bump's --github-url and --github-repo.
func openRevertPR(ctx context.Context, req deploy.RevertRequest) (string, error) {
	token := os.Getenv("GITHUB_TOKEN")
	if token == "" {
		return "", fmt.Errorf("opening a revert pull request needs GITHUB_TOKEN")
	}
	owner, name, err := forge.ParseRepoURL(req.App.RepoURL)
	if r := os.Getenv("FERRY_GITHUB_REPO"); r != "" {
		var ok bool
		owner, name, ok = strings.Cut(r, "/")
		if !ok || owner == "" || name == "" {
			return "", fmt.Errorf("FERRY_GITHUB_REPO %q: want OWNER/NAME", r)
		}
		err = nil
	}
	if err != nil {
		return "", fmt.Errorf("%w (or set FERRY_GITHUB_REPO)", err)
	}
	fc, err := forge.New(forge.Options{BaseURL: os.Getenv("FERRY_GITHUB_URL"), Token: token})
	if err != nil {
		return "", err
	}
	tmpDir, err := scratch.New("ferry-revert-")
	if err != nil {
		return "", err
	}
	defer tmpDir.Close()
	tmp := tmpDir.Path
	repo, err := gitrepo.Clone(ctx, req.App.RepoURL, req.App.Branch, filepath.Join(tmp, "repo"), gitrepo.Auth{Username: gitrepo.DefaultUsername, Token: token}, 1)
	if err != nil {
		return "", err
	}
	var files []string
	for f, data := range req.Files {
		p := filepath.Join(repo.Dir(), filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", err
		}
		files = append(files, f)
	}
	for _, f := range req.Deleted {
		if err := os.Remove(filepath.Join(repo.Dir(), filepath.FromSlash(f))); err != nil && !os.IsNotExist(err) {
			return "", err
		}
		files = append(files, f)
	}
	sort.Strings(files)
	commit, err := repo.Commit(ctx, files, req.Title+"\n\n"+req.Body, gitrepo.Signature{Name: bot.DefaultAuthorName, Email: bot.DefaultAuthorEmail, When: time.Now()}, nil)
	if err != nil {
		return "", err
	}
	branch := "ferry/revert-" + req.App.Name
	head, exists, err := repo.RemoteHead(ctx, branch)
	if err != nil {
		return "", err
	}
	lease := gitrepo.Lease{MustNotExist: true}
	if exists {
		lease = gitrepo.Lease{Expect: head}
	}
	if err := repo.Push(ctx, commit, branch, lease); err != nil {
		return "", err
	}
	res, err := fc.Ensure(ctx, forge.PullRequest{Owner: owner, Repo: name, Base: req.App.Branch, Head: branch, Title: req.Title, Body: req.Body})
	if err != nil {
		return "", err
	}
	return res.URL, nil
}
