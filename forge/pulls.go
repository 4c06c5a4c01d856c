package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/google/go-github/v60/github"
)

// GitHub's limits on pull request text.
const (
	maxTitle     = 256
	maxBody      = 65536
	maxLabelName = 50
)

// PullRequest is the pull request Ferry wants for one branch.
type PullRequest struct {
	Owner, Repo string // the repository; the head branch is in it too
	Base        string // branch to merge into, e.g. "main"
	Head        string // Ferry's branch, e.g. "ferry/<group>"
	Title, Body string
	// Labels, reviewers, team reviewers and assignees are added when
	// missing, on every call, and never removed: a run that died after
	// creating the pull request left them out, and the next one adds them.
	// What people added by hand stays.
	Labels        []string
	Reviewers     []string // logins
	TeamReviewers []string // team slugs ("team" or "org/team")
	Assignees     []string // logins
	// Draft applies when the pull request is created: GitHub's REST API
	// cannot change it afterwards, and people mark a pull request ready.
	Draft bool
}

// Outcome is what Ensure or Close did.
type Outcome string

// Outcomes.
const (
	OutcomeCreated   Outcome = "created"
	OutcomeUpdated   Outcome = "updated"
	OutcomeUnchanged Outcome = "unchanged"
	OutcomeClosed    Outcome = "closed"
)

// Result is the pull request Ensure or Close acted on.
type Result struct {
	Outcome Outcome
	Number  int    // 0 if there is none
	URL     string // the web page
	// Duplicates are the other open pull requests from the same head (opened
	// by people, or into other bases), lowest first. They are left alone.
	Duplicates []int
	// BranchDeleted is set by Close when it deleted the head branch.
	BranchDeleted bool
}

// Found is an open pull request from a head branch.
type Found struct {
	Number      int
	URL         string
	Title, Body string
	Base        string
	Labels      []string
	Draft       bool
	Author      string   // the login that opened it
	Reviewers   []string // requested reviewers (a reviewer who has reviewed is no longer requested)
	Teams       []string // requested team slugs
	Assignees   []string
	Duplicates  []int // other open pull requests from the head, lowest first
}

// Lacks reports whether the open pull request lacks a label, an assignee, a
// team reviewer, or a reviewer pr asks for. A reviewer who is not requested
// may have reviewed already (GitHub then drops the request): Ensure reads
// the reviews before asking again, so Lacks errs on the side of true.
func (f *Found) Lacks(pr PullRequest) bool {
	missing := func(want, have []string, skip string) bool {
		for _, w := range want {
			if !strings.EqualFold(w, skip) && !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
				return true
			}
		}
		return false
	}
	n, _ := normalize(pr)
	return missing(n.Labels, f.Labels, "") || missing(n.Assignees, f.Assignees, "") ||
		missing(n.TeamReviewers, f.Teams, "") || missing(n.Reviewers, f.Reviewers, f.Author)
}

// Ensure makes sure exactly one open pull request from pr.Head into pr.Base
// exists with pr's title, body and labels, and never opens a second one:
//
//   - None open: it is created, then labels, reviewers and assignees are
//     added, one request each and only if any: at most four writes.
//   - One open: its title, body and base are updated in one request if they
//     differ; missing labels, reviewers (and team reviewers) and assignees
//     are added, one request each, only if any is missing (the reviews are
//     read first, so a reviewer who has already reviewed is not asked
//     again); nothing is written if all match. Nothing is removed, and the
//     draft state is left as people set it.
//   - Several open (people opened more from the same branch): the one into
//     pr.Base, else the lowest-numbered, is updated (retargeted if need be)
//     and the others are reported in Result.Duplicates, untouched.
//
// If creating fails because the pull request was created meanwhile (by a
// concurrent Ferry), Ensure updates that one instead. A title longer than
// GitHub's 256 characters or a body longer than 65536 is truncated.
func (c *Client) Ensure(ctx context.Context, pr PullRequest) (Result, error) {
	pr, err := normalize(pr)
	if err != nil {
		return Result{}, fmt.Errorf("ensure pull request %s/%s %s: %w", pr.Owner, pr.Repo, pr.Head, err)
	}
	where := fmt.Sprintf("ensure pull request %s/%s %s into %s", pr.Owner, pr.Repo, pr.Head, pr.Base)
	for range 3 {
		open, err := c.listOpen(ctx, pr.Owner, pr.Repo, pr.Head)
		if err != nil {
			return Result{}, c.redact(fmt.Errorf("%s: list open pull requests: %w", where, err))
		}
		if len(open) > 0 {
			res, err := c.update(ctx, pr, open)
			if err != nil {
				return res, c.redact(fmt.Errorf("%s: %w", where, err))
			}
			return res, nil
		}
		res, err := c.create(ctx, pr)
		if errors.Is(err, errAlreadyExists) {
			continue // created meanwhile: list again and update it
		}
		if err != nil {
			return res, c.redact(fmt.Errorf("%s: %w", where, err))
		}
		return res, nil
	}
	return Result{}, fmt.Errorf("%s: github reports an open pull request that is not listed", where)
}

