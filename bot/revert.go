package bot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/scratch"
)

// RevertPR is a pull request that restores an app's files as they were at
// an earlier revision (`ferry rollback APP --pr`).
type RevertPR struct {
	// RepoURL and Branch are the app's repository and the pull request's
	// base.
	RepoURL, Branch string
	// App names the app; the pull request's branch is ferry/revert-APP.
	App string
	// Files maps slash-separated paths to their restored content;
	// Deleted lists the paths to remove.
	Files   map[string][]byte
	Deleted []string
	// Title and Body are the commit message's and the pull request's.
	Title, Body string
}

// OpenRevertPR commits pr's files on the branch ferry/revert-APP (forcing
// it only over its own earlier head) and opens or updates its pull
// request, so git stays the source of truth and the normal sync applies
// the merge. It returns the pull request's URL. getenv gives the
// credentials: GITHUB_TOKEN (the API, and git over HTTPS), and
// FERRY_GITHUB_URL for GitHub Enterprise and FERRY_GITHUB_REPO (OWNER/NAME)
// when the clone URL does not say, like bump's --github-url and
// --github-repo.
func OpenRevertPR(ctx context.Context, pr RevertPR, getenv func(string) string) (string, error) {
	token := getenv("GITHUB_TOKEN")
	if token == "" {
		return "", fmt.Errorf("opening a revert pull request needs GITHUB_TOKEN")
	}
	owner, name, err := forge.ParseRepoURL(pr.RepoURL)
	if r := getenv("FERRY_GITHUB_REPO"); r != "" {
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
	fc, err := forge.New(forge.Options{BaseURL: getenv("FERRY_GITHUB_URL"), Token: token})
	if err != nil {
		return "", err
	}
	tmpDir, err := scratch.New("ferry-revert-")
	if err != nil {
		return "", err
	}
	defer tmpDir.Close()
	repo, err := gitrepo.Clone(ctx, pr.RepoURL, pr.Branch, filepath.Join(tmpDir.Path, "repo"), gitrepo.Auth{Username: gitrepo.DefaultUsername, Token: token}, 1)
	if err != nil {
		return "", err
	}
	var files []string
	for f, data := range pr.Files {
		p := filepath.Join(repo.Dir(), filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", err
		}
		files = append(files, f)
	}
	for _, f := range pr.Deleted {
		if err := os.Remove(filepath.Join(repo.Dir(), filepath.FromSlash(f))); err != nil && !os.IsNotExist(err) {
			return "", err
		}
		files = append(files, f)
	}
	sort.Strings(files)
	commit, err := repo.Commit(ctx, files, pr.Title+"\n\n"+pr.Body, gitrepo.Signature{Name: DefaultAuthorName, Email: DefaultAuthorEmail, When: time.Now()}, nil)
	if err != nil {
		return "", err
	}
	branch := "ferry/revert-" + pr.App
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
	res, err := fc.Ensure(ctx, forge.PullRequest{Owner: owner, Repo: name, Base: pr.Branch, Head: branch, Title: pr.Title, Body: pr.Body})
	if err != nil {
		return "", err
	}
	return res.URL, nil
}
