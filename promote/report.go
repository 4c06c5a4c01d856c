package promote

import (
	"context"
	"fmt"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/forge"
)

// Deployer is a forge that records deployments (forge.Client).
type Deployer interface {
	ReportDeployment(ctx context.Context, owner, repo string, d forge.Deployment) (int64, error)
}

// ReportSync tells the forge what a sync did: a GitHub deployment of the
// synced commit to the environment named after the app, with a status
// success (Succeeded, every object Current), failure (Degraded) or error
// (Failed). Dry runs and syncs without a revision report nothing. It is
// idempotent: the same outcome of the same commit is reported once.
func ReportSync(ctx context.Context, f Deployer, owner, repo string, rec deploy.Record) error {
	if rec.DryRun || rec.Revision == "" || rec.App == "" {
		return nil
	}
	d := forge.Deployment{SHA: rec.Revision, Environment: rec.App}
	switch {
	case rec.Result == deploy.Succeeded && rec.Healthy():
		d.State, d.Description = "success", fmt.Sprintf("synced by Ferry: %d objects, healthy", len(rec.Objects))
	case rec.Result == deploy.Succeeded:
		d.State, d.Description = "in_progress", "synced by Ferry; rolling out"
	case rec.Result == deploy.Degraded:
		d.State, d.Description = "failure", fmt.Sprintf("synced by Ferry, not healthy (%s)", rec.Reason)
	default:
		d.State, d.Description = "error", fmt.Sprintf("sync failed (%s)", rec.Reason)
	}
	if _, err := f.ReportDeployment(ctx, owner, repo, d); err != nil {
		return fmt.Errorf("reporting the sync of %s to the forge: %w", rec.App, err)
	}
	return nil
}
