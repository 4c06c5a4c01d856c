package deploy

import (
	"context"
	"fmt"

	"github.com/ferrygitops/ferry/deploy/diff"
	"github.com/ferrygitops/ferry/deploy/hooks"
	"github.com/ferrygitops/ferry/dotferry"
)

// DiffAction is what a sync would do to an object.
type DiffAction string

// The diff actions.
const (
	DiffCreate    DiffAction = "create"
	DiffUpdate    DiffAction = "update"
	DiffUnchanged DiffAction = "unchanged"
	DiffPrune     DiffAction = "prune"
)

// ObjectDiff is one object of a DiffResult.
type ObjectDiff struct {
	ObjectKey
	Action DiffAction `json:"action"`
	Source string     `json:"source,omitempty"`
	// Diff is a unified diff of the live object (---) and the dry-run
	// result (+++), both without status and server-set metadata, Secret
	// values masked; the whole object for create and prune.
	Diff string `json:"diff,omitempty"`
	// Drifted: the live object carries the rendered hash but differs:
	// someone changed it since Ferry applied it.
	Drifted bool   `json:"drifted,omitempty"`
	Error   string `json:"error,omitempty"`
}

// DiffResult compares an app's render with the cluster.
type DiffResult struct {
	App      string       `json:"app"`
	Revision string       `json:"revision"`
	InSync   bool         `json:"inSync"`
	Objects  []ObjectDiff `json:"objects"`
}

// Changed returns the objects that are not unchanged.
func (d DiffResult) Changed() []ObjectDiff {
	var out []ObjectDiff
	for _, o := range d.Objects {
		if o.Action != DiffUnchanged {
			out = append(out, o)
		}
	}
	return out
}

// Diff compares rendered with the live cluster: every object is
// server-side applied with dry-run (FieldManager ferry, Force), and its
// live version compared with the result; objects of the inventory that
// are no longer rendered are listed as prunes when app.Prune is set. It
// writes nothing. Objects the API server rejects have Error set, and the
// returned error lists them; the rest of the result is still filled.
func (s *Syncer) Diff(ctx context.Context, app App, rendered Rendered) (DiffResult, error) {
	res := DiffResult{App: app.Name, Revision: rendered.Revision}
	if err := s.reachable(ctx); err != nil {
		return res, err
	}
	inv, err := s.readInventory(ctx, app)
	if err != nil {
		return res, err
	}
	// Hooks and skipped objects are left out, as Argo CD's diff does:
	// hooks are created by a sync, not kept in sync.
	sp, err := hooks.SplitRendered(rendered)
	if err != nil {
		return res, fmt.Errorf("diffing app %s: %w", app.Name, err)
	}
	all := keysOf(&sp)
	rendered = sp.Rendered
	p, err := s.newPlan(ctx, app, &rendered, inv, planOptions{forceAll: true, fetchUnlabelled: true})
	if err != nil {
		return res, fmt.Errorf("diffing app %s: %w", app.Name, err)
	}
	for _, it := range p.items {
		od := ObjectDiff{ObjectKey: it.m.Key, Source: it.m.Source}
		switch {
		case it.err != nil:
			od.Action, od.Error = DiffUpdate, it.err.Error()
			if !it.exists {
				od.Action = DiffCreate
			}
		case it.deferred || !it.exists:
			od.Action = DiffCreate
			after := it.dry
			if after == nil {
				after = it.m.Object
			}
			od.Diff = diff.Unified(it.m.Key, nil, after)
		case it.changed:
			od.Action, od.Drifted = DiffUpdate, it.drifted
			od.Diff = diff.Unified(it.m.Key, it.live, it.dry)
		default:
			od.Action = DiffUnchanged
		}
		res.Objects = append(res.Objects, od)
	}
	if app.Prune {
		cands, err := s.pruneCandidates(ctx, app, inv, all)
		if err != nil {
			return res, fmt.Errorf("diffing app %s: %w", app.Name, err)
		}
		for _, c := range cands {
			if c.skip != "" {
				continue
			}
			res.Objects = append(res.Objects, ObjectDiff{ObjectKey: c.key, Action: DiffPrune, Diff: diff.Unified(c.key, c.live, nil)})
		}
	}
	res.InSync = len(res.Changed()) == 0
	if err := planErrors(p.items, "rejected"); err != nil {
		return res, fmt.Errorf("diffing app %s: %w", app.Name, err)
	}
	return res, nil
}

// DiffApp compares app with the cluster at the revision a sync would
// apply: the rollback pin's when the app is pinned, else the branch head.
// It returns the pinned revision ("" when the app is not pinned); when the
// render fails, the result has no Revision.
func (s *Syncer) DiffApp(ctx context.Context, app App) (DiffResult, string, error) {
	res := DiffResult{App: app.Name}
	if err := dotferry.CheckAppName(app.Name); err != nil {
		return res, "", err
	}
	if err := s.reachable(ctx); err != nil {
		return res, "", err
	}
	pin := ""
	if st, err := s.readState(ctx, app); err != nil {
		// Without its records the app is diffed at the branch head, as
		// an app that never synced.
		s.log.Debug("diff: the app's records could not be read", "app", app.Name, "error", err)
	} else if st != nil && st.Pin != nil {
		pin = st.Pin.Revision
	}
	rendered, err := s.Render(ctx, app, pin)
	if err != nil {
		return res, pin, err
	}
	res, err = s.Diff(ctx, app, rendered)
	return res, pin, err
}
