package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
)

// Errors of Push; test them with errors.Is.
var (
	// ErrLeaseBroken: the remote branch is not where the lease expected
	// (someone else moved, created or deleted it). Nothing was written.
	ErrLeaseBroken = errors.New("lease broken")
	// ErrNonFastForward: the remote branch has commits the pushed commit
	// does not contain (the base moved). Refresh, commit again and retry.
	ErrNonFastForward = errors.New("non-fast-forward")
	// ErrRejected: the remote refused the update, e.g. a protected branch's
	// pre-receive hook. The error includes the remote's message.
	ErrRejected = errors.New("push rejected by the remote")
)

// Lease says what the remote branch must currently be for Push to update
// it. Set exactly one field.
type Lease struct {
	// Expect: force-update the branch only if it is exactly this commit
	// (git push --force-with-lease=<branch>:<Expect>).
	Expect plumbing.Hash
	// MustNotExist: only create the branch.
	MustNotExist bool
	// FastForward: a normal push: the branch may be missing or an ancestor
	// of the pushed commit. Use it to push straight to the base branch.
	FastForward bool
}

// String describes the lease.
func (l Lease) String() string {
	var parts []string
	if !l.Expect.IsZero() {
		parts = append(parts, "expect "+l.Expect.String())
	}
	if l.MustNotExist {
		parts = append(parts, "must not exist")
	}
	if l.FastForward {
		parts = append(parts, "fast-forward")
	}
	if len(parts) == 0 {
		return "empty lease"
	}
	return strings.Join(parts, " + ")
}

func (l Lease) validate() error {
	n := 0
	for _, set := range []bool{!l.Expect.IsZero(), l.MustNotExist, l.FastForward} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("invalid lease (%s): set exactly one of Expect, MustNotExist and FastForward", l)
	}
	return nil
}

// check returns nil if a branch at current (exists) satisfies the lease
// for pushing commit.
func (r *Repo) checkLease(l Lease, commit, current plumbing.Hash, exists bool) error {
	switch {
	case !l.Expect.IsZero():
		if !exists {
			return fmt.Errorf("%w: the branch does not exist, expected it at %s", ErrLeaseBroken, l.Expect)
		}
		if current != l.Expect {
			return fmt.Errorf("%w: the branch is at %s, expected %s", ErrLeaseBroken, current, l.Expect)
		}
	case l.MustNotExist:
		if exists {
			return fmt.Errorf("%w: the branch exists at %s, expected none", ErrLeaseBroken, current)
		}
	case l.FastForward:
		if exists && !r.isAncestor(current, commit) {
			return fmt.Errorf("%w: the branch is at %s, which %s does not contain", ErrNonFastForward, current, commit)
		}
	}
	return nil
}

// isAncestor reports whether anc is desc or one of its ancestors, as far as
// the clone knows: history beyond a shallow boundary is unknown.
func (r *Repo) isAncestor(anc, desc plumbing.Hash) bool {
	if _, err := r.repo.Storer.EncodedObject(plumbing.CommitObject, anc); err != nil {
		return false
	}
	seen := map[plumbing.Hash]bool{}
	queue := []plumbing.Hash{desc}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if h == anc {
			return true
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		c, err := r.repo.CommitObject(h)
		if err != nil {
			continue // beyond a shallow boundary
		}
		queue = append(queue, c.ParentHashes...)
	}
	return false
}

// Push updates branch on the remote to commit (a commit of this clone,
// e.g. from Commit) if the branch satisfies lease; see Lease. If the branch
// is already at commit, Push succeeds without writing. Errors wrap
// ErrLeaseBroken, ErrNonFastForward or ErrRejected when the remote's state
// or the remote itself refused the update; others are transport errors.
// Leases other than FastForward are for branches other than the base
// branch.
//
// Push lists the remote branch first, so lease failures are reported
// without any write attempt. The update itself sends the expected old value
// (go-git's ForceWithLease for Expect), so the server refuses it if the
// branch moved in between.
func (r *Repo) Push(ctx context.Context, commit plumbing.Hash, branch string, lease Lease) error {
	if err := r.push(ctx, commit, branch, lease); err != nil {
		return fmt.Errorf("pushing %s to branch %s of %s (%s): %w", short(commit), branch, r.remote.url, lease, err)
	}
	return nil
}

func short(h plumbing.Hash) string { return ShortRevision(h.String()) }

