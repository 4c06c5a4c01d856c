package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/gitrepo"
)

// gitCache keeps one clone per repository URL and branch under root.
type gitCache struct {
	root  string
	creds *gitrepo.Credentials
	depth int

	mu      sync.Mutex
	entries map[string]*gitEntry
}

// gitEntry is one kept clone; mu serialises fetches and reads.
type gitEntry struct {
	mu          sync.Mutex
	url, branch string
	dir         string
	repo        *gitrepo.Repo
	raw         *git.Repository
	trees       []string // extracted tree directories, most recent last
}

func newGitCache(root string, creds *gitrepo.Credentials, depth int) *gitCache {
	return &gitCache{root: root, creds: creds, depth: depth, entries: map[string]*gitEntry{}}
}

func (c *gitCache) entry(url, branch string) *gitEntry {
	sum := sha256.Sum256([]byte(url + "\x00" + branch))
	key := hex.EncodeToString(sum[:8])
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		e = &gitEntry{url: url, branch: branch, dir: filepath.Join(c.root, "clones", key)}
		c.entries[key] = e
	}
	return e
}

// with runs fn on the clone of url's branch, fetched first (cloned on the
// first use, reopened from the work directory after a restart).
func (c *gitCache) with(ctx context.Context, url, branch string, fn func(e *gitEntry) error) error {
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
func (e *gitEntry) refresh(ctx context.Context, c *gitCache) error {
	auth, why := c.creds.For(e.url)
	err := e.refreshWith(ctx, c, auth)
	if err != nil && why != "" {
		err = fmt.Errorf("%w (%s)", err, why)
	}
	return err
}

func (e *gitEntry) refreshWith(ctx context.Context, c *gitCache, auth gitrepo.Auth) error {
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

// resolve returns the commit of revision: the branch head for "", else a
// full or abbreviated hash (or a ref) the clone holds.
func (e *gitEntry) resolve(revision string) (*object.Commit, error) {
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

// treeFile is one file read from a commit.
type treeFile struct {
	name string // slash-separated, relative to the repository root
	data []byte
}

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// manifestFiles returns the manifest files under p in tree (p itself if
// it is a file), sorted by path, and whether p is a kustomization
// directory (then no files are returned). Hidden files and directories
// (".ferry", ".github", ...) and symbolic links are skipped.
func manifestFiles(tree *object.Tree, p string) (files []treeFile, kustomize bool, err error) {
	sub := tree
	if p != "." {
		ent, err := tree.FindEntry(p)
		if err != nil {
			return nil, false, fmt.Errorf("path %s: %w", p, os.ErrNotExist)
		}
		if ent.Mode.IsFile() {
			if ent.Mode == filemode.Symlink {
				return nil, false, fmt.Errorf("path %s is a symbolic link", p)
			}
			f, err := tree.TreeEntryFile(ent)
			if err != nil {
				return nil, false, err
			}
			// TreeEntryFile names the file by its base name only.
			data, err := readBlob(f)
			if err != nil {
				return nil, false, fmt.Errorf("reading %s: %w", p, err)
			}
			return []treeFile{{name: p, data: data}}, false, nil
		}
		if sub, err = tree.Tree(p); err != nil {
			return nil, false, fmt.Errorf("path %s: %w", p, err)
		}
	}
	for _, k := range kustomizationNames {
		if _, err := sub.FindEntry(k); err == nil {
			return nil, true, nil
		}
	}
	err = sub.Files().ForEach(func(f *object.File) error {
		if f.Mode == filemode.Symlink || hidden(f.Name) || !isManifest(f.Name) {
			return nil
		}
		data, err := readBlob(f)
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.Name, err)
		}
		name := f.Name
		if p != "." {
			name = path.Join(p, f.Name)
		}
		files = append(files, treeFile{name: name, data: data})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	slices.SortFunc(files, func(a, b treeFile) int { return strings.Compare(a.name, b.name) })
	return files, false, nil
}

func hidden(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

func isManifest(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func readBlob(f *object.File) ([]byte, error) {
	rd, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// keepTrees is how many extracted trees an entry keeps.
const keepTrees = 3

// extract writes commit's whole tree to a directory of its own (reused
// while it is among the keepTrees most recent), for kustomize, which reads
// from disk. Symbolic links are not written.
func (e *gitEntry) extract(c *object.Commit) (string, error) {
	base := filepath.Join(filepath.Dir(filepath.Dir(e.dir)), "trees", filepath.Base(e.dir))
	dir := filepath.Join(base, c.TreeHash.String())
	defer e.pruneTrees(base, dir)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir, nil
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(base, "tmp-")
	if err != nil {
		return "", err
	}
	tree, err := c.Tree()
	if err == nil {
		err = tree.Files().ForEach(func(f *object.File) error {
			if f.Mode == filemode.Symlink || !filepath.IsLocal(filepath.FromSlash(f.Name)) {
				return nil
			}
			data, err := readBlob(f)
			if err != nil {
				return fmt.Errorf("reading %s: %w", f.Name, err)
			}
			p := filepath.Join(tmp, filepath.FromSlash(f.Name))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			return os.WriteFile(p, data, 0o600)
		})
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("extracting tree %s of commit %s: %w", c.TreeHash, c.Hash, err)
	}
	return dir, nil
}

// pruneTrees records dir as the most recent tree and removes the others
// beyond keepTrees, including leftovers of earlier processes.
func (e *gitEntry) pruneTrees(base, dir string) {
	e.trees = slices.DeleteFunc(e.trees, func(d string) bool { return d == dir })
	e.trees = append(e.trees, dir)
	if len(e.trees) > keepTrees {
		e.trees = e.trees[len(e.trees)-keepTrees:]
	}
	ents, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, ent := range ents {
		p := filepath.Join(base, ent.Name())
		if !slices.Contains(e.trees, p) {
			_ = os.RemoveAll(p)
		}
	}
}

// ReadApps fetches branch of the manifest repository repoURL (cloning it
// into opts.WorkDir, or a temporary directory when that is empty, or
// reusing the clone a Syncer with the same WorkDir keeps) and returns the
// App documents of its .ferry directory at the branch head (read by
// dotferry.LoadFS, with the repository's URL and branch given to apps that
// name none), and that head's hash. Files are named relative to the
// repository root in errors. Invalid documents of any kind fail the load
// (document.Errors), as for every other Ferry command; a repository
// without .ferry declares no app.
func ReadApps(ctx context.Context, repoURL, branch string, opts Options) ([]App, string, error) {
	root := opts.WorkDir
	if root == "" {
		tmp, err := os.MkdirTemp("", "ferry-apps-")
		if err != nil {
			return nil, "", err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	c := newGitCache(root, opts.GitCredentials, opts.GitDepth)
	var set *dotferry.Set
	var head string
	err := c.with(ctx, repoURL, branch, func(e *gitEntry) error {
		commit, err := e.resolve("")
		if err != nil {
			return err
		}
		head = commit.Hash.String()
		tree, err := commit.Tree()
		if err != nil {
			return err
		}
		set, err = dotferry.LoadFS(gitrepo.TreeFS(tree), dotferry.Dir)
		if errors.Is(err, fs.ErrNotExist) {
			set, err = &dotferry.Set{}, nil
		}
		if err != nil {
			var de document.Errors
			if errors.As(err, &de) {
				return err
			}
			return fmt.Errorf("reading .ferry at %s: %w", head, err)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return dotferry.WithRepository(set.Apps, repoURL, branch), head, nil
}
