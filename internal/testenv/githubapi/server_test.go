package githubapi

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

const (
	owner = "acme"
	name  = "fleet"
	repo  = owner + "/" + name
)

// setup starts a server with acme/fleet holding main and ferry/app (one
// commit ahead).
func setup(t *testing.T, opts ...Option) (*Server, *MemGit) {
	t.Helper()
	git := NewMemGit()
	git.Commit(repo, "main")
	git.Commit(repo, "ferry/app")
	srv := NewServer(git, opts...)
	t.Cleanup(srv.Close)
	srv.AddRepo(owner, name)
	return srv, git
}

func client(t *testing.T, srv *Server, token string) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(srv.BaseURL(), srv.UploadURL())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// raw sends one request and returns status, decoded JSON body and headers.
func raw(t *testing.T, srv *Server, method, path, auth, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/api/v3"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(data) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s %s: bad JSON %q", method, path, data)
		}
	}
	return resp.StatusCode, m, resp.Header
}

func errorResponse(t *testing.T, err error) *github.ErrorResponse {
	t.Helper()
	var er *github.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("error %v (%T) is not an ErrorResponse", err, err)
	}
	return er
}

func TestPullRequestLifecycleThroughGoGitHub(t *testing.T) {
	srv, git := setup(t)
	gh := client(t, srv, DefaultToken)
	ctx := context.Background()

	pr, resp, err := gh.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{
		Title: github.String("Update app"), Head: github.String(owner + ":ferry/app"),
		Base: github.String("main"), Body: github.String("body"), Draft: github.Bool(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || pr.GetNumber() != 1 || pr.GetState() != "open" ||
		pr.GetHead().GetRef() != "ferry/app" || pr.GetHead().GetLabel() != "acme:ferry/app" ||
		pr.GetBase().GetRef() != "main" || pr.GetUser().GetLogin() != DefaultLogin ||
		!strings.HasSuffix(pr.GetHTMLURL(), "/acme/fleet/pull/1") {
		t.Fatalf("created %+v (status %d)", pr, resp.StatusCode)
	}
	for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used", "X-RateLimit-Resource"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}

	list, _, err := gh.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{Head: owner + ":ferry/app"})
	if err != nil || len(list) != 1 || list[0].GetNumber() != 1 {
		t.Fatalf("list: %v %v", list, err)
	}

	if _, _, err := gh.PullRequests.Edit(ctx, owner, name, 1, &github.PullRequest{Title: github.String("New title"), Body: github.String("new body")}); err != nil {
		t.Fatal(err)
	}
	labels, _, err := gh.Issues.AddLabelsToIssue(ctx, owner, name, 1, []string{"ferry", "Automated"})
	if err != nil || len(labels) != 2 {
		t.Fatalf("labels: %v %v", labels, err)
	}
	labels, _, err = gh.Issues.AddLabelsToIssue(ctx, owner, name, 1, []string{"FERRY", "deps"})
	if err != nil || len(labels) != 3 {
		t.Fatalf("labels are case-insensitive: %v %v", labels, err)
	}
	if _, _, err := gh.PullRequests.RequestReviewers(ctx, owner, name, 1, github.ReviewersRequest{Reviewers: []string{"alice"}, TeamReviewers: []string{"platform"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Issues.AddAssignees(ctx, owner, name, 1, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.Issues.CreateComment(ctx, owner, name, 1, &github.IssueComment{Body: github.String("hello")}); err != nil {
		t.Fatal(err)
	}
	comments, _, err := gh.Issues.ListComments(ctx, owner, name, 1, nil)
	if err != nil || len(comments) != 1 || comments[0].GetBody() != "hello" {
		t.Fatalf("comments: %v %v", comments, err)
	}
	got, _, err := gh.PullRequests.Get(ctx, owner, name, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetTitle() != "New title" || got.GetBody() != "new body" || len(got.Labels) != 3 ||
		len(got.RequestedReviewers) != 1 || len(got.RequestedTeams) != 1 || len(got.Assignees) != 1 ||
		got.GetComments() != 1 || !got.GetMergeable() {
		t.Fatalf("got %+v", got)
	}

	// Merge with a stale sha is refused; with the right one it merges.
	if _, _, err := gh.PullRequests.Merge(ctx, owner, name, 1, "", &github.PullRequestOptions{SHA: "deadbeef"}); errorResponse(t, err).Response.StatusCode != http.StatusConflict {
		t.Fatalf("stale sha: %v", err)
	}
	res, _, err := gh.PullRequests.Merge(ctx, owner, name, 1, "ship it", &github.PullRequestOptions{SHA: got.GetHead().GetSHA()})
	if err != nil || !res.GetMerged() {
		t.Fatalf("merge: %v %v", res, err)
	}
	snap, _ := srv.PullRequest(owner, name, 1)
	if !snap.Merged || snap.State != "closed" || snap.MergeCommitSHA != res.GetSHA() {
		t.Fatalf("after merge: %+v", snap)
	}
	if sha, _ := git.Head(repo, "main"); sha != res.GetSHA() {
		t.Fatalf("main at %s, merge commit %s", sha, res.GetSHA())
	}
	if _, _, err := gh.PullRequests.Merge(ctx, owner, name, 1, "", nil); errorResponse(t, err).Response.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("merging a closed pull request: %v", err)
	}
	if _, _, err := gh.PullRequests.Edit(ctx, owner, name, 1, &github.PullRequest{State: github.String("open")}); errorResponse(t, err).Response.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("reopening a merged pull request: %v", err)
	}

	if _, err := gh.Git.DeleteRef(ctx, owner, name, "heads/ferry/app"); err != nil {
		t.Fatal(err)
	}
	if _, ok := git.Head(repo, "ferry/app"); ok {
		t.Fatal("branch not deleted")
	}
	_, err = gh.Git.DeleteRef(ctx, owner, name, "heads/ferry/app")
	if er := errorResponse(t, err); er.Response.StatusCode != http.StatusUnprocessableEntity || er.Message != "Reference does not exist" {
		t.Fatalf("deleting a missing ref: %v", err)
	}

	if n := srv.Writes(); n != 13 {
		t.Errorf("Writes() = %d, want 13", n)
	}
	if n := srv.Requests(RouteCreatePull); n != 1 {
		t.Errorf("Requests(RouteCreatePull) = %d", n)
	}
	if n := srv.Requests(RouteDeleteRef); n != 2 {
		t.Errorf("Requests(RouteDeleteRef) = %d", n)
	}
}

func TestCreateValidation(t *testing.T) {
	srv, git := setup(t)
	gh := client(t, srv, DefaultToken)
	ctx := context.Background()
	create := func(head, base, title string) (*github.PullRequest, error) {
		pr, _, err := gh.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{Title: &title, Head: &head, Base: &base})
		return pr, err
	}
	if _, err := create("ferry/app", "main", "t"); err != nil {
		t.Fatal(err)
	}

	_, err := create("acme:ferry/app", "main", "again")
	er := errorResponse(t, err)
	if er.Response.StatusCode != 422 || er.Message != "Validation Failed" || len(er.Errors) != 1 ||
		er.Errors[0].Resource != "PullRequest" || er.Errors[0].Code != "custom" ||
		er.Errors[0].Message != "A pull request already exists for acme:ferry/app." {
		t.Fatalf("duplicate: %+v", er)
	}

	git.Commit(repo, "develop")
	if _, err := create("ferry/app", "develop", "other base"); err != nil {
		t.Fatalf("another base is allowed: %v", err)
	}

	cases := []struct {
		head, base, title string
		field, code, msg  string
	}{
		{"ferry/missing", "main", "t", "head", "invalid", ""},
		{"ferry/app", "missing", "t", "base", "invalid", ""},
		{"other:ferry/app", "main", "t", "head", "invalid", ""},
		{"ferry/app", "main", "  ", "title", "missing_field", ""},
		{"ferry/app", "main", strings.Repeat("x", 257), "title", "custom", "title is too long (maximum is 256 characters)"},
	}
	for _, c := range cases {
		_, err := create(c.head, c.base, c.title)
		er := errorResponse(t, err)
		if er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Field != c.field || er.Errors[0].Code != c.code || er.Errors[0].Message != c.msg {
			t.Errorf("%s→%s %q: %+v", c.head, c.base, c.title, er.Errors)
		}
	}

	git.Fork(repo, "main", "ferry/empty")
	_, err = create("ferry/empty", "main", "t")
	if er := errorResponse(t, err); len(er.Errors) != 1 || er.Errors[0].Message != "No commits between main and ferry/empty" {
		t.Fatalf("no commits: %+v", er)
	}

	// Raw bodies: malformed, wrong types, missing properties.
	auth := "token " + DefaultToken
	for _, c := range []struct {
		body   string
		status int
		msg    string
	}{
		{`{"title":`, 400, "Problems parsing JSON"},
		{`[1]`, 422, "Invalid request.\n\nFor 'links/0/schema', [1] is not an object."},
		{`{"title":"t","base":"main"}`, 422, "Invalid request.\n\n\"head\" wasn't supplied."},
		{`{"title":5,"head":"ferry/app","base":"main"}`, 422, "Invalid request.\n\nFor 'properties/title', 5 is not a string."},
		{`{"title":"t","head":"ferry/app","base":"main","draft":"yes"}`, 422, "Invalid request.\n\nFor 'properties/draft', \"yes\" is not a boolean."},
		{`{"head":"ferry/app","base":"main"}`, 422, "Invalid request.\n\n\"title\" wasn't supplied."},
	} {
		st, m, _ := raw(t, srv, "POST", "/repos/acme/fleet/pulls", auth, c.body)
		if st != c.status || m["message"] != c.msg {
			t.Errorf("%s: %d %v", c.body, st, m)
		}
	}
	if st, m, _ := raw(t, srv, "PATCH", "/repos/acme/fleet/pulls/1", auth, `{"state":"merged"}`); st != 422 || !strings.Contains(m["message"].(string), "is not a member of") {
		t.Errorf("bad state: %d %v", st, m)
	}
	if st, _, _ := raw(t, srv, "GET", "/repos/acme/nope/pulls", auth, ""); st != 404 {
		t.Errorf("unknown repository: %d", st)
	}
	if st, _, _ := raw(t, srv, "GET", "/repos/acme/fleet/pulls/99", auth, ""); st != 404 {
		t.Errorf("unknown pull request: %d", st)
	}
	if st, _, _ := raw(t, srv, "GET", "/repos/acme/fleet/issues", auth, ""); st != 404 {
		t.Errorf("unserved route: %d", st)
	}
	if got := len(srv.PullRequests(owner, name)); got != 2 {
		t.Fatalf("%d pull requests, want 2", got)
	}
}

func TestUpdateRules(t *testing.T) {
	srv, git := setup(t)
	ctx := context.Background()
	gh := client(t, srv, DefaultToken)
	git.Commit(repo, "develop")
	for _, base := range []string{"main", "develop"} {
		if _, err := srv.OpenPullRequest(owner, name, NewPR{Head: "ferry/app", Base: base, Title: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	// Retargeting #2 onto main would duplicate #1.
	_, _, err := gh.PullRequests.Edit(ctx, owner, name, 2, &github.PullRequest{Base: &github.PullRequestBranch{Ref: github.String("main")}})
	if er := errorResponse(t, err); er.Response.StatusCode != 422 || len(er.Errors) != 1 || !strings.Contains(er.Errors[0].Message, "already exists") {
		t.Fatalf("retarget onto a duplicate: %v", err)
	}
	if _, _, err := gh.PullRequests.Edit(ctx, owner, name, 1, &github.PullRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := gh.PullRequests.Edit(ctx, owner, name, 2, &github.PullRequest{Base: &github.PullRequestBranch{Ref: github.String("main")}}); err != nil {
		t.Fatalf("retarget once #1 is closed: %v", err)
	}
	// Reopening #1 now duplicates #2.
	if _, _, err := gh.PullRequests.Edit(ctx, owner, name, 1, &github.PullRequest{State: github.String("open")}); err == nil {
		t.Fatal("reopening a duplicate succeeded")
	}
	// Deleting the branch closes #2; it cannot be reopened.
	if _, err := gh.Git.DeleteRef(ctx, owner, name, "heads/ferry/app"); err != nil {
		t.Fatal(err)
	}
	if p, _ := srv.PullRequest(owner, name, 2); p.State != "closed" {
		t.Fatalf("#2 is %s after its branch was deleted", p.State)
	}
	_, _, err = gh.PullRequests.Edit(ctx, owner, name, 2, &github.PullRequest{State: github.String("open")})
	if er := errorResponse(t, err); len(er.Errors) != 1 || !strings.Contains(er.Errors[0].Message, "branch has been deleted") {
		t.Fatalf("reopen without branch: %v", err)
	}
	// Requesting a review from the author is refused.
	git.Commit(repo, "ferry/b")
	pr, _, err := gh.PullRequests.Create(ctx, owner, name, &github.NewPullRequest{Title: github.String("b"), Head: github.String("ferry/b"), Base: github.String("main"), Draft: github.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = gh.PullRequests.RequestReviewers(ctx, owner, name, pr.GetNumber(), github.ReviewersRequest{Reviewers: []string{DefaultLogin}})
	if er := errorResponse(t, err); er.Message != "Review cannot be requested from pull request author." {
		t.Fatalf("review from author: %v", err)
	}
	if _, _, err := gh.PullRequests.Merge(ctx, owner, name, pr.GetNumber(), "", nil); errorResponse(t, err).Message != "Pull Request is still a draft" {
		t.Fatalf("merge a draft: %v", err)
	}
	if _, _, err := gh.Issues.CreateComment(ctx, owner, name, pr.GetNumber(), &github.IssueComment{Body: github.String(" ")}); errorResponse(t, err).Response.StatusCode != 422 {
		t.Fatalf("blank comment: %v", err)
	}
}

func TestListPaginationAndFilters(t *testing.T) {
	clock := newFakeClock()
	srv, git := setup(t, WithClock(clock.Now))
	for i := range 120 {
		branch := fmt.Sprintf("feature/%03d", i)
		git.Commit(repo, branch)
		if _, err := srv.OpenPullRequest(owner, name, NewPR{Head: branch, Base: "main", Title: branch}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	gh := client(t, srv, DefaultToken)
	ctx := context.Background()

	// Closed #5 only shows with state=closed or all.
	if _, _, err := gh.PullRequests.Edit(ctx, owner, name, 5, &github.PullRequest{State: github.String("closed")}); err != nil {
		t.Fatal(err)
	}

	var all []*github.PullRequest
	opts := &github.PullRequestListOptions{ListOptions: github.ListOptions{PerPage: 500}}
	pages := 0
	for {
		page, resp, err := gh.PullRequests.List(ctx, owner, name, opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if pages == 1 {
			if len(page) != 100 || resp.NextPage != 2 || resp.LastPage != 2 {
				t.Fatalf("page 1: %d items, next %d, last %d (per_page is capped at 100)", len(page), resp.NextPage, resp.LastPage)
			}
			if !strings.Contains(resp.Header.Get("Link"), `rel="next"`) {
				t.Fatalf("Link %q", resp.Header.Get("Link"))
			}
		}
		all = append(all, page...)
		if resp.NextPage == 0 {
			if resp.PrevPage != 1 || resp.FirstPage != 1 {
				t.Fatalf("last page: prev %d first %d", resp.PrevPage, resp.FirstPage)
			}
			break
		}
		opts.Page = resp.NextPage
	}
	if len(all) != 119 || pages != 2 {
		t.Fatalf("%d open pull requests in %d pages, want 119 in 2", len(all), pages)
	}
	// Newest first.
	if all[0].GetNumber() != 120 || all[118].GetNumber() != 1 {
		t.Fatalf("order: first #%d, last #%d", all[0].GetNumber(), all[118].GetNumber())
	}

	list, _, err := gh.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{State: "all", Head: "acme:feature/004"})
	if err != nil || len(list) != 1 || list[0].GetNumber() != 5 || list[0].GetState() != "closed" {
		t.Fatalf("head filter: %v %v", list, err)
	}
	list, _, err = gh.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{Head: "acme:feature/004"})
	if err != nil || len(list) != 0 {
		t.Fatalf("closed one listed as open: %v %v", list, err)
	}
	// A head without its owner is ignored, as GitHub does.
	list, _, err = gh.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{Head: "feature/004"})
	if err != nil || len(list) != 30 {
		t.Fatalf("ownerless head: %d items, %v; want the unfiltered default page of 30", len(list), err)
	}
	list, _, err = gh.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{State: "all", Direction: "asc", ListOptions: github.ListOptions{PerPage: 3, Page: 2}})
	if err != nil || len(list) != 3 || list[0].GetNumber() != 4 {
		t.Fatalf("asc page 2: %v %v", list, err)
	}
	if _, _, err := gh.PullRequests.List(ctx, owner, name, &github.PullRequestListOptions{State: "merged"}); errorResponse(t, err).Response.StatusCode != 422 {
		t.Fatalf("bad state filter: %v", err)
	}
}

func TestAuthentication(t *testing.T) {
	srv, _ := setup(t, WithToken("ghp_good", "alice"))
	for _, c := range []struct {
		auth   string
		status int
	}{
		{"", 401},
		{"Bearer ghp_bad", 401},
		{"Basic Z2hwX2dvb2Q=", 401},
		{"Bearer " + DefaultToken, 401}, // only the configured token
		{"Bearer ghp_good", 200},
		{"token ghp_good", 200},
	} {
		st, m, hdr := raw(t, srv, "GET", "/repos/acme/fleet/pulls/1", c.auth, "")
		if c.status == 200 {
			if st != 404 { // authenticated: the pull request does not exist
				t.Errorf("%q: %d", c.auth, st)
			}
			continue
		}
		if st != c.status || m["message"] != "Bad credentials" {
			t.Errorf("%q: %d %v", c.auth, st, m)
		}
		if hdr.Get("X-RateLimit-Limit") == "" {
			t.Errorf("%q: no rate limit headers", c.auth)
		}
	}
	req, _ := http.NewRequest("GET", srv.BaseURL()+"rate_limit", nil)
	req.Header.Set("Authorization", "token ghp_good")
	req.Header.Set("X-GitHub-Api-Version", "2021-01-01")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unknown API version: %d", resp.StatusCode)
	}
	if calls := srv.Calls(); len(calls) != 7 || calls[4].Login != "alice" {
		t.Errorf("calls: %+v", calls)
	}
}

func TestPrimaryRateLimit(t *testing.T) {
	clock := newFakeClock()
	srv, _ := setup(t, WithClock(clock.Now), WithRateLimit(3, time.Hour))
	gh := client(t, srv, DefaultToken)
	ctx := context.Background()
	for i := range 3 {
		_, resp, err := gh.PullRequests.List(ctx, owner, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Rate.Remaining != 2-i || resp.Rate.Limit != 3 || resp.Header.Get("X-RateLimit-Used") != strconv.Itoa(i+1) {
			t.Fatalf("request %d: rate %+v", i, resp.Rate)
		}
	}
	// GET /rate_limit does not count.
	rl, _, err := gh.RateLimit.Get(ctx)
	if err != nil || rl.Core.Remaining != 0 || rl.Core.Limit != 3 {
		t.Fatalf("rate_limit: %+v %v", rl, err)
	}
	// A fresh client (no client-side memory) gets GitHub's 403.
	st, m, hdr := raw(t, srv, "GET", "/repos/acme/fleet/pulls", "token "+DefaultToken, "")
	if st != 403 || hdr.Get("X-RateLimit-Remaining") != "0" || !strings.HasPrefix(m["message"].(string), "API rate limit exceeded") {
		t.Fatalf("over the limit: %d %v %v", st, m, hdr)
	}
	reset, _ := strconv.ParseInt(hdr.Get("X-RateLimit-Reset"), 10, 64)
	if want := clock.Now().Add(time.Hour).Unix(); reset != want {
		t.Fatalf("reset %d, want %d", reset, want)
	}
	_, _, err = client(t, srv, DefaultToken).PullRequests.List(ctx, owner, name, nil)
	var rle *github.RateLimitError
	if !errors.As(err, &rle) {
		t.Fatalf("go-github sees %T %v", err, err)
	}
	clock.Advance(time.Hour)
	if st, _, hdr := raw(t, srv, "GET", "/repos/acme/fleet/pulls", "token "+DefaultToken, ""); st != 200 || hdr.Get("X-RateLimit-Remaining") != "2" {
		t.Fatalf("after the reset: %d %v", st, hdr)
	}
}

func TestFaults(t *testing.T) {
	srv, _ := setup(t)
	gh := client(t, srv, DefaultToken)
	ctx := context.Background()

	srv.FailNext(1, SecondaryRateLimit(90*time.Second))
	_, _, err := gh.PullRequests.List(ctx, owner, name, nil)
	var are *github.AbuseRateLimitError
	if !errors.As(err, &are) || are.RetryAfter == nil || *are.RetryAfter != 90*time.Second {
		t.Fatalf("secondary limit: %T %v", err, err)
	}

	gh = client(t, srv, DefaultToken) // go-github now refuses locally until Retry-After
	srv.FailNext(2, Fault{Status: 502, Message: "Bad Gateway", WritesOnly: true})
	if _, _, err := gh.PullRequests.List(ctx, owner, name, nil); err != nil {
		t.Fatalf("reads are not affected by a writes-only fault: %v", err)
	}
	for range 2 {
		_, _, err := gh.Issues.CreateComment(ctx, owner, name, 1, &github.IssueComment{Body: github.String("x")})
		if er := errorResponse(t, err); er.Response.StatusCode != 502 {
			t.Fatalf("fault: %v", err)
		}
	}
	// The faults are spent: the pull request does not exist.
	_, _, err = gh.Issues.CreateComment(ctx, owner, name, 1, &github.IssueComment{Body: github.String("x")})
	if er := errorResponse(t, err); er.Response.StatusCode != 404 {
		t.Fatalf("after the faults: %v", err)
	}
	srv.FailNext(1, Fault{Status: 500, Message: "Server Error", Route: RouteGetPull})
	if _, _, err := gh.PullRequests.List(ctx, owner, name, nil); err != nil {
		t.Fatalf("another route: %v", err)
	}
	srv.ClearFaults()
	if _, _, err := gh.PullRequests.Get(ctx, owner, name, 1); errorResponse(t, err).Response.StatusCode != 404 {
		t.Fatalf("cleared faults: %v", err)
	}
	faults := 0
	for _, c := range srv.Calls() {
		if c.Fault {
			faults++
		}
	}
	if faults != 3 {
		t.Errorf("%d faulted calls, want 3", faults)
	}
}

var (
	keyOnce sync.Once
	appKey  *rsa.PrivateKey
)

func testKey(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		appKey = k
	})
	return appKey
}

func signJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestAppInstallationTokens(t *testing.T) {
	clock := newFakeClock()
	key := testKey(t)
	srv, _ := setup(t, WithClock(clock.Now), WithApp(App{ID: 42, InstallationID: 7, PublicKey: &key.PublicKey}))
	now := clock.Now().Unix()
	good := map[string]any{"iat": now - 60, "exp": now + 540, "iss": 42}
	other, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		auth   string
		path   string
		status int
		msg    string
	}{
		{"no jwt", "", "/app/installations/7/access_tokens", 401, "A JSON web token could not be decoded"},
		{"garbage", "Bearer a.b.c", "/app/installations/7/access_tokens", 401, "A JSON web token could not be decoded"},
		{"other key", "Bearer " + signJWT(t, other, good), "/app/installations/7/access_tokens", 401, "A JSON web token could not be decoded"},
		{"expired", "Bearer " + signJWT(t, key, map[string]any{"iat": now - 700, "exp": now - 100, "iss": 42}), "/app/installations/7/access_tokens", 401, "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"},
		{"too long", "Bearer " + signJWT(t, key, map[string]any{"iat": now, "exp": now + 660, "iss": 42}), "/app/installations/7/access_tokens", 401, "'Expiration time' claim ('exp') is too far in the future"},
		{"future iat", "Bearer " + signJWT(t, key, map[string]any{"iat": now + 30, "exp": now + 300, "iss": 42}), "/app/installations/7/access_tokens", 401, "'Issued at' claim ('iat') must be an Integer representing a time in the past"},
		{"wrong app", "Bearer " + signJWT(t, key, map[string]any{"iat": now, "exp": now + 300, "iss": 43}), "/app/installations/7/access_tokens", 401, "Integration not found"},
		{"wrong installation", "Bearer " + signJWT(t, key, good), "/app/installations/8/access_tokens", 404, "Not Found"},
		{"jwt on a repository route", "Bearer " + signJWT(t, key, good), "/repos/acme/fleet/pulls", 401, "Bad credentials"},
	} {
		st, m, _ := raw(t, srv, "POST", c.path, c.auth, "")
		if st != c.status || m["message"] != c.msg {
			t.Errorf("%s: %d %v", c.name, st, m)
		}
	}

	gh := client(t, srv, signJWT(t, key, map[string]any{"iat": now - 60, "exp": now + 540, "iss": "42"}))
	tok, _, err := gh.Apps.CreateInstallationToken(context.Background(), 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.GetToken(), "ghs_") || !tok.GetExpiresAt().Time.Equal(clock.Now().Add(time.Hour)) {
		t.Fatalf("token %+v", tok)
	}
	if srv.InstallationTokensMinted() != 1 || srv.Writes() != 1 { // the refused POST /repos/.../pulls
		t.Fatalf("minted %d, writes %d", srv.InstallationTokensMinted(), srv.Writes())
	}
	if st, _, _ := raw(t, srv, "GET", "/repos/acme/fleet/pulls", "token "+tok.GetToken(), ""); st != 200 {
		t.Fatalf("installation token refused: %d", st)
	}
	_, _, err = client(t, srv, tok.GetToken()).PullRequests.Create(context.Background(), owner, name, &github.NewPullRequest{
		Title: github.String("t"), Head: github.String("ferry/app"), Base: github.String("main")})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := srv.PullRequest(owner, name, 1); p.User != "ferry[bot]" {
		t.Fatalf("opened by %q", p.User)
	}
	clock.Advance(time.Hour)
	if st, m, _ := raw(t, srv, "GET", "/repos/acme/fleet/pulls", "token "+tok.GetToken(), ""); st != 401 || m["message"] != "Bad credentials" {
		t.Fatalf("expired installation token: %d %v", st, m)
	}
}

func TestConcurrentCreatesMakeOnePullRequest(t *testing.T) {
	srv, _ := setup(t)
	gh := client(t, srv, DefaultToken)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, dup := 0, 0
	for range 8 {
		wg.Go(func() {
			_, _, err := gh.PullRequests.Create(context.Background(), owner, name, &github.NewPullRequest{
				Title: github.String("t"), Head: github.String("ferry/app"), Base: github.String("main")})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				created++
			} else if er := (*github.ErrorResponse)(nil); errors.As(err, &er) && er.Response.StatusCode == 422 {
				dup++
			}
		})
	}
	wg.Wait()
	if created != 1 || dup != 7 || len(srv.PullRequests(owner, name)) != 1 {
		t.Fatalf("created %d, duplicates %d, stored %d", created, dup, len(srv.PullRequests(owner, name)))
	}
}