// errAlreadyExists is a creation refused because an open pull request from
// the head into the base exists.
var errAlreadyExists = errors.New("pull request already exists")

func normalize(pr PullRequest) (PullRequest, error) {
	for _, f := range []struct{ name, v string }{{"owner", pr.Owner}, {"repo", pr.Repo}, {"head", pr.Head}, {"base", pr.Base}} {
		if strings.TrimSpace(f.v) == "" {
			return pr, fmt.Errorf("%s is empty", f.name)
		}
		if strings.ContainsAny(f.v, " \t\r\n:") {
			return pr, fmt.Errorf("invalid %s %q", f.name, f.v)
		}
	}
	if pr.Head == pr.Base {
		return pr, fmt.Errorf("head and base are both %q", pr.Head)
	}
	pr.Title = strings.Join(strings.Fields(pr.Title), " ")
	if pr.Title == "" {
		return pr, errors.New("title is empty")
	}
	pr.Title = truncate(pr.Title, maxTitle, "…")
	pr.Body = truncate(pr.Body, maxBody, "\n\n…(truncated)")
	pr.Labels = clean(pr.Labels, nil)
	for _, l := range pr.Labels {
		if utf8.RuneCountInString(l) > maxLabelName {
			return pr, fmt.Errorf("label %q is longer than %d characters", l, maxLabelName)
		}
	}
	pr.Reviewers = clean(pr.Reviewers, nil)
	pr.TeamReviewers = clean(pr.TeamReviewers, func(t string) string {
		if _, slug, ok := strings.Cut(t, "/"); ok {
			return slug
		}
		return t
	})
	pr.Assignees = clean(pr.Assignees, nil)
	return pr, nil
}

// truncate cuts s to at most limit characters, ending with marker if cut.
func truncate(s string, limit int, marker string) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	keep := limit - utf8.RuneCountInString(marker)
	i := 0
	for n := 0; n < keep; n++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i] + marker
}

// clean trims, maps, drops empty and case-insensitively repeated entries.
func clean(list []string, mapping func(string) string) []string {
	var out []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if mapping != nil {
			s = mapping(s)
		}
		if s == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, s) }) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// listOpen returns the open pull requests from owner:head, lowest number
// first, following every page.
func (c *Client) listOpen(ctx context.Context, owner, repo, head string) ([]*github.PullRequest, error) {
	opts := &github.PullRequestListOptions{
		State:       "open",
		Head:        owner + ":" + head, // GitHub ignores a head without its owner
		ListOptions: github.ListOptions{PerPage: c.perPage},
	}
	var out []*github.PullRequest
	for pages := 0; ; pages++ {
		if pages == 100 {
			return nil, errors.New("more than 100 pages of pull requests")
		}
		var page []*github.PullRequest
		var resp *github.Response
		err := c.do(ctx, func() (*github.Response, error) {
			var err error
			page, resp, err = c.gh.PullRequests.List(ctx, owner, repo, opts)
			return resp, err
		})
		if err != nil {
			return nil, err
		}
		for _, p := range page {
			// Double-check what the filter should have done.
			labelOwner, _, _ := strings.Cut(p.GetHead().GetLabel(), ":")
			if p.GetState() == "open" && p.GetHead().GetRef() == head && (labelOwner == "" || strings.EqualFold(labelOwner, owner)) {
				out = append(out, p)
			}
		}
		if resp.NextPage == 0 || resp.NextPage <= opts.Page {
			break
		}
		opts.Page = resp.NextPage
	}
	slices.SortFunc(out, func(a, b *github.PullRequest) int { return a.GetNumber() - b.GetNumber() })
	return slices.CompactFunc(out, func(a, b *github.PullRequest) bool { return a.GetNumber() == b.GetNumber() }), nil
}