// ShortRevision abbreviates a commit hash for people: its first 12 hex
// digits, as git and GitHub show them. A shorter string is returned as it is.
func ShortRevision(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

func (r *Repo) push(ctx context.Context, commit plumbing.Hash, branch string, lease Lease) error {
	if err := validBranch(branch); err != nil {
		return err
	}
	if err := lease.validate(); err != nil {
		return err
	}
	if !lease.FastForward && branch == r.branch {
		return errors.New("only a FastForward lease may push to the base branch")
	}
	if _, err := r.repo.CommitObject(commit); err != nil {
		return fmt.Errorf("reading the commit to push: %w", err)
	}

	current, exists, err := r.lsRemote(ctx, branch)
	if err != nil {
		return err
	}
	if exists && current == commit {
		return r.setTracking(branch, commit)
	}
	if err := r.checkLease(lease, commit, current, exists); err != nil {
		return err
	}

	dst := plumbing.NewBranchReferenceName(branch)
	var progress bytes.Buffer
	opts := &git.PushOptions{
		RemoteName: remoteName,
		Auth:       r.remote.method,
		Progress:   &progress,
	}
	restore := func() {}
	switch {
	case lease.FastForward:
		opts.RefSpecs = []config.RefSpec{config.RefSpec(commit.String() + ":" + dst.String())}
	default:
		// go-git pushes leases from a local branch: refs/heads/<branch>.
		if err := r.repo.Storer.SetReference(plumbing.NewHashReference(dst, commit)); err != nil {
			return err
		}
		opts.RefSpecs = []config.RefSpec{config.RefSpec(dst.String() + ":" + dst.String())}
		if !lease.Expect.IsZero() {
			opts.RefSpecs[0] = "+" + opts.RefSpecs[0]
			opts.ForceWithLease = &git.ForceWithLease{RefName: dst, Hash: lease.Expect}
			// go-git resolves the remote-tracking ref even when the lease
			// names the hash: point it at the expected commit meanwhile.
			tracking := trackingRef(branch)
			old, oldErr := r.repo.Storer.Reference(tracking)
			if err := r.repo.Storer.SetReference(plumbing.NewHashReference(tracking, lease.Expect)); err != nil {
				return err
			}
			restore = func() {
				if oldErr == nil {
					_ = r.repo.Storer.SetReference(old)
				} else {
					_ = r.repo.Storer.RemoveReference(tracking)
				}
			}
		}
	}

	rem, err := r.repo.Remote(remoteName)
	if err != nil {
		restore()
		return err
	}
	err = rem.PushContext(ctx, opts)
	if err == nil || errors.Is(err, git.NoErrAlreadyUpToDate) {
		return r.setTracking(branch, commit)
	}
	restore()
	return r.pushError(ctx, err, progress.String(), lease, commit, branch)
}

// setTracking records a pushed commit in refs/remotes/origin/<branch>.
func (r *Repo) setTracking(branch string, commit plumbing.Hash) error {
	return r.repo.Storer.SetReference(plumbing.NewHashReference(trackingRef(branch), commit))
}

// pushError classifies a failed push: the remote's refusal, or a lease
// that broke after Push checked it.
func (r *Repo) pushError(ctx context.Context, err error, progress string, lease Lease, commit plumbing.Hash, branch string) error {
	msgs := remoteMessages(r.remote.secrets.replace(progress))
	reason, refused := "", false
	if _, status, ok := strings.Cut(err.Error(), "command error on "); ok {
		// report-status "ng <ref> <reason>"
		if _, reason, ok = strings.Cut(status, ": "); ok {
			refused = true
		}
	}
	if !refused || !strings.Contains(reason, "hook declined") {
		// The branch may have moved between our check and the update.
		if current, exists, lerr := r.lsRemote(ctx, branch); lerr == nil {
			if lerr := r.checkLease(lease, commit, current, exists); lerr != nil {
				if msgs != "" {
					return fmt.Errorf("%w (remote: %s)", lerr, msgs)
				}
				return lerr
			}
		}
	}
	if refused {
		detail := r.remote.secrets.replace(reason)
		if msgs != "" {
			detail += ": " + msgs
		}
		return fmt.Errorf("%w: %s", ErrRejected, detail)
	}
	err = r.remote.fail(err)
	if msgs != "" {
		return fmt.Errorf("%w (remote: %s)", err, msgs)
	}
	return err
}

var progressLine = regexp.MustCompile(`^(Counting|Compressing|Writing|Total|Enumerating|Delta|Resolving|Unpacking|Receiving|Processing)\b`)

// remoteMessages extracts the remote's messages (hook output) from the
// sideband progress stream, without progress meters.
func remoteMessages(progress string) string {
	var out []string
	for line := range strings.FieldsFuncSeq(progress, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "remote:"))
		if line == "" || progressLine.MatchString(line) {
			continue
		}
		out = append(out, line)
	}
	return strings.Join(out, "; ")
}

// RestoreFromBase writes files (paths relative to the work tree) back as
// the base commit has them, keeping each file's mode: the undo of an
// update that was committed, or abandoned, elsewhere. Files the base lacks
// are left alone.
func (r *Repo) RestoreFromBase(files []string) {
	for _, f := range files {
		data, err := r.ReadFileAt(r.BaseHead(), f)
		if err != nil {
			continue
		}
		p := filepath.Join(r.Dir(), filepath.FromSlash(f))
		mode := fs.FileMode(0o644)
		if st, err := os.Stat(p); err == nil {
			mode = st.Mode().Perm()
		}
		_ = os.WriteFile(p, data, mode)
	}
}
