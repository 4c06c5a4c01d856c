package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ErrNoChanges is returned by Commit when the files are the same in the
// working tree as in the base tree: the commit would be empty.
var ErrNoChanges = errors.New("no changes to commit")

// Signature is the identity and time of a commit's author (and committer).
type Signature struct {
	Name  string
	Email string
	// When is the commit time, with its time zone. Commit stores it to the
	// second.
	When time.Time
}

func (s Signature) validate(role string) error {
	switch {
	case strings.TrimSpace(s.Name) == "" || strings.TrimSpace(s.Email) == "":
		return fmt.Errorf("%s: name and email are required", role)
	case strings.ContainsAny(s.Name+s.Email, "<>\n\r\x00"):
		return fmt.Errorf("%s %q <%s>: name and email may not contain <, > or line breaks", role, s.Name, s.Email)
	case s.When.IsZero():
		return fmt.Errorf("%s: the time is not set", role)
	}
	return nil
}

func (s Signature) object() object.Signature {
	return object.Signature{Name: s.Name, Email: s.Email, When: s.When.Truncate(time.Second)}
}

// Commit writes a commit whose single parent is BaseHead and whose tree is
// the base tree with files (paths relative to Dir, slash-separated) set to
// their current content in the working tree; files missing from the working
// tree are removed from the tree. Regular files keep their executable bit
// and symlinks are stored as symlinks. Nothing else of the working tree
// matters: neither the index nor other changed files, and Commit leaves the
// working tree, the index and every ref as they are; the commit is only
// stored, for Push.
//
// author is also the committer; its When is the commit time. The message
// gets a final newline if it lacks one. If sign is not nil the commit is
// signed with it.
//
// The same files, message, author (with the same When) and base make the
// same commit hash, so a caller can tell that a branch already holds the
// commit it would push. With a signer that holds only if the signature is
// deterministic too (see Signer).
//
// It returns ErrNoChanges if the tree would be the base tree.
func (r *Repo) Commit(ctx context.Context, files []string, msg string, author Signature, sign Signer) (plumbing.Hash, error) {
	h, err := r.commit(ctx, files, msg, author, sign)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("committing on %s: %w", r.baseHead, err)
	}
	return h, nil
}

func (r *Repo) commit(ctx context.Context, files []string, msg string, author Signature, sign Signer) (plumbing.Hash, error) {
	if err := author.validate("author"); err != nil {
		return plumbing.ZeroHash, err
	}
	if strings.TrimSpace(msg) == "" {
		return plumbing.ZeroHash, errors.New("empty commit message")
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	base, err := r.repo.CommitObject(r.baseHead)
	if err != nil {
		return plumbing.ZeroHash, err
	}

	edits := map[string]*object.TreeEntry{}
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := validPath(p); err != nil {
			return plumbing.ZeroHash, err
		}
		entry, err := r.worktreeEntry(p)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		edits[p] = entry
	}

	tree, err := r.editTree(base.TreeHash, edits)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if tree == base.TreeHash {
		return plumbing.ZeroHash, ErrNoChanges
	}
	if tree == emptyTree { // every file removed
		obj := r.repo.Storer.NewEncodedObject()
		if err := (&object.Tree{}).Encode(obj); err != nil {
			return plumbing.ZeroHash, err
		}
		if _, err := r.repo.Storer.SetEncodedObject(obj); err != nil {
			return plumbing.ZeroHash, err
		}
	}

	sig := author.object()
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      msg,
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{r.baseHead},
	}
	if sign != nil {
		payload := r.repo.Storer.NewEncodedObject()
		if err := c.EncodeWithoutSignature(payload); err != nil {
			return plumbing.ZeroHash, err
		}
		rd, err := payload.Reader()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		signature, err := sign.Sign(rd)
		rd.Close()
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("signing: %w", err)
		}
		c.PGPSignature = string(signature)
	}
	obj := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.repo.Storer.SetEncodedObject(obj)
}

// validPath accepts clean, relative, slash-separated paths outside .git.
func validPath(p string) error {
	if p == "" || p != path.Clean(p) || strings.HasPrefix(p, "/") || p == "." ||
		strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("invalid path %q: want a clean, relative, slash-separated path", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." || strings.EqualFold(seg, ".git") {
			return fmt.Errorf("invalid path %q", p)
		}
	}
	return nil
}