// pick returns the pull request to manage among open ones (lowest number
// first): the first into base, else the first; and the numbers of the rest.
func pick(open []*github.PullRequest, base string) (*github.PullRequest, []int) {
	i := slices.IndexFunc(open, func(p *github.PullRequest) bool { return p.GetBase().GetRef() == base })
	if i < 0 {
		i = 0
	}
	var dups []int
	for j, p := range open {
		if j != i {
			dups = append(dups, p.GetNumber())
		}
	}
	return open[i], dups
}

func (c *Client) create(ctx context.Context, pr PullRequest) (Result, error) {
	var created *github.PullRequest
	err := c.do(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		created, resp, err = c.gh.PullRequests.Create(ctx, pr.Owner, pr.Repo, &github.NewPullRequest{
			Title: github.String(pr.Title),
			Head:  github.String(pr.Head),
			Base:  github.String(pr.Base),
			Body:  github.String(pr.Body),
			Draft: github.Bool(pr.Draft),
		})
		return resp, err
	})
	if alreadyExists(err) {
		return Result{}, errAlreadyExists
	}
	if err != nil {
		return Result{}, fmt.Errorf("create: %w", err)
	}
	res := Result{Outcome: OutcomeCreated, Number: created.GetNumber(), URL: created.GetHTMLURL()}
	n := res.Number

	// Then one request each for labels, reviewers and assignees. A failure
	// leaves the pull request created: the result says so.
	if len(pr.Labels) > 0 {
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.Issues.AddLabelsToIssue(ctx, pr.Owner, pr.Repo, n, pr.Labels)
			return resp, err
		}); err != nil {
			return res, fmt.Errorf("created #%d, add labels: %w", n, err)
		}
	}
	// GitHub refuses a review request from the author.
	author := created.GetUser().GetLogin()
	reviewers := slices.DeleteFunc(slices.Clone(pr.Reviewers), func(r string) bool { return strings.EqualFold(r, author) })
	if len(reviewers) > 0 || len(pr.TeamReviewers) > 0 {
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.PullRequests.RequestReviewers(ctx, pr.Owner, pr.Repo, n,
				github.ReviewersRequest{Reviewers: reviewers, TeamReviewers: pr.TeamReviewers})
			return resp, err
		}); err != nil {
			return res, fmt.Errorf("created #%d, request reviewers: %w", n, err)
		}
	}
	if len(pr.Assignees) > 0 {
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.Issues.AddAssignees(ctx, pr.Owner, pr.Repo, n, pr.Assignees)
			return resp, err
		}); err != nil {
			return res, fmt.Errorf("created #%d, add assignees: %w", n, err)
		}
	}
	return res, nil
}

// alreadyExists reports whether err is GitHub's 422 for an open pull request
// from the same head into the same base.
func alreadyExists(err error) bool {
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response == nil || er.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	if strings.Contains(strings.ToLower(er.Message), "already exists") {
		return true
	}
	for _, e := range er.Errors {
		if strings.Contains(strings.ToLower(e.Message), "already exists") {
			return true
		}
	}
	return false
}

// sameBody compares bodies the way GitHub may hand them back.
func sameBody(a, b string) bool {
	norm := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	return norm(a) == norm(b)
}

func (c *Client) update(ctx context.Context, pr PullRequest, open []*github.PullRequest) (Result, error) {
	cur, dups := pick(open, pr.Base)
	n := cur.GetNumber()
	res := Result{Outcome: OutcomeUnchanged, Number: n, URL: cur.GetHTMLURL(), Duplicates: dups}

	edit := &github.PullRequest{}
	changed := false
	if cur.GetTitle() != pr.Title {
		edit.Title, changed = github.String(pr.Title), true
	}
	if !sameBody(cur.GetBody(), pr.Body) {
		edit.Body, changed = github.String(pr.Body), true
	}
	if cur.GetBase().GetRef() != pr.Base {
		edit.Base, changed = &github.PullRequestBranch{Ref: github.String(pr.Base)}, true
	}
	if changed {
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.PullRequests.Edit(ctx, pr.Owner, pr.Repo, n, edit)
			return resp, err
		}); err != nil {
			return res, fmt.Errorf("update #%d: %w", n, err)
		}
		res.Outcome = OutcomeUpdated
	}

	var missing []string
	for _, l := range pr.Labels {
		if !slices.ContainsFunc(cur.Labels, func(have *github.Label) bool { return strings.EqualFold(have.GetName(), l) }) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.Issues.AddLabelsToIssue(ctx, pr.Owner, pr.Repo, n, missing)
			return resp, err
		}); err != nil {
			return res, fmt.Errorf("update #%d, add labels: %w", n, err)
		}
		res.Outcome = OutcomeUpdated
	}

	wrote, err := c.repairPeople(ctx, pr, cur)
	if wrote {
		res.Outcome = OutcomeUpdated
	}
	if err != nil {
		return res, fmt.Errorf("update #%d, %w", n, err)
	}
	return res, nil
}

