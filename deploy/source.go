package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/gitrepo"
)

// Render renders the app at revision ("" for the head of its branch; a
// full or abbreviated commit hash otherwise) from the Syncer's clone of
// its repository, as package render does, with the kinds it does not know
// resolved through the cluster's RESTMapper (an unknown kind is an error).
// The result is in apply order and does not depend on file order beyond
// that. Errors name the file and line (or the kustomize build) of the
// offending object.
func (s *Syncer) Render(ctx context.Context, app App, revision string) (Rendered, error) {
	return render.App(ctx, s.clones, app, revision, render.Env{Scope: scoper{s}, Capabilities: render.DiscoveryCapabilities(s.disc)})
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
	c := render.NewClones(root, opts.GitCredentials, opts.GitDepth)
	var set *dotferry.Set
	var head string
	err := c.With(ctx, repoURL, branch, func(e *render.Clone) error {
		commit, err := e.Resolve("")
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
