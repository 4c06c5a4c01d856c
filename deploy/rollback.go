package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/dotferry"
)

// Rollback applies the app's manifests at revision to (a full or
// abbreviated commit hash; "" means the newest successful revision before
// the current one, from the record) and pins the app there: Sync without
// a revision and Watch keep applying the pinned revision until Release,
// or until a new commit when app.ReleasePinOnNewCommit. The pin is only
// set when the rollback sync did not fail. It prunes when app.Prune and
// waits app.Timeout for health.
func (s *Syncer) Rollback(ctx context.Context, app App, to string) (Record, error) {
	if err := app.Validate(); err != nil {
		return Record{}, err
	}
	if err := s.reachable(ctx); err != nil {
		return Record{}, err
	}
	st, err := s.readState(ctx, app)
	if err != nil {
		return Record{}, err
	}
	current := st.LastRevision()
	if to == "" {
		if to, err = st.PreviousRevision(current); err != nil {
			return Record{}, fmt.Errorf("rolling back app %s: %w", app.Name, err)
		}
	}
	s.log.Info("rolling back", "app", app.Name, "from", short(current), "to", short(to))
	return s.sync(ctx, app, SyncOptions{
		Revision: to, Prune: app.Prune, AllowEmpty: app.AllowEmpty, Timeout: app.Timeout, Trigger: "rollback",
	}, syncExtra{pin: &Pin{From: current}})
}

// Release removes the app's rollback pin, so the next Sync or Watch round
// applies the branch head again. It reports whether there was a pin.
func (s *Syncer) Release(ctx context.Context, app App) (bool, error) {
	if err := dotferry.CheckAppName(app.Name); err != nil {
		return false, err
	}
	if err := s.reachable(ctx); err != nil {
		return false, err
	}
	released := false
	err := s.updateState(ctx, app, func(st *inventory.State) bool {
		released = st.Pin != nil
		st.Pin = nil
		return released
	})
	if err != nil {
		return false, fmt.Errorf("releasing the pin of app %s: %w", app.Name, err)
	}
	return released, nil
}

// ErrNoRevertPR is returned by RevertPR when Options.RevertPR is nil.
var ErrNoRevertPR = errors.New("no revert pull request hook configured (Options.RevertPR)")

// RevertRequest is what a revert pull request needs: the files under the
// app's path to restore to their content at To, on top of the branch
// head.
type RevertRequest struct {
	App App `json:"app"`
	// Head is the branch head the change is based on; To is the revision
	// whose manifests the pull request restores.
	Head string `json:"head"`
	To   string `json:"to"`
	// Files maps each file (slash-separated, from the repository root)
	// under the app's path that differs between Head and To to its
	// content at To; Deleted lists the files Head has and To has not.
	Files   map[string][]byte `json:"files"`
	Deleted []string          `json:"deleted,omitempty"`
	// Title and Body are a suggested pull request title and description.
	Title string `json:"title"`
	Body  string `json:"body"`
}

// RevertPRFunc opens a pull request for req and returns its URL. The
// integrator wires it to the forge package: commit req.Files and
// req.Deleted on a branch from req.Head (gitrepo.Repo.Commit and Push, as
// bot.Bump does) and open the pull request against the app's branch with
// req.Title and req.Body. This package makes no forge calls itself.
type RevertPRFunc func(ctx context.Context, req RevertRequest) (url string, err error)

// RevertPR prepares the revert of the app's path to revision to (""
// means the previous successful revision, as for Rollback) and hands it to
// Options.RevertPR, instead of rolling back in the cluster: git stays the
// source of truth and the normal sync applies the merge. Only files under
// the app's path are restored: a kustomization's bases elsewhere are not.
func (s *Syncer) RevertPR(ctx context.Context, app App, to string) (string, error) {
	if err := app.Validate(); err != nil {
		return "", err
	}
	if s.opts.RevertPR == nil {
		return "", ErrNoRevertPR
	}
	if to == "" {
		st, err := s.readState(ctx, app)
		if err != nil {
			return "", err
		}
		if to, err = st.PreviousRevision(st.LastRevision()); err != nil {
			return "", fmt.Errorf("reverting app %s: %w", app.Name, err)
		}
	}
	req := RevertRequest{App: app, Files: map[string][]byte{}}
	err := s.clones.With(ctx, app.RepoURL, app.Branch, func(e *render.Clone) error {
		head, err := e.Resolve("")
		if err != nil {
			return err
		}
		target, err := e.Resolve(to)
		if err != nil {
			return err
		}
		req.Head, req.To = head.Hash.String(), target.Hash.String()
		before, err := treeBlobs(head, app.CleanPath())
		if err != nil {
			return err
		}
		after, err := treeBlobs(target, app.CleanPath())
		if err != nil {
			return err
		}
		for name, h := range after {
			if before[name] == h {
				continue
			}
			f, err := target.File(name)
			if err != nil {
				return err
			}
			data, err := f.Contents()
			if err != nil {
				return err
			}
			req.Files[name] = []byte(data)
		}
		for name := range before {
			if _, ok := after[name]; !ok {
				req.Deleted = append(req.Deleted, name)
			}
		}
		slices.Sort(req.Deleted)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reverting app %s: %w", app.Name, err)
	}
	if len(req.Files) == 0 && len(req.Deleted) == 0 {
		return "", fmt.Errorf("reverting app %s: %s already has the manifests of %s", app.Name, short(req.Head), short(req.To))
	}
	req.Title = fmt.Sprintf("Revert %s to %s", app.Name, short(req.To))
	var b strings.Builder
	fmt.Fprintf(&b, "Restores the manifests of app `%s` (`%s`) to revision %s.\n\n", app.Name, app.CleanPath(), req.To)
	for _, f := range slices.Sorted(maps.Keys(req.Files)) {
		fmt.Fprintf(&b, "- restore `%s`\n", f)
	}
	for _, f := range req.Deleted {
		fmt.Fprintf(&b, "- delete `%s`\n", f)
	}
	req.Body = b.String()
	return s.opts.RevertPR(ctx, req)
}

// treeBlobs maps the files under p (root-relative names) at commit c to
// their blob hashes.
func treeBlobs(c *object.Commit, p string) (map[string]plumbing.Hash, error) {
	tree, err := c.Tree()
	if err != nil {
		return nil, err
	}
	out := map[string]plumbing.Hash{}
	if p != "." {
		ent, err := tree.FindEntry(p)
		if err != nil {
			return out, nil // absent at this revision
		}
		if ent.Mode != filemode.Dir {
			out[p] = ent.Hash
			return out, nil
		}
		if tree, err = tree.Tree(p); err != nil {
			return nil, err
		}
	}
	err = tree.Files().ForEach(func(f *object.File) error {
		name := f.Name
		if p != "." {
			name = path.Join(p, name)
		}
		out[name] = f.Hash
		return nil
	})
	return out, err
}
