package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/gitrepo"
)

// Clones keeps one clone per repository URL and branch under a directory,
// fetched before every use and reopened from the directory after a
// restart. It is safe for concurrent use; uses of one clone are
// serialised. Two processes must not share the directory.
type Clones struct {
	root  string
	creds *gitrepo.Credentials
	depth int

	mu      sync.Mutex
	entries map[string]*Clone
}

// NewClones returns a cache of clones under root, made with depth (0: the
// whole history, which renders of old revisions need) and, for each
// repository, the credentials creds gives its host only (an App naming
// another host is cloned without any, and a failure says why).
func NewClones(root string, creds *gitrepo.Credentials, depth int) *Clones {
	return &Clones{root: root, creds: creds, depth: depth, entries: map[string]*Clone{}}
}

// Clone is one kept clone.
type Clone struct {
	mu          sync.Mutex
	url, branch string
	dir         string
	repo        *gitrepo.Repo
	raw         *git.Repository
}

func (c *Clones) entry(url, branch string) *Clone {
	sum := sha256.Sum256([]byte(url + "\x00" + branch))
	key := hex.EncodeToString(sum[:8])
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		e = &Clone{url: url, branch: branch, dir: filepath.Join(c.root, "clones", key)}
		c.entries[key] = e
	}
	return e
}

// With runs fn on the clone of url's branch, fetched first (cloned on the
// first use).
func (c *Clones) With(ctx context.Context, url, branch string, fn func(e *Clone) error) error {
	e := c.entry(url, branch)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.refresh(ctx, c); err != nil {
		return err
	}
	return fn(e)
}

// refresh fetches the clone, or clones it, with the credentials the
// repository's host may receive; when it gets none, a failure says why.
func (e *Clone) refresh(ctx context.Context, c *Clones) error {
	auth, why := c.creds.For(e.url)
	err := e.refreshWith(ctx, c, auth)
	if err != nil && why != "" {
		err = fmt.Errorf("%w (%s)", err, why)
	}
	return err
}

func (e *Clone) refreshWith(ctx context.Context, c *Clones, auth gitrepo.Auth) error {
	if e.repo != nil {
		if err := e.repo.Refresh(ctx); err != nil {
			return fmt.Errorf("fetching %s: %w", gitrepo.RedactURL(e.url), err)
		}
		// go-git caches the pack list of an open repository: reopen it to
		// see what the fetch brought.
		raw, err := git.PlainOpen(e.dir)
		if err != nil {
			return fmt.Errorf("opening the clone of %s: %w", gitrepo.RedactURL(e.url), err)
		}
		e.raw = raw
		return nil
	}
	var r *gitrepo.Repo
	var err error
	if _, statErr := os.Stat(filepath.Join(e.dir, ".git")); statErr == nil {
		r, err = gitrepo.Open(ctx, e.url, e.branch, e.dir, auth, c.depth)
		if err != nil && ctx.Err() == nil {
			// Not a usable clone (another URL, half written): start over.
			if rmErr := os.RemoveAll(e.dir); rmErr != nil {
				return fmt.Errorf("removing the stale clone %s: %w", e.dir, rmErr)
			}
			r, err = nil, nil
		}
	}
	if r == nil && err == nil {
		if err := os.MkdirAll(filepath.Dir(e.dir), 0o700); err != nil {
			return fmt.Errorf("cloning %s: %w", gitrepo.RedactURL(e.url), err)
		}
		r, err = gitrepo.Clone(ctx, e.url, e.branch, e.dir, auth, c.depth)
		if err != nil {
			_ = os.RemoveAll(e.dir)
		}
	}
	if err != nil {
		return err
	}
	raw, err := git.PlainOpen(e.dir)
	if err != nil {
		return fmt.Errorf("opening the clone of %s: %w", gitrepo.RedactURL(e.url), err)
	}
	e.repo, e.raw = r, raw
	return nil
}

// Head returns the hash of the branch head, as last fetched.
func (e *Clone) Head() string { return e.repo.BaseHead().String() }

// Resolve returns the commit of revision: the branch head for "", else a
// full or abbreviated hash (or a ref) the clone holds.
func (e *Clone) Resolve(revision string) (*object.Commit, error) {
	h := e.repo.BaseHead()
	if revision != "" {
		rh, err := e.raw.ResolveRevision(plumbing.Revision(revision))
		if err != nil {
			hint := ""
			if shallow, _ := e.repo.Shallow(); shallow {
				hint = " (the clone is shallow: raise the clone depth)"
			}
			return nil, fmt.Errorf("revision %q not found in branch %s of %s%s: %w", revision, e.branch, gitrepo.RedactURL(e.url), hint, err)
		}
		h = *rh
	}
	c, err := e.raw.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", h, err)
	}
	return c, nil
}

// Env is what a render of an app learns from outside its repository.
type Env struct {
	// Scope resolves the kinds neither built in nor defined by a CRD of
	// the render (nil: left as written).
	Scope Scoper
	// Capabilities gives Helm charts the cluster's version and API
	// versions (nil: DefaultCapabilities).
	Capabilities CapabilitiesFunc
	// Charts fetches chart dependencies (nil: the process-wide default).
	Charts *Charts
	// ParseCache keeps parsed plain manifest files (nil: none).
	ParseCache *ParseCache
}

// App renders app at revision ("" for the head of its branch; a full or
// abbreviated commit hash otherwise), read straight from the git objects
// of its clone: nothing is written out, kustomize builds and Helm charts
// included. opts may wrap the file tree the renderer reads (SOPS
// decryption, in memory). A failed render still says which revision (and
// branch head) it was, once known.
func App(ctx context.Context, clones *Clones, app dotferry.App, revision string, env Env, opts ...AppOption) (Rendered, error) {
	var ao appOptions
	for _, o := range opts {
		o(&ao)
	}
	if err := app.Validate(); err != nil {
		return Rendered{}, err
	}
	var r Rendered
	var rev, head string
	err := clones.With(ctx, app.RepoURL, app.Branch, func(e *Clone) error {
		head = e.Head()
		commit, err := e.Resolve(revision)
		if err != nil {
			return err
		}
		rev = commit.Hash.String()
		tree, err := commit.Tree()
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", rev, err)
		}
		fsys := gitrepo.TreeFS(tree)
		if ao.wrapFS != nil {
			fsys = ao.wrapFS(fsys)
		}
		r, err = RenderContext(ctx, fsys, app.CleanPath(), Options{
			App: app.Name, Namespace: app.Namespace, Scope: env.Scope,
			Helm: app.Helm, Jsonnet: app.Jsonnet, Capabilities: env.Capabilities, Charts: env.Charts, ParseCache: env.ParseCache,
		})
		if err != nil {
			return fmt.Errorf("at %.12s: %w", rev, err)
		}
		return nil
	})
	r.Revision, r.BranchHead = rev, head
	if err != nil {
		return Rendered{App: app.Name, Path: app.CleanPath(), Revision: rev, BranchHead: head}, fmt.Errorf("rendering app %s: %w", app.Name, err)
	}
	return r, nil
}