// repairPeople requests the reviewers and team reviewers and adds the
// assignees pr asks for that cur lacks (a run that died between creating
// the pull request and these calls left them out). It reports whether it
// wrote anything.
func (c *Client) repairPeople(ctx context.Context, pr PullRequest, cur *github.PullRequest) (bool, error) {
	n := cur.GetNumber()
	author := cur.GetUser().GetLogin()
	has := func(list []string, v string) bool {
		return slices.ContainsFunc(list, func(h string) bool { return strings.EqualFold(h, v) })
	}
	var requested, teams, assignees []string
	for _, u := range cur.RequestedReviewers {
		requested = append(requested, u.GetLogin())
	}
	for _, t := range cur.RequestedTeams {
		teams = append(teams, t.GetSlug())
	}
	for _, u := range cur.Assignees {
		assignees = append(assignees, u.GetLogin())
	}
	var wantR, wantT, wantA []string
	for _, r := range pr.Reviewers {
		if !strings.EqualFold(r, author) && !has(requested, r) {
			wantR = append(wantR, r)
		}
	}
	for _, t := range pr.TeamReviewers {
		if !has(teams, t) {
			wantT = append(wantT, t)
		}
	}
	for _, a := range pr.Assignees {
		if !has(assignees, a) {
			wantA = append(wantA, a)
		}
	}
	if len(wantR) > 0 {
		// GitHub drops the request of whoever has reviewed: they are
		// not asked again.
		reviewed, err := c.reviewers(ctx, pr.Owner, pr.Repo, n)
		if err != nil {
			return false, fmt.Errorf("list reviews: %w", err)
		}
		wantR = slices.DeleteFunc(wantR, func(r string) bool { return has(reviewed, r) })
	}
	wrote := false
	if len(wantR) > 0 || len(wantT) > 0 {
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.PullRequests.RequestReviewers(ctx, pr.Owner, pr.Repo, n,
				github.ReviewersRequest{Reviewers: wantR, TeamReviewers: wantT})
			return resp, err
		}); err != nil {
			return wrote, fmt.Errorf("request reviewers: %w", err)
		}
		wrote = true
	}
	if len(wantA) > 0 {
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.Issues.AddAssignees(ctx, pr.Owner, pr.Repo, n, wantA)
			return resp, err
		}); err != nil {
			return wrote, fmt.Errorf("add assignees: %w", err)
		}
		wrote = true
	}
	return wrote, nil
}

