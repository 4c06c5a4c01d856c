package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// FileVersion is a commit of the base branch that changed a file, with the
// file as that commit left it.
type FileVersion struct {
	Commit    plumbing.Hash
	Author    Signature
	Committer Signature
	// When is the committer time: when this version reached the base
	// branch (for a merge commit, when the pull request was merged).
	When    time.Time
	Message string
	// Content is the file at Commit; nil if Deleted.
	Content []byte
	// Deleted: Commit removed the file.
	Deleted bool
}

// FileHistory returns, newest first, up to limit (all if limit <= 0)
// commits of the base branch's first-parent history up to BaseHead that
// changed path: the versions of the file as the base branch saw them. A
// pull request merged with a merge commit shows as that merge commit;
// squashed or rebased ones as their commits. The oldest version is the
// commit that created the file (or the root commit).
//
// In a shallow clone the walk stops at the shallow boundary and truncated
// is true: older versions may exist. Deepen fetches more history. truncated
// is false when the walk reached the root commit or limit.
func (r *Repo) FileHistory(ctx context.Context, path string, limit int) (versions []FileVersion, truncated bool, err error) {
	versions, truncated, err = r.fileHistory(ctx, path, limit)
	if err != nil {
		return nil, false, fmt.Errorf("history of %s on %s: %w", path, r.branch, err)
	}
	return versions, truncated, nil
}

func (r *Repo) fileHistory(ctx context.Context, path string, limit int) ([]FileVersion, bool, error) {
	if err := validPath(path); err != nil {
		return nil, false, err
	}
	c, err := r.repo.CommitObject(r.baseHead)
	if err != nil {
		return nil, false, err
	}
	cur, err := fileEntry(c, path)
	if err != nil {
		return nil, false, err
	}
	var versions []FileVersion
	for {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		var parentEntry *object.TreeEntry
		var parent *object.Commit
		if len(c.ParentHashes) > 0 {
			parent, err = r.repo.CommitObject(c.ParentHashes[0])
			if errors.Is(err, plumbing.ErrObjectNotFound) {
				return versions, true, nil // shallow boundary: c's change is unknown
			}
			if err != nil {
				return nil, false, err
			}
			if parentEntry, err = fileEntry(parent, path); err != nil {
				return nil, false, err
			}
		}
		if !sameEntry(cur, parentEntry) {
			v := FileVersion{
				Commit:    c.Hash,
				Author:    Signature{Name: c.Author.Name, Email: c.Author.Email, When: c.Author.When},
				Committer: Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: c.Committer.When},
				When:      c.Committer.When,
				Message:   c.Message,
				Deleted:   cur == nil,
			}
			if cur != nil {
				if v.Content, err = r.blob(cur.Hash); err != nil {
					return nil, false, err
				}
			}
			versions = append(versions, v)
			if limit > 0 && len(versions) >= limit {
				return versions, false, nil
			}
		}
		if parent == nil {
			return versions, false, nil // the root commit
		}
		c, cur = parent, parentEntry
	}
}

// fileEntry is path's entry in c's tree if it is a file (regular,
// executable or symlink), else nil.
func fileEntry(c *object.Commit, path string) (*object.TreeEntry, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	e, err := tree.FindEntry(path)
	if errors.Is(err, object.ErrEntryNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrFileNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
		return nil, nil
	}
	return e, nil
}

func sameEntry(a, b *object.TreeEntry) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Hash == b.Hash && a.Mode == b.Mode
}

func (r *Repo) blob(h plumbing.Hash) ([]byte, error) {
	b, err := r.repo.BlobObject(h)
	if err != nil {
		return nil, err
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// infiniteDepth is git's --unshallow depth.
const infiniteDepth = 0x7fffffff

// Deepen fetches more history of the base branch: depth commits counted
// from the remote branch's current head (git fetch --depth semantics), or
// all of it if depth <= 0 (git fetch --unshallow). BaseHead does not move;
// if the remote branch moved, BaseHead's history grows by correspondingly
// less. Later fetches of the clone use the new depth. On a complete clone
// Deepen does nothing.
func (r *Repo) Deepen(ctx context.Context, depth int) error {
	if shallow, err := r.Shallow(); err != nil || !shallow {
		return err // a complete clone: nothing to fetch
	}
	if depth <= 0 {
		depth = infiniteDepth
	}
	if _, err := r.fetch(ctx, r.branch, depth); err != nil {
		return fmt.Errorf("deepening branch %s of %s: %w", r.branch, r.remote.url, err)
	}
	if err := r.pruneShallow(); err != nil {
		return fmt.Errorf("deepening branch %s of %s: %w", r.branch, r.remote.url, err)
	}
	if depth == infiniteDepth {
		depth = 0
	}
	r.depth = depth
	return nil
}

// pruneShallow drops from .git/shallow the commits whose parents the clone
// now has: go-git records new shallow boundaries but ignores the server's
// "unshallow" lines.
func (r *Repo) pruneShallow() error {
	shallows, err := r.repo.Storer.Shallow()
	if err != nil || len(shallows) == 0 {
		return err
	}
	var keep []plumbing.Hash
	for _, h := range shallows {
		c, err := r.repo.CommitObject(h)
		if err != nil {
			continue // not even the commit: nothing to mark
		}
		complete := true
		for _, p := range c.ParentHashes {
			if _, err := r.repo.Storer.EncodedObject(plumbing.CommitObject, p); err != nil {
				complete = false
				break
			}
		}
		if !complete {
			keep = append(keep, h)
		}
	}
	if len(keep) == len(shallows) {
		return nil
	}
	return r.repo.Storer.SetShallow(keep)
}
