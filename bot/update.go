package bot

import (
	"context"
	"fmt"

	"github.com/ferrygitops/ferry/updater"
)

// UpdateResult is what `ferry update` changed in a working tree, or would
// change (DryRun), from a scan's Report.
type UpdateResult struct {
	DryRun  bool             `json:"dryRun"`
	Changes []updater.Change `json:"changes"`
	Held    []HeldRef        `json:"held,omitempty"`
	Written []string         `json:"written"`
	Diff    string           `json:"diff,omitempty"`
	Report  *Report          `json:"scan"`
}

// HeldRef is a reference left alone on purpose (ahead, unmanaged,
// blocked, refused).
type HeldRef struct {
	File    string         `json:"file"`
	Line    int            `json:"line"`
	Policy  string         `json:"policy"`
	Current string         `json:"current"`
	Status  updater.Status `json:"status"`
	Why     string         `json:"why,omitempty"`
}

// Update rewrites the references rep plans to change in the working tree
// dir, atomically (all or nothing); with dryRun it writes nothing and
// gives the unified diff instead.
func Update(ctx context.Context, dir string, rep *Report, dryRun bool) (*UpdateResult, error) {
	res := &UpdateResult{DryRun: dryRun, Changes: rep.Changes(), Written: []string{}, Report: rep}
	if res.Changes == nil {
		res.Changes = []updater.Change{}
	}
	for _, d := range rep.Decisions {
		switch d.Status {
		case updater.StatusAhead, updater.StatusUnmanaged, updater.StatusBlocked, updater.StatusRefused:
			res.Held = append(res.Held, HeldRef{File: d.File, Line: d.Line, Policy: d.Policy, Current: d.Current, Status: d.Status, Why: d.Why})
		}
	}
	if dryRun {
		diff, err := updater.Diff(dir, res.Changes)
		if err != nil {
			return nil, err
		}
		res.Diff = diff
		return res, nil
	}
	if len(res.Changes) > 0 {
		written, err := updater.Apply(ctx, dir, res.Changes)
		if err != nil {
			return nil, fmt.Errorf("nothing was written: %w", err)
		}
		res.Written = written
	}
	return res, nil
}