// reviewers returns the logins that have submitted a review of pull
// request n, following every page.
func (c *Client) reviewers(ctx context.Context, owner, repo string, n int) ([]string, error) {
	opts := &github.ListOptions{PerPage: c.perPage}
	var out []string
	for {
		var page []*github.PullRequestReview
		var resp *github.Response
		if err := c.do(ctx, func() (*github.Response, error) {
			var err error
			page, resp, err = c.gh.PullRequests.ListReviews(ctx, owner, repo, n, opts)
			return resp, err
		}); err != nil {
			return nil, err
		}
		for _, r := range page {
			out = append(out, r.GetUser().GetLogin())
		}
		if resp.NextPage == 0 || resp.NextPage <= opts.Page {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// Find returns the open pull request from head (a branch of owner/repo),
// the lowest-numbered if there are several, or nil if there is none.
func (c *Client) Find(ctx context.Context, owner, repo, head string) (*Found, error) {
	open, err := c.listOpen(ctx, owner, repo, head)
	if err != nil {
		return nil, c.redact(fmt.Errorf("find pull request %s/%s %s: %w", owner, repo, head, err))
	}
	if len(open) == 0 {
		return nil, nil
	}
	p := open[0]
	f := &Found{
		Number: p.GetNumber(), URL: p.GetHTMLURL(), Title: p.GetTitle(), Body: p.GetBody(),
		Base: p.GetBase().GetRef(), Draft: p.GetDraft(), Author: p.GetUser().GetLogin(),
	}
	for _, u := range p.RequestedReviewers {
		f.Reviewers = append(f.Reviewers, u.GetLogin())
	}
	for _, t := range p.RequestedTeams {
		f.Teams = append(f.Teams, t.GetSlug())
	}
	for _, u := range p.Assignees {
		f.Assignees = append(f.Assignees, u.GetLogin())
	}
	for _, l := range p.Labels {
		f.Labels = append(f.Labels, l.GetName())
	}
	for _, d := range open[1:] {
		f.Duplicates = append(f.Duplicates, d.GetNumber())
	}
	return f, nil
}

// Close closes the open pull request from head (the lowest-numbered if there
// are several; the others are reported as Duplicates), commenting comment
// first unless it is empty, and then deletes the head branch if deleteBranch
// (a branch already gone is fine; GitHub closes the remaining pull requests
// from a deleted branch). With no open pull request the outcome is
// OutcomeUnchanged and only the branch is deleted.
func (c *Client) Close(ctx context.Context, owner, repo, head, comment string, deleteBranch bool) (Result, error) {
	where := fmt.Sprintf("close pull request %s/%s %s", owner, repo, head)
	if strings.TrimSpace(owner) == "" || strings.TrimSpace(repo) == "" || strings.TrimSpace(head) == "" {
		return Result{}, fmt.Errorf("%s: owner, repo and head must be set", where)
	}
	open, err := c.listOpen(ctx, owner, repo, head)
	if err != nil {
		return Result{}, c.redact(fmt.Errorf("%s: list open pull requests: %w", where, err))
	}
	res := Result{Outcome: OutcomeUnchanged}
	if len(open) > 0 {
		p := open[0]
		n := p.GetNumber()
		res = Result{Outcome: OutcomeUnchanged, Number: n, URL: p.GetHTMLURL()}
		for _, d := range open[1:] {
			res.Duplicates = append(res.Duplicates, d.GetNumber())
		}
		if comment != "" {
			if err := c.do(ctx, func() (*github.Response, error) {
				_, resp, err := c.gh.Issues.CreateComment(ctx, owner, repo, n, &github.IssueComment{Body: github.String(truncate(comment, maxBody, "…"))})
				return resp, err
			}); err != nil {
				return res, c.redact(fmt.Errorf("%s: comment on #%d: %w", where, n, err))
			}
		}
		if err := c.do(ctx, func() (*github.Response, error) {
			_, resp, err := c.gh.PullRequests.Edit(ctx, owner, repo, n, &github.PullRequest{State: github.String("closed")})
			return resp, err
		}); err != nil {
			return res, c.redact(fmt.Errorf("%s: close #%d: %w", where, n, err))
		}
		res.Outcome = OutcomeClosed
	}
	if deleteBranch {
		err := c.do(ctx, func() (*github.Response, error) {
			return c.gh.Git.DeleteRef(ctx, owner, repo, "heads/"+head)
		})
		switch {
		case err == nil:
			res.BranchDeleted = true
		case refMissing(err):
		default:
			return res, c.redact(fmt.Errorf("%s: delete branch: %w", where, err))
		}
	}
	return res, nil
}

// refMissing reports whether err is GitHub's 422 for deleting a ref that
// does not exist.
func refMissing(err error) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusUnprocessableEntity &&
		strings.Contains(strings.ToLower(er.Message), "reference does not exist")
}

// Closed is a pull request that was closed, merged or not.
type Closed struct {
	Number int
	URL    string
	Title  string
	Body   string
	Merged bool
}

// LastClosed returns the most recently created closed pull request from
// head, or nil if there is none. It reads one page (GitHub sorts by
// creation, newest first).
func (c *Client) LastClosed(ctx context.Context, owner, repo, head string) (*Closed, error) {
	opts := &github.PullRequestListOptions{
		State: "closed", Head: owner + ":" + head, Sort: "created", Direction: "desc",
		ListOptions: github.ListOptions{PerPage: min(c.perPage, 30)},
	}
	var page []*github.PullRequest
	err := c.do(ctx, func() (*github.Response, error) {
		var resp *github.Response
		var err error
		page, resp, err = c.gh.PullRequests.List(ctx, owner, repo, opts)
		return resp, err
	})
	if err != nil {
		return nil, c.redact(fmt.Errorf("listing closed pull requests %s/%s %s: %w", owner, repo, head, err))
	}
	var last *github.PullRequest
	for _, p := range page {
		if p.GetState() == "closed" && p.GetHead().GetRef() == head && (last == nil || p.GetNumber() > last.GetNumber()) {
			last = p
		}
	}
	if last == nil {
		return nil, nil
	}
	return &Closed{Number: last.GetNumber(), URL: last.GetHTMLURL(), Title: last.GetTitle(), Body: last.GetBody(),
		Merged: last.GetMerged() || last.MergedAt != nil}, nil
}
