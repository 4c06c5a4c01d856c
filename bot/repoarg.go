package bot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/scratch"
	"github.com/ferrygitops/ferry/registry"
)

// A manifest repository is given as a local directory or a clone URL.
// Jobs that read a working tree (Scan) clone a URL first; jobs that clone
// (Bump, and sync's) take a local directory as its file:// URL.

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:`)

// IsRemote reports whether repo is a clone URL rather than a directory.
func IsRemote(repo string) bool {
	return strings.Contains(repo, "://") || scpLike.MatchString(repo)
}

// CloneURL returns repo as a clone URL: itself, or a local git
// repository's file:// URL. A directory that is not there, or not a git
// repository, is a *NotFoundError.
func CloneURL(repo string) (string, error) {
	if repo == "" || IsRemote(repo) {
		return repo, nil
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return "", err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", &NotFoundError{What: "repository", Path: repo, Err: err}
	}
	if !info.IsDir() {
		return "", &NotFoundError{What: "repository", Path: repo, Err: fmt.Errorf("not a directory")}
	}
	if _, err := os.Stat(filepath.Join(abs, ".git")); err != nil {
		return "", &NotFoundError{What: "repository", Path: repo, Err: fmt.Errorf("not a git repository (no .git); give its clone URL, or run git init")}
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// CountCalls records the registry calls a scan made, total, and, when a
// policy verifies signatures, how many of them were for signatures.
func (r *Report) CountCalls(total registry.HostStats) {
	r.Stats = &total
	for _, p := range r.Policies {
		if p.Verify != nil {
			n := r.SignatureRequests()
			r.SignatureCalls = &n
			break
		}
	}
}

// ScanURL scans branch of the repository at url: a shallow clone, in a
// temporary directory removed after. opts.Repo is ignored; the Report
// names url, redacted.
func ScanURL(ctx context.Context, reg Registry, url, branch string, auth gitrepo.Auth, opts ScanOptions) (*Report, error) {
	tmp, err := scratch.New("ferry-scan-")
	if err != nil {
		return nil, err
	}
	defer tmp.Close()
	if _, err := gitrepo.Clone(ctx, url, branch, tmp.Path, auth, 1); err != nil {
		return nil, err
	}
	opts.Repo = tmp.Path
	rep, err := Scan(ctx, reg, opts)
	if err != nil {
		return nil, err
	}
	rep.Repo = gitrepo.RedactURL(url)
	return rep, nil
}