// worktreeEntry stores the working tree's p as a blob and returns its tree
// entry (name: the last element), or nil if p does not exist.
func (r *Repo) worktreeEntry(p string) (*object.TreeEntry, error) {
	// A path that goes through a symlink is outside the tree: refuse it
	// rather than read what the link points to.
	dir := r.dir
	segs := strings.Split(p, "/")
	for _, seg := range segs[:len(segs)-1] {
		dir = filepath.Join(dir, seg)
		fi, err := os.Lstat(dir)
		if isNotExist(err) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s: %s is a symlink", p, filepath.Base(dir))
		}
		if !fi.IsDir() {
			return nil, nil // a file where p needs a directory: p does not exist
		}
	}
	full := filepath.Join(r.dir, filepath.FromSlash(p))
	fi, err := os.Lstat(full)
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var (
		data []byte
		mode filemode.FileMode
	)
	switch {
	case fi.Mode().IsRegular():
		if data, err = os.ReadFile(full); err != nil {
			return nil, err
		}
		mode = filemode.Regular
		if fi.Mode().Perm()&0o111 != 0 {
			mode = filemode.Executable
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(full)
		if err != nil {
			return nil, err
		}
		data, mode = []byte(filepath.ToSlash(target)), filemode.Symlink
	case fi.IsDir():
		return nil, fmt.Errorf("%s is a directory", p)
	default:
		return nil, fmt.Errorf("%s is not a regular file or a symlink", p)
	}
	obj := r.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	h, err := r.repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return nil, err
	}
	return &object.TreeEntry{Name: segs[len(segs)-1], Mode: mode, Hash: h}, nil
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// editTree applies edits (path → new entry, nil to remove) to the tree
// treeHash (the zero hash: an empty tree), stores the changed trees and
// returns the new tree's hash. Directories left empty are removed, as git
// does not store empty trees.
func (r *Repo) editTree(treeHash plumbing.Hash, edits map[string]*object.TreeEntry) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !treeHash.IsZero() {
		t, err := object.GetTree(r.repo.Storer, treeHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = slices.Clone(t.Entries)
	}
	index := func(name string) int {
		return slices.IndexFunc(entries, func(e object.TreeEntry) bool { return e.Name == name })
	}

	// Edits of this directory's own entries first, then of subdirectories.
	sub := map[string]map[string]*object.TreeEntry{}
	for p, e := range edits {
		name, rest, deeper := strings.Cut(p, "/")
		if deeper {
			if sub[name] == nil {
				sub[name] = map[string]*object.TreeEntry{}
			}
			sub[name][rest] = e
			continue
		}
		i := index(name)
		switch {
		case e == nil && i >= 0:
			entries = slices.Delete(entries, i, i+1)
		case e != nil && i >= 0:
			entries[i] = *e
		case e != nil:
			entries = append(entries, *e)
		}
	}
	names := make([]string, 0, len(sub))
	for name := range sub {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		group := sub[name]
		i := index(name)
		var current plumbing.Hash
		if i >= 0 {
			if entries[i].Mode != filemode.Dir {
				// Not a directory in the tree: only additions can make it one.
				onlyRemovals := true
				for _, e := range group {
					onlyRemovals = onlyRemovals && e == nil
				}
				if onlyRemovals {
					continue
				}
			} else {
				current = entries[i].Hash
			}
		}
		h, err := r.editTree(current, group)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch {
		case h == emptyTree && i >= 0:
			entries = slices.Delete(entries, i, i+1)
		case h == emptyTree:
		case i >= 0:
			entries[i] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		default:
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}

	slices.SortFunc(entries, func(a, b object.TreeEntry) int {
		return strings.Compare(sortName(a), sortName(b))
	})
	for i := 1; i < len(entries); i++ {
		if entries[i].Name == entries[i-1].Name {
			return plumbing.ZeroHash, fmt.Errorf("duplicate tree entry %q", entries[i].Name)
		}
	}
	if len(entries) == 0 {
		return emptyTree, nil
	}
	t := &object.Tree{Entries: entries}
	obj := r.repo.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.repo.Storer.SetEncodedObject(obj)
}

// emptyTree is the hash of the empty tree. editTree does not store it:
// empty directories are dropped; Commit stores it for an empty root.
var emptyTree = plumbing.NewHash("4b825dc642cb6eb9a060e54bf8d69288fbee4904")

func sortName(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}
