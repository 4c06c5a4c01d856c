package forge

import (
	"context"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
)

func TestSetStatusIsIdempotent(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	ctx := context.Background()
	sha, _ := e.git.Head(repo, "ferry/app")
	st := Status{State: "success", Context: "ferry/promotion", Description: strings.Repeat("x", 200)}
	for range 2 {
		if err := c.SetStatus(ctx, owner, name, sha, st); err != nil {
			t.Fatal(err)
		}
	}
	got := e.srv.Statuses(owner, name, sha)
	if len(got) != 1 || got[0].State != "success" || got[0].Context != "ferry/promotion" || len([]rune(got[0].Description)) != 140 {
		t.Fatalf("statuses = %+v", got)
	}
	st.State = "failure"
	if err := c.SetStatus(ctx, owner, name, sha, st); err != nil {
		t.Fatal(err)
	}
	if got := e.srv.Statuses(owner, name, sha); len(got) != 2 || got[1].State != "failure" {
		t.Fatalf("statuses = %+v", got)
	}
	if err := c.SetStatus(ctx, owner, name, "main", Status{State: "success", Context: "x"}); err == nil || !strings.Contains(err.Error(), "No commit found") {
		t.Errorf("a branch name as SHA: %v", err)
	}
	if err := c.SetStatus(ctx, owner, name, sha, Status{State: "done", Context: "x"}); err == nil {
		t.Error("an unknown state was accepted")
	}
}

func TestReportDeploymentOnePerCommitAndEnvironment(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, nil)
	ctx := context.Background()
	sha, _ := e.git.Head(repo, "main")
	// A failing status of another context does not stop the deployment
	// (Ferry sends required_contexts: []).
	if err := c.SetStatus(ctx, owner, name, sha, Status{State: "failure", Context: "ci"}); err != nil {
		t.Fatal(err)
	}
	id, err := c.ReportDeployment(ctx, owner, name, Deployment{SHA: sha, Environment: "web-staging", State: "success", Description: "synced, healthy"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.ReportDeployment(ctx, owner, name, Deployment{SHA: sha, Environment: "web-staging", State: "success", Description: "synced, healthy"})
	if err != nil || again != id {
		t.Fatalf("second report: %d %v (first %d)", again, err, id)
	}
	if _, err := c.ReportDeployment(ctx, owner, name, Deployment{SHA: sha, Environment: "web-production", State: "failure", Description: "degraded"}); err != nil {
		t.Fatal(err)
	}
	deps := e.srv.Deployments(owner, name)
	if len(deps) != 2 {
		t.Fatalf("deployments = %+v", deps)
	}
	if d := deps[0]; d.Environment != "web-staging" || d.SHA != sha || !d.AutoMergeSent || len(d.Statuses) != 1 || d.Statuses[0].State != "success" {
		t.Errorf("staging deployment = %+v", d)
	}
	if d := deps[1]; d.Environment != "web-production" || len(d.Statuses) != 1 || d.Statuses[0].State != "failure" {
		t.Errorf("production deployment = %+v", d)
	}
	if n := e.srv.Requests(githubapi.RouteCreateDeployment); n != 2 {
		t.Errorf("%d deployments created, want 2", n)
	}
	// A newer commit deployed to staging: GitHub marks the earlier one inactive.
	newer := e.git.Commit(repo, "main")
	if _, err := c.ReportDeployment(ctx, owner, name, Deployment{SHA: newer, Environment: "web-staging", State: "success"}); err != nil {
		t.Fatal(err)
	}
	deps = e.srv.Deployments(owner, name)
	if st := deps[0].Statuses; len(st) != 2 || st[1].State != "inactive" {
		t.Errorf("the earlier staging deployment's statuses: %+v", st)
	}
}
