package forge

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Status is a commit status (POST /repos/{owner}/{repo}/statuses/{sha}).
type Status struct {
	State       string // error, failure, pending or success
	Context     string // e.g. "ferry/promotion"
	Description string // at most 140 characters (longer is cut)
	TargetURL   string
}

// SetStatus sets a commit status on sha, unless the newest status of the
// same context there already says the same (so repeated runs write
// nothing).
func (c *Client) SetStatus(ctx context.Context, owner, repo, sha string, s Status) error {
	where := fmt.Sprintf("commit status %s on %s/%s@%.12s", s.Context, owner, repo, sha)
	switch s.State {
	case "error", "failure", "pending", "success":
	default:
		return fmt.Errorf("%s: state %q is not error, failure, pending or success", where, s.State)
	}
	desc := truncate(s.Description, 140, "…")
	var list []*github.RepoStatus
	if err := c.do(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		list, resp, err = c.gh.Repositories.ListStatuses(ctx, owner, repo, sha, &github.ListOptions{PerPage: 100})
		return resp, err
	}); err != nil {
		return c.redact(fmt.Errorf("%s: list: %w", where, err))
	}
	for _, st := range list { // newest first
		if st.GetContext() != s.Context {
			continue
		}
		if st.GetState() == s.State && st.GetDescription() == desc && st.GetTargetURL() == s.TargetURL {
			return nil
		}
		break
	}
	rs := &github.RepoStatus{State: github.String(s.State), Context: github.String(s.Context), Description: github.String(desc)}
	if s.TargetURL != "" {
		rs.TargetURL = github.String(s.TargetURL)
	}
	if err := c.do(ctx, func() (*github.Response, error) {
		_, resp, err := c.gh.Repositories.CreateStatus(ctx, owner, repo, sha, rs)
		return resp, err
	}); err != nil {
		return c.redact(fmt.Errorf("%s: %w", where, err))
	}
	return nil
}

// Deployment is what a sync reports to GitHub's deployments: sha deployed
// to Environment (an app's name) with State (success, failure, error,
// in_progress, queued, pending or inactive).
type Deployment struct {
	SHA         string
	Environment string
	State       string
	Description string // at most 140 characters (longer is cut)
	LogURL      string
}

// ReportDeployment records d: it finds GitHub's deployment of the commit
// to the environment (creating it, without auto-merge and without required
// contexts, when there is none) and adds a deployment status unless its
// newest one already says the same. It returns the deployment's id.
func (c *Client) ReportDeployment(ctx context.Context, owner, repo string, d Deployment) (int64, error) {
	where := fmt.Sprintf("deployment of %s/%s@%.12s to %s", owner, repo, d.SHA, d.Environment)
	if strings.TrimSpace(d.SHA) == "" || strings.TrimSpace(d.Environment) == "" {
		return 0, fmt.Errorf("%s: sha and environment must be set", where)
	}
	desc := truncate(d.Description, 140, "…")
	var found []*github.Deployment
	if err := c.do(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		found, resp, err = c.gh.Repositories.ListDeployments(ctx, owner, repo, &github.DeploymentsListOptions{SHA: d.SHA, Environment: d.Environment, ListOptions: github.ListOptions{PerPage: 1}})
		return resp, err
	}); err != nil {
		return 0, c.redact(fmt.Errorf("%s: list: %w", where, err))
	}
	var id int64
	if len(found) > 0 {
		id = found[0].GetID()
		var statuses []*github.DeploymentStatus
		if err := c.do(ctx, func() (*github.Response, error) {
			var resp *github.Response
			var err error
			statuses, resp, err = c.gh.Repositories.ListDeploymentStatuses(ctx, owner, repo, id, &github.ListOptions{PerPage: 1})
			return resp, err
		}); err != nil {
			return id, c.redact(fmt.Errorf("%s: list statuses: %w", where, err))
		}
		if len(statuses) > 0 && statuses[0].GetState() == d.State && statuses[0].GetDescription() == desc {
			return id, nil
		}
	} else {
		req := &github.DeploymentRequest{
			Ref: github.String(d.SHA), Environment: github.String(d.Environment), Description: github.String(desc),
			AutoMerge: github.Bool(false), RequiredContexts: &[]string{}, Task: github.String("deploy"),
		}
		if err := c.do(ctx, func() (*github.Response, error) {
			dep, resp, err := c.gh.Repositories.CreateDeployment(ctx, owner, repo, req)
			if err == nil {
				id = dep.GetID()
			}
			return resp, err
		}); err != nil {
			return 0, c.redact(fmt.Errorf("%s: create: %w", where, err))
		}
	}
	sreq := &github.DeploymentStatusRequest{State: github.String(d.State), Description: github.String(desc), Environment: github.String(d.Environment)}
	if d.LogURL != "" {
		sreq.LogURL = github.String(d.LogURL)
	}
	if err := c.do(ctx, func() (*github.Response, error) {
		_, resp, err := c.gh.Repositories.CreateDeploymentStatus(ctx, owner, repo, id, sreq)
		return resp, err
	}); err != nil {
		return id, c.redact(fmt.Errorf("%s: status: %w", where, err))
	}
	return id, nil
}
