package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const remoteName = "origin"

// ErrBranchNotFound is returned (wrapped) when a branch does not exist on
// the remote.
var ErrBranchNotFound = errors.New("branch not found")

// Repo is a clone of one branch of a remote repository: the base branch.
// It is not safe for concurrent use.
type Repo struct {
	dir      string
	branch   string
	depth    int
	remote   *remote
	repo     *git.Repository
	baseHead plumbing.Hash
}

// Clone clones branch of the repository at rawURL into dir, which must be
// empty or not exist, and checks it out. Only that branch is fetched, and no
// tags. depth > 0 makes a shallow clone of that many commits (on every
// transport go-git supports it on: http(s), ssh and file).
//
// Credentials come from auth, else from the URL's userinfo; either way the
// URL stored in dir/.git/config has no password (and, for http(s), no
// userinfo at all), and credentials are only ever sent per operation.
func Clone(ctx context.Context, rawURL, branch, dir string, auth Auth, depth int) (*Repo, error) {
	rem, err := newRemote(rawURL, auth)
	if err != nil {
		return nil, err
	}
	if err := validBranch(branch); err != nil {
		return nil, fmt.Errorf("cloning %s: %w", rem.url, err)
	}
	if depth < 0 {
		return nil, fmt.Errorf("cloning branch %s of %s: negative depth %d", branch, rem.url, depth)
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("cloning branch %s of %s: %w", branch, rem.url, err)
	case len(entries) > 0:
		return nil, fmt.Errorf("cloning branch %s of %s: directory %s is not empty", branch, rem.url, dir)
	}
	repo, err := git.PlainCloneContext(ctx, dir, false, &git.CloneOptions{
		URL:           rem.url,
		Auth:          rem.method,
		RemoteName:    remoteName,
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
		Depth:         depth,
		Tags:          git.NoTags,
	})
	if err != nil {
		if errors.Is(err, git.NoMatchingRefSpecError{}) || errors.Is(err, plumbing.ErrReferenceNotFound) {
			err = fmt.Errorf("%w: %w", ErrBranchNotFound, err)
		}
		return nil, fmt.Errorf("cloning branch %s of %s: %w", branch, rem.url, rem.fail(err))
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("cloning branch %s of %s: %w", branch, rem.url, err)
	}
	return &Repo{dir: dir, branch: branch, depth: depth, remote: rem, repo: repo, baseHead: ref.Hash()}, nil
}

// Dir is the directory of the working tree.
func (r *Repo) Dir() string { return r.dir }

// Branch is the base branch.
func (r *Repo) Branch() string { return r.branch }

// URL is the remote's URL without credentials.
func (r *Repo) URL() string { return r.remote.url }

// BaseHead is the commit of the base branch as last fetched (by Clone or
// Refresh). Commit builds on it.
func (r *Repo) BaseHead() plumbing.Hash { return r.baseHead }

// Shallow reports whether the clone's history is truncated.
func (r *Repo) Shallow() (bool, error) {
	s, err := r.repo.Storer.Shallow()
	return len(s) > 0, err
}

// RemoteHead returns the commit branch points at on the remote, without
// fetching (git ls-remote); ok is false if the branch does not exist.
func (r *Repo) RemoteHead(ctx context.Context, branch string) (plumbing.Hash, bool, error) {
	if err := validBranch(branch); err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("listing branch of %s: %w", r.remote.url, err)
	}
	h, ok, err := r.lsRemote(ctx, branch)
	if err != nil {
		return plumbing.ZeroHash, false, fmt.Errorf("listing branch %s of %s: %w", branch, r.remote.url, err)
	}
	return h, ok, nil
}

func (r *Repo) lsRemote(ctx context.Context, branch string) (plumbing.Hash, bool, error) {
	rem, err := r.repo.Remote(remoteName)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.remote.method})
	if err != nil {
		return plumbing.ZeroHash, false, r.remote.fail(err)
	}
	name := plumbing.NewBranchReferenceName(branch)
	for _, ref := range refs {
		if ref.Name() == name && ref.Type() == plumbing.HashReference {
			return ref.Hash(), true, nil
		}
	}
	return plumbing.ZeroHash, false, nil
}

// FetchBranch fetches branch from the remote (as deep as the clone, if
// shallow) into the remote-tracking ref refs/remotes/origin/<branch> and
// returns its head. The error wraps ErrBranchNotFound when the branch does
// not exist.
func (r *Repo) FetchBranch(ctx context.Context, branch string) (plumbing.Hash, error) {
	if err := validBranch(branch); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetching from %s: %w", r.remote.url, err)
	}
	h, err := r.fetch(ctx, branch, r.depth)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetching branch %s of %s: %w", branch, r.remote.url, err)
	}
	return h, nil
}

func trackingRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, branch)
}

// fetch fetches branch into its remote-tracking ref and returns its head.
func (r *Repo) fetch(ctx context.Context, branch string, depth int) (plumbing.Hash, error) {
	spec := config.RefSpec("+" + plumbing.NewBranchReferenceName(branch).String() + ":" + trackingRef(branch).String())
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.remote.method,
		Depth:      depth,
		Tags:       git.NoTags,
		Force:      true,
	})
	if errors.Is(err, git.NoMatchingRefSpecError{}) {
		_ = r.repo.Storer.RemoveReference(trackingRef(branch)) // stale
		return plumbing.ZeroHash, fmt.Errorf("%w: %w", ErrBranchNotFound, err)
	}
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return plumbing.ZeroHash, r.remote.fail(err)
	}
	ref, err := r.repo.Storer.Reference(trackingRef(branch))
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}

// Refresh fetches the base branch again, moves BaseHead to its head and
// resets the working tree to it: a hard reset that also deletes every file
// the base tree does not have (ignored ones too). Use it to retry after the
// base moved.
func (r *Repo) Refresh(ctx context.Context) error {
	h, err := r.fetch(ctx, r.branch, r.depth)
	if err != nil {
		return fmt.Errorf("refreshing branch %s of %s: %w", r.branch, r.remote.url, err)
	}
	if err := r.resetTo(h); err != nil {
		return fmt.Errorf("refreshing branch %s of %s: resetting the working tree to %s: %w", r.branch, r.remote.url, h, err)
	}
	r.baseHead = h
	return nil
}

func (r *Repo) resetTo(h plumbing.Hash) error {
	wt, err := r.repo.Worktree()
	if err != nil {
		return err
	}
	// Reset moves the branch HEAD points at (the base branch).
	if err := wt.Reset(&git.ResetOptions{Commit: h, Mode: git.HardReset}); err != nil {
		return err
	}
	commit, err := r.repo.CommitObject(h)
	if err != nil {
		return err
	}
	tree, err := commit.Tree()
	if err != nil {
		return err
	}
	return cleanWorktree(r.dir, tree, true)
}

// cleanWorktree removes every file and directory under dir that tree does
// not hold, except the root's .git.
func cleanWorktree(dir string, tree *object.Tree, root bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if root && name == git.GitDirName {
			continue
		}
		p := filepath.Join(dir, name)
		te, err := tree.FindEntry(name)
		if err != nil {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			continue
		}
		if te.Mode == filemode.Dir && e.IsDir() {
			sub, err := tree.Tree(name)
			if err != nil {
				return err
			}
			if err := cleanWorktree(p, sub, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tree returns the hash of commit's tree: two commits with the same tree
// have the same content.
func (r *Repo) Tree(commit plumbing.Hash) (plumbing.Hash, error) {
	c, err := r.repo.CommitObject(commit)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	return c.TreeHash, nil
}

// ReadFileAt returns the content of path (slash-separated, relative to the
// root) at commit; the error wraps fs.ErrNotExist if the file does not
// exist there.
func (r *Repo) ReadFileAt(commit plumbing.Hash, path string) ([]byte, error) {
	c, err := r.repo.CommitObject(commit)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", path, commit, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", path, commit, err)
	}
	data, _, err := readBlobAt(tree, path)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", path, commit, err)
	}
	return data, nil
}

// readBlobAt returns the content and blob hash of path in tree.
func readBlobAt(tree *object.Tree, path string) ([]byte, plumbing.Hash, error) {
	f, err := tree.File(path)
	if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, plumbing.ZeroHash, fs.ErrNotExist
	}
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	data, err := ReadBlob(f)
	return data, f.Hash, err
}

// ReadBlob returns the content of a file of a git tree.
func ReadBlob(f *object.File) ([]byte, error) {
	rd, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// CommitInfo describes a commit.
type CommitInfo struct {
	Hash      plumbing.Hash
	Tree      plumbing.Hash
	Parents   []plumbing.Hash
	Author    Signature
	Committer Signature
	Message   string
	// Signature is the commit's armored OpenPGP or SSH signature, if any
	// (not verified).
	Signature string
}

// CommitInfo reads a commit the clone has (BaseHead, a fetched branch's
// head, a commit made with Commit...).
func (r *Repo) CommitInfo(commit plumbing.Hash) (CommitInfo, error) {
	c, err := r.repo.CommitObject(commit)
	if err != nil {
		return CommitInfo{}, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	return commitInfo(c), nil
}

func commitInfo(c *object.Commit) CommitInfo {
	return CommitInfo{
		Hash:      c.Hash,
		Tree:      c.TreeHash,
		Parents:   append([]plumbing.Hash(nil), c.ParentHashes...),
		Author:    Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
		Committer: Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
		Message:   c.Message,
		Signature: c.PGPSignature,
	}
}

// validBranch rejects names that are not valid branch names (per git
// check-ref-format, roughly) or that are given as full ref names.
func validBranch(b string) error {
	bad := b == "" || b == "@" || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") ||
		strings.HasSuffix(b, "/") || strings.HasSuffix(b, ".") || strings.HasSuffix(b, ".lock") ||
		strings.Contains(b, "..") || strings.Contains(b, "//") || strings.Contains(b, "@{") ||
		strings.HasPrefix(b, "refs/")
	for _, c := range b {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			bad = true
		}
	}
	for seg := range strings.SplitSeq(b, "/") {
		if strings.HasPrefix(seg, ".") {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("invalid branch name %q", b)
	}
	return nil
}

// Open reuses a clone that Clone made earlier in dir (a long-running Ferry
// keeps its clone between cycles): it checks that the clone is of the same
// URL and branch, then Refreshes it, so only what changed upstream is
// fetched and rewritten. A dir that is not such a clone is an error.
func Open(ctx context.Context, rawURL, branch, dir string, auth Auth, depth int) (*Repo, error) {
	rem, err := newRemote(rawURL, auth)
	if err != nil {
		return nil, err
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the clone in %s: %w", dir, err)
	}
	cfg, err := repo.Remote(remoteName)
	if err != nil {
		return nil, fmt.Errorf("opening the clone in %s: %w", dir, err)
	}
	if urls := cfg.Config().URLs; len(urls) != 1 || urls[0] != rem.url {
		return nil, fmt.Errorf("opening the clone in %s: it is a clone of %v, not of %s", dir, urls, rem.url)
	}
	head, err := repo.Head()
	if err != nil || head.Name() != plumbing.NewBranchReferenceName(branch) {
		return nil, fmt.Errorf("opening the clone in %s: it has not branch %s checked out", dir, branch)
	}
	r := &Repo{dir: dir, branch: branch, depth: depth, remote: rem, repo: repo, baseHead: head.Hash()}
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	return r, nil
}
