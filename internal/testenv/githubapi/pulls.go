package githubapi

import (
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// GitHub's limits on pull request and comment text.
const (
	maxTitle     = 256
	maxTextBody  = 65536
	maxLabelName = 50
)

type repoState struct {
	owner, name string
	id          int64
	pulls       []*pull           // pulls[i].number == i+1
	labels      map[string]*label // by lower-case name
	statuses    []*CommitStatus   // oldest first
	deployments []*Deployment     // oldest first
}

func (r *repoState) fullName() string { return r.owner + "/" + r.name }

func (r *repoState) pull(number string) *pull {
	n, err := strconv.Atoi(number)
	if err != nil || n < 1 || n > len(r.pulls) {
		return nil
	}
	return r.pulls[n-1]
}

type label struct {
	id    int64
	name  string
	color string
}

type comment struct {
	id      int64
	body    string
	user    string
	created time.Time
}

type pull struct {
	id                  int64
	number              int
	title, body         string
	head, base          string // branch names
	headSHA, baseSHA    string
	state               string // open, closed
	user                string
	draft, merged       bool
	mergeCommitSHA      string
	labels              []*label
	reviewers, teams    []string // requested
	reviews             []review
	assignees           []string
	comments            []*comment
	created, updated    time.Time
	closedAt, mergedAt  time.Time
	maintainerCanModify bool
}

// PR is a snapshot of a pull request, for assertions.
type PR struct {
	Number         int
	Title, Body    string
	Head, Base     string // branch names
	HeadSHA        string
	State          string // "open" or "closed"
	User           string // the login that opened it
	Labels         []string
	Reviewers      []string // requested reviewers
	TeamReviewers  []string // requested team slugs
	Assignees      []string
	Draft, Merged  bool
	MergeCommitSHA string
	Comments       []Comment
	CreatedAt      time.Time
	UpdatedAt      time.Time
	ClosedAt       time.Time
}

// Comment is an issue comment on a pull request.
type Comment struct {
	ID   int64
	User string
	Body string
}

func (p *pull) snapshot() PR {
	out := PR{
		Number: p.number, Title: p.title, Body: p.body, Head: p.head, Base: p.base,
		HeadSHA: p.headSHA, State: p.state, User: p.user, Draft: p.draft, Merged: p.merged,
		MergeCommitSHA: p.mergeCommitSHA,
		Reviewers:      append([]string(nil), p.reviewers...),
		TeamReviewers:  append([]string(nil), p.teams...),
		Assignees:      append([]string(nil), p.assignees...),
		CreatedAt:      p.created, UpdatedAt: p.updated, ClosedAt: p.closedAt,
	}
	for _, l := range p.labels {
		out.Labels = append(out.Labels, l.name)
	}
	for _, c := range p.comments {
		out.Comments = append(out.Comments, Comment{ID: c.id, User: c.user, Body: c.body})
	}
	return out
}

// PullRequests returns the pull requests of owner/name in number order, nil
// if the repository was not added.
func (s *Server) PullRequests(owner, name string) []PR {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(owner+"/"+name)]
	if r == nil {
		return nil
	}
	out := make([]PR, 0, len(r.pulls))
	for _, p := range r.pulls {
		out = append(out, p.snapshot())
	}
	return out
}

// PullRequest returns pull request number of owner/name.
func (s *Server) PullRequest(owner, name string, number int) (PR, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(owner+"/"+name)]
	if r == nil || number < 1 || number > len(r.pulls) {
		return PR{}, false
	}
	return r.pulls[number-1].snapshot(), true
}

// NewPR describes a pull request opened with Server.OpenPullRequest, as a
// person would in the web interface.
type NewPR struct {
	Head, Base  string // branch names in the repository
	Title, Body string
	User        string // default "octocat"
	Draft       bool
}

// OpenPullRequest opens a pull request directly (no request is counted),
// with the same checks as POST /repos/{owner}/{repo}/pulls. It returns the
// new number, or the message of the error GitHub would answer.
func (s *Server) OpenPullRequest(owner, name string, np NewPR) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(owner+"/"+name)]
	if r == nil {
		return 0, fmt.Errorf("githubapi: repository %s/%s not added", owner, name)
	}
	if np.User == "" {
		np.User = "octocat"
	}
	p, st, out := s.openPull(r, np.User, np.Head, np.Base, np.Title, np.Body, np.Draft)
	if st != 0 {
		return 0, fmt.Errorf("githubapi: %d %s", st, render(out.(*apiError).body()))
	}
	return p.number, nil
}

func (s *Server) nextObjectID() int64 {
	s.nextID++
	return s.nextID
}

// checkText applies GitHub's length limits to a title or body.
func checkText(field, v string, limit int) (int, any) {
	if utf8.RuneCountInString(v) > limit {
		return validationFailed(fieldError{Resource: "Issue", Field: field, Code: "custom",
			Message: fmt.Sprintf("%s is too long (maximum is %d characters)", field, limit)})
	}
	return 0, nil
}

// openPull creates a pull request after GitHub's checks.
func (s *Server) openPull(r *repoState, user, head, base, title, body string, draft bool) (*pull, int, any) {
	if strings.TrimSpace(title) == "" {
		st, o := validationFailed(fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
		return nil, st, o
	}
	if st, o := checkText("title", title, maxTitle); st != 0 {
		return nil, st, o
	}
	if st, o := checkText("body", body, maxTextBody); st != 0 {
		return nil, st, o
	}
	if owner, branch, ok := strings.Cut(head, ":"); ok {
		if !strings.EqualFold(owner, r.owner) {
			// Forks are not modelled: an unknown owner is an invalid head.
			st, o := validationFailed(fieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
			return nil, st, o
		}
		head = branch
	}
	baseSHA, ok := s.git.Head(r.fullName(), base)
	if !ok {
		st, o := validationFailed(fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		return nil, st, o
	}
	headSHA, ok := s.git.Head(r.fullName(), head)
	if !ok {
		st, o := validationFailed(fieldError{Resource: "PullRequest", Field: "head", Code: "invalid"})
		return nil, st, o
	}
	if dup := r.openFor(head, base); dup != nil {
		st, o := validationFailed(fieldError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("A pull request already exists for %s:%s.", r.owner, head)})
		return nil, st, o
	}
	if head == base || headSHA == baseSHA {
		st, o := validationFailed(fieldError{Resource: "PullRequest", Code: "custom",
			Message: fmt.Sprintf("No commits between %s and %s", base, head)})
		return nil, st, o
	}
	now := s.now()
	p := &pull{
		id: s.nextObjectID(), number: len(r.pulls) + 1,
		title: title, body: body, head: head, base: base, headSHA: headSHA, baseSHA: baseSHA,
		state: "open", user: user, draft: draft, created: now, updated: now,
	}
	r.pulls = append(r.pulls, p)
	return p, 0, nil
}

// openFor returns the open pull request from head into base, if any.
func (r *repoState) openFor(head, base string) *pull {
	for _, p := range r.pulls {
		if p.state == "open" && p.head == head && p.base == base {
			return p
		}
	}
	return nil
}

func userJSON(login string) map[string]any {
	h := fnv.New32a()
	h.Write([]byte(login))
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return map[string]any{"login": login, "id": int64(h.Sum32()), "type": typ, "site_admin": false}
}

func (c *ctx) repoJSON() map[string]any {
	r := c.repo
	return map[string]any{
		"id": r.id, "name": r.name, "full_name": r.fullName(), "private": false,
		"owner":    userJSON(r.owner),
		"html_url": c.baseURL + "/" + r.fullName(),
		"url":      c.baseURL + apiPrefix + "/repos/" + r.fullName(),
	}
}

func (c *ctx) labelJSON(l *label) map[string]any {
	return map[string]any{
		"id": l.id, "name": l.name, "color": l.color, "default": false, "description": nil,
		"url": c.baseURL + apiPrefix + "/repos/" + c.repo.fullName() + "/labels/" + l.name,
	}
}

func (c *ctx) pullJSON(p *pull, full bool) map[string]any {
	api := c.baseURL + apiPrefix + "/repos/" + c.repo.fullName()
	labels := make([]any, 0, len(p.labels))
	for _, l := range p.labels {
		labels = append(labels, c.labelJSON(l))
	}
	users := func(list []string) []any {
		out := make([]any, 0, len(list))
		for _, u := range list {
			out = append(out, userJSON(u))
		}
		return out
	}
	teams := make([]any, 0, len(p.teams))
	for _, t := range p.teams {
		teams = append(teams, map[string]any{"slug": t, "name": t})
	}
	var assignee any
	if len(p.assignees) > 0 {
		assignee = userJSON(p.assignees[0])
	}
	ref := func(branch, sha string) map[string]any {
		return map[string]any{
			"label": c.repo.owner + ":" + branch, "ref": branch, "sha": sha,
			"user": userJSON(c.repo.owner), "repo": c.repoJSON(),
		}
	}
	var mergeSHA any
	if p.mergeCommitSHA != "" {
		mergeSHA = p.mergeCommitSHA
	}
	m := map[string]any{
		"url":                 fmt.Sprintf("%s/pulls/%d", api, p.number),
		"id":                  p.id,
		"node_id":             fmt.Sprintf("PR_%d", p.id),
		"html_url":            fmt.Sprintf("%s/%s/pull/%d", c.baseURL, c.repo.fullName(), p.number),
		"issue_url":           fmt.Sprintf("%s/issues/%d", api, p.number),
		"number":              p.number,
		"state":               p.state,
		"locked":              false,
		"title":               p.title,
		"user":                userJSON(p.user),
		"body":                nilIfEmpty(p.body),
		"labels":              labels,
		"created_at":          timestamp(p.created),
		"updated_at":          timestamp(p.updated),
		"closed_at":           timestamp(p.closedAt),
		"merged_at":           timestamp(p.mergedAt),
		"merge_commit_sha":    mergeSHA,
		"assignee":            assignee,
		"assignees":           users(p.assignees),
		"requested_reviewers": users(p.reviewers),
		"requested_teams":     teams,
		"head":                ref(p.head, p.headSHA),
		"base":                ref(p.base, p.baseSHA),
		"draft":               p.draft,
		"author_association":  "MEMBER",
	}
	if full {
		// Only the single pull request answers carry these, as on GitHub.
		m["merged"] = p.merged
		m["comments"] = len(p.comments)
		m["maintainer_can_modify"] = p.maintainerCanModify
		if p.state == "open" {
			m["mergeable"] = true
			m["mergeable_state"] = "clean"
		} else {
			m["mergeable"] = nil
			m["mergeable_state"] = "unknown"
		}
		if p.merged {
			m["merged_by"] = userJSON(p.user)
		}
	}
	return m
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// refresh updates the recorded tips of an open pull request's branches.
func (s *Server) refresh(r *repoState, p *pull) {
	if p.state != "open" {
		return
	}
	if sha, ok := s.git.Head(r.fullName(), p.head); ok {
		p.headSHA = sha
	}
	if sha, ok := s.git.Head(r.fullName(), p.base); ok {
		p.baseSHA = sha
	}
}

// GET /repos/{owner}/{repo}/pulls
func (s *Server) listPulls(c *ctx) (int, any) {
	q := c.r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	if !slices.Contains([]string{"open", "closed", "all"}, state) {
		return validationFailed(fieldError{Resource: "Search", Field: "state", Code: "invalid"})
	}
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "created"
	}
	if !slices.Contains([]string{"created", "updated", "popularity", "long-running"}, sortBy) {
		return validationFailed(fieldError{Resource: "Search", Field: "sort", Code: "invalid"})
	}
	direction := q.Get("direction")
	if direction == "" {
		direction = "asc"
		if sortBy == "created" {
			direction = "desc"
		}
	}
	if direction != "asc" && direction != "desc" {
		return validationFailed(fieldError{Resource: "Search", Field: "direction", Code: "invalid"})
	}
	// GitHub only honours head as "user:ref-name"; without the owner the
	// filter is silently ignored.
	headOwner, headRef, headOK := strings.Cut(q.Get("head"), ":")
	base := q.Get("base")

	var list []*pull
	for _, p := range c.repo.pulls {
		if state != "all" && p.state != state {
			continue
		}
		if headOK && (!strings.EqualFold(headOwner, c.repo.owner) || p.head != headRef) {
			continue
		}
		if base != "" && p.base != base {
			continue
		}
		list = append(list, p)
	}
	key := func(p *pull) time.Time {
		if sortBy == "updated" {
			return p.updated
		}
		return p.created
	}
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		ka, kb := key(a), key(b)
		if !ka.Equal(kb) {
			if direction == "asc" {
				return ka.Before(kb)
			}
			return ka.After(kb)
		}
		if direction == "asc" {
			return a.number < b.number
		}
		return a.number > b.number
	})
	return http.StatusOK, paged(c, list, func(p *pull) map[string]any {
		s.refresh(c.repo, p)
		return c.pullJSON(p, false)
	})
}

// POST /repos/{owner}/{repo}/pulls
func (s *Server) createPull(c *ctx) (int, any) {
	f, st, o := validate(c.body,
		prop{name: "title", kind: kString},
		prop{name: "head", kind: kString, required: true},
		prop{name: "head_repo", kind: kString},
		prop{name: "base", kind: kString, required: true},
		prop{name: "body", kind: kString, nullable: true},
		prop{name: "maintainer_can_modify", kind: kBool},
		prop{name: "draft", kind: kBool},
		prop{name: "issue", kind: kInt},
	)
	if st != 0 {
		return st, o
	}
	if _, ok := f["issue"]; ok {
		return invalidRequest("converting an issue into a pull request is not supported by the emulator.")
	}
	if _, ok := f["head_repo"]; ok {
		return invalidRequest("head_repo (cross-repository pull requests) is not supported by the emulator.")
	}
	title, ok := f.str("title")
	if !ok {
		return invalidRequest(`"title" wasn't supplied.`)
	}
	head, _ := f.str("head")
	base, _ := f.str("base")
	body, _ := f.str("body")
	draft, _ := f.boolean("draft")
	p, st, o := s.openPull(c.repo, c.login, head, base, title, body, draft)
	if st != 0 {
		return st, o
	}
	p.maintainerCanModify, _ = f.boolean("maintainer_can_modify")
	out := c.pullJSON(p, true)
	c.header.Set("Location", out["url"].(string))
	return http.StatusCreated, out
}

// GET /repos/{owner}/{repo}/pulls/{number}
func (s *Server) getPull(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	s.refresh(c.repo, p)
	return http.StatusOK, c.pullJSON(p, true)
}

// PATCH /repos/{owner}/{repo}/pulls/{number}
func (s *Server) updatePull(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	f, st, o := validate(c.body,
		prop{name: "title", kind: kString},
		prop{name: "body", kind: kString, nullable: true},
		prop{name: "state", kind: kString, enum: []string{"open", "closed"}},
		prop{name: "base", kind: kString},
		prop{name: "maintainer_can_modify", kind: kBool},
	)
	if st != 0 {
		return st, o
	}
	title, hasTitle := f.str("title")
	if hasTitle {
		if strings.TrimSpace(title) == "" {
			return validationFailed(fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
		}
		if st, o := checkText("title", title, maxTitle); st != 0 {
			return st, o
		}
	}
	body, hasBody := f.str("body")
	if hasBody {
		if st, o := checkText("body", body, maxTextBody); st != 0 {
			return st, o
		}
	}
	nullBody := !hasBody && hasKey(c.body, "body") // "body": null clears it

	state, hasState := f.str("state")
	base, hasBase := f.str("base")
	repo := c.repo.fullName()

	newBase := p.base
	if hasBase && base != p.base {
		if p.state != "open" && !(hasState && state == "open") {
			return validationFailed(fieldError{Resource: "PullRequest", Field: "base", Code: "custom",
				Message: "Cannot change the base branch of a closed pull request."})
		}
		if _, ok := s.git.Head(repo, base); !ok {
			return validationFailed(fieldError{Resource: "PullRequest", Field: "base", Code: "invalid"})
		}
		if base == p.head {
			return validationFailed(fieldError{Resource: "PullRequest", Field: "base", Code: "custom",
				Message: fmt.Sprintf("No commits between %s and %s", base, p.head)})
		}
		newBase = base
	}
	newState := p.state
	if hasState {
		newState = state
	}
	if newState == "open" && (p.state != "open" || newBase != p.base) {
		if p.merged {
			return validationFailed(fieldError{Resource: "PullRequest", Field: "state", Code: "custom",
				Message: "state cannot be changed. The pull request cannot be reopened."})
		}
		if _, ok := s.git.Head(repo, p.head); !ok {
			return validationFailed(fieldError{Resource: "PullRequest", Field: "state", Code: "custom",
				Message: fmt.Sprintf("state cannot be changed. The %s branch has been deleted.", p.head)})
		}
		if dup := c.repo.openFor(p.head, newBase); dup != nil && dup != p {
			return validationFailed(fieldError{Resource: "PullRequest", Code: "custom",
				Message: fmt.Sprintf("A pull request already exists for base branch '%s' and head branch '%s'", newBase, p.head)})
		}
	}

	now := s.now()
	if hasTitle {
		p.title = title
	}
	if hasBody {
		p.body = body
	} else if nullBody {
		p.body = ""
	}
	p.base = newBase
	if newState != p.state {
		p.state = newState
		if newState == "closed" {
			p.closedAt = now
		} else {
			p.closedAt = time.Time{}
		}
	}
	if v, ok := f.boolean("maintainer_can_modify"); ok {
		p.maintainerCanModify = v
	}
	p.updated = now
	s.refresh(c.repo, p)
	return http.StatusOK, c.pullJSON(p, true)
}

// hasKey reports whether a JSON object body has key (even if null).
func hasKey(body []byte, key string) bool {
	v, ok := decodeJSON(body)
	if !ok {
		return false
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m[key]
	return ok
}

// PUT /repos/{owner}/{repo}/pulls/{number}/merge
func (s *Server) mergePull(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	f, st, o := validate(c.body,
		prop{name: "commit_title", kind: kString},
		prop{name: "commit_message", kind: kString},
		prop{name: "sha", kind: kString},
		prop{name: "merge_method", kind: kString, enum: []string{"merge", "squash", "rebase"}},
	)
	if st != 0 {
		return st, o
	}
	if p.state != "open" {
		return fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	if p.draft {
		return fail(http.StatusMethodNotAllowed, "Pull Request is still a draft")
	}
	repo := c.repo.fullName()
	headSHA, ok := s.git.Head(repo, p.head)
	if !ok {
		return fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	if sha, ok := f.str("sha"); ok && sha != headSHA {
		return fail(http.StatusConflict, "Head branch was modified. Review and try the merge again.")
	}
	title, ok := f.str("commit_title")
	if !ok {
		title = fmt.Sprintf("Merge pull request #%d from %s/%s", p.number, c.repo.owner, p.head)
	}
	message := title
	if m, ok := f.str("commit_message"); ok && m != "" {
		message += "\n\n" + m
	}
	sha, err := s.git.Merge(repo, p.base, p.head, message)
	if err != nil {
		return fail(http.StatusMethodNotAllowed, "Pull Request is not mergeable")
	}
	now := s.now()
	p.headSHA = headSHA
	p.merged = true
	p.mergeCommitSHA = sha
	p.state = "closed"
	p.mergedAt, p.closedAt, p.updated = now, now, now
	return http.StatusOK, map[string]any{"sha": sha, "merged": true, "message": "Pull Request successfully merged"}
}

// POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers
func (s *Server) requestReviewers(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	f, st, o := validate(c.body,
		prop{name: "reviewers", kind: kStringList},
		prop{name: "team_reviewers", kind: kStringList},
	)
	if st != 0 {
		return st, o
	}
	reviewers, hasR := f.list("reviewers")
	teams, hasT := f.list("team_reviewers")
	if !hasR && !hasT {
		return invalidRequest(`No subschema in "anyOf" matched. "reviewers" wasn't supplied. "team_reviewers" wasn't supplied.`)
	}
	for _, r := range reviewers {
		if strings.EqualFold(r, p.user) {
			return fail(http.StatusUnprocessableEntity, "Review cannot be requested from pull request author.")
		}
		if r == "" || strings.Contains(r, "/") {
			return validationFailed(fieldError{Resource: "PullRequest", Field: "reviewers", Code: "invalid"})
		}
	}
	for _, t := range teams {
		if t == "" || strings.Contains(t, "/") {
			// Team reviewers are slugs of the repository owner's teams.
			return validationFailed(fieldError{Resource: "PullRequest", Field: "team_reviewers", Code: "invalid"})
		}
	}
	for _, r := range reviewers {
		if !containsFold(p.reviewers, r) {
			p.reviewers = append(p.reviewers, r)
		}
	}
	for _, t := range teams {
		if !containsFold(p.teams, t) {
			p.teams = append(p.teams, t)
		}
	}
	p.updated = s.now()
	return http.StatusCreated, c.pullJSON(p, true)
}

// review is a submitted pull request review.
type review struct {
	id          int64
	user, state string // state: APPROVED, CHANGES_REQUESTED, COMMENTED
	commitID    string
	submitted   time.Time
}

// SubmitReview records a review of pull request number by login, as a
// person pressing "Submit review" would: state is APPROVED,
// CHANGES_REQUESTED or COMMENTED, and, as on GitHub, the reviewer is no
// longer a requested reviewer afterwards.
func (s *Server) SubmitReview(owner, name string, number int, login, state string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.lookupPull(owner, name, number)
	if err != nil {
		return err
	}
	switch state {
	case "APPROVED", "CHANGES_REQUESTED", "COMMENTED":
	default:
		return fmt.Errorf("review state %q: use APPROVED, CHANGES_REQUESTED or COMMENTED", state)
	}
	if strings.EqualFold(login, p.user) && state != "COMMENTED" {
		return fmt.Errorf("the author cannot approve or request changes")
	}
	s.nextID++
	p.reviews = append(p.reviews, review{id: s.nextID, user: login, state: state, commitID: p.headSHA, submitted: s.now()})
	p.reviewers = slices.DeleteFunc(p.reviewers, func(r string) bool { return strings.EqualFold(r, login) })
	p.updated = s.now()
	return nil
}

// lookupPull finds pull request number of owner/name; s.mu is held.
func (s *Server) lookupPull(owner, name string, number int) (*pull, error) {
	r := s.repos[strings.ToLower(owner+"/"+name)]
	if r == nil {
		return nil, fmt.Errorf("no repository %s/%s", owner, name)
	}
	p := r.pull(strconv.Itoa(number))
	if p == nil {
		return nil, fmt.Errorf("no pull request #%d in %s/%s", number, owner, name)
	}
	return p, nil
}

// RemoveReviewRequest withdraws a review request, as a person clicking the
// reviewer away would.
func (s *Server) RemoveReviewRequest(owner, name string, number int, login string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.lookupPull(owner, name, number)
	if err != nil {
		return err
	}
	p.reviewers = slices.DeleteFunc(p.reviewers, func(r string) bool { return strings.EqualFold(r, login) })
	return nil
}

// GET /repos/{owner}/{repo}/pulls/{number}/reviews
func (s *Server) listReviews(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	start, end := paginate(c, len(p.reviews))
	out := make([]any, 0, end-start)
	for _, r := range p.reviews[start:end] {
		out = append(out, map[string]any{
			"id":                 r.id,
			"node_id":            fmt.Sprintf("PRR_%d", r.id),
			"user":               userJSON(r.user),
			"body":               "",
			"state":              r.state,
			"html_url":           fmt.Sprintf("%s/%s/pull/%d#pullrequestreview-%d", c.baseURL, c.repo.fullName(), p.number, r.id),
			"pull_request_url":   fmt.Sprintf("%s%s/repos/%s/pulls/%d", c.baseURL, apiPrefix, c.repo.fullName(), p.number),
			"submitted_at":       timestamp(r.submitted),
			"commit_id":          r.commitID,
			"author_association": "MEMBER",
		})
	}
	return http.StatusOK, out
}

// GET /repos/{owner}/{repo}/issues/{number}/labels
func (s *Server) listLabels(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	out := paged(c, p.labels, c.labelJSON)
	return http.StatusOK, out
}

// POST /repos/{owner}/{repo}/issues/{number}/labels
func (s *Server) addLabels(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	v, ok := decodeJSON(c.body)
	if !ok {
		return fail(http.StatusBadRequest, "Problems parsing JSON")
	}
	// GitHub takes ["a", "b"], {"labels": ["a", "b"]} or the same with
	// {"name": "a"} objects.
	if m, ok := v.(map[string]any); ok {
		raw, present := m["labels"]
		if !present {
			return invalidRequest(`"labels" wasn't supplied.`)
		}
		v = raw
	}
	arr, ok := v.([]any)
	if !ok {
		return invalidRequest(fmt.Sprintf("For 'properties/labels', %s is not an array.", render(v)))
	}
	var names []string
	for _, e := range arr {
		switch e := e.(type) {
		case string:
			names = append(names, e)
		case map[string]any:
			n, ok := e["name"].(string)
			if !ok {
				return invalidRequest(fmt.Sprintf("For 'items', %s is not a string.", render(e)))
			}
			names = append(names, n)
		default:
			return invalidRequest(fmt.Sprintf("For 'items', %s is not a string.", render(e)))
		}
	}
	for _, n := range names {
		if strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > maxLabelName {
			return validationFailed(fieldError{Resource: "Label", Field: "name", Code: "invalid"})
		}
	}
	for _, n := range names {
		key := strings.ToLower(n)
		l := c.repo.labels[key]
		if l == nil {
			l = &label{id: s.nextObjectID(), name: n, color: "ededed"}
			c.repo.labels[key] = l
		}
		have := false
		for _, pl := range p.labels {
			if pl == l {
				have = true
				break
			}
		}
		if !have {
			p.labels = append(p.labels, l)
		}
	}
	p.updated = s.now()
	out := make([]any, 0, len(p.labels))
	for _, l := range p.labels {
		out = append(out, c.labelJSON(l))
	}
	return http.StatusOK, out
}

func (c *ctx) commentJSON(p *pull, cm *comment) map[string]any {
	api := c.baseURL + apiPrefix + "/repos/" + c.repo.fullName()
	return map[string]any{
		"id":                 cm.id,
		"node_id":            fmt.Sprintf("IC_%d", cm.id),
		"url":                fmt.Sprintf("%s/issues/comments/%d", api, cm.id),
		"html_url":           fmt.Sprintf("%s/%s/pull/%d#issuecomment-%d", c.baseURL, c.repo.fullName(), p.number, cm.id),
		"issue_url":          fmt.Sprintf("%s/issues/%d", api, p.number),
		"body":               cm.body,
		"user":               userJSON(cm.user),
		"created_at":         timestamp(cm.created),
		"updated_at":         timestamp(cm.created),
		"author_association": "MEMBER",
	}
}

// POST /repos/{owner}/{repo}/issues/{number}/comments
func (s *Server) createComment(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	f, st, o := validate(c.body, prop{name: "body", kind: kString, required: true})
	if st != 0 {
		return st, o
	}
	body, _ := f.str("body")
	if strings.TrimSpace(body) == "" {
		return validationFailed(fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
	}
	if st, o := checkText("body", body, maxTextBody); st != 0 {
		return st, o
	}
	cm := &comment{id: s.nextObjectID(), body: body, user: c.login, created: s.now()}
	p.comments = append(p.comments, cm)
	p.updated = cm.created
	out := c.commentJSON(p, cm)
	c.header.Set("Location", out["url"].(string))
	return http.StatusCreated, out
}

// GET /repos/{owner}/{repo}/issues/{number}/comments
func (s *Server) listComments(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	out := paged(c, p.comments, func(cm *comment) map[string]any { return c.commentJSON(p, cm) })
	return http.StatusOK, out
}

// POST /repos/{owner}/{repo}/issues/{number}/assignees
func (s *Server) addAssignees(c *ctx) (int, any) {
	p := c.repo.pull(c.param("number"))
	if p == nil {
		return notFound()
	}
	f, st, o := validate(c.body, prop{name: "assignees", kind: kStringList})
	if st != 0 {
		return st, o
	}
	list, _ := f.list("assignees")
	for _, a := range list {
		// GitHub keeps at most 10 assignees and silently drops the rest.
		if a != "" && !containsFold(p.assignees, a) && len(p.assignees) < 10 {
			p.assignees = append(p.assignees, a)
		}
	}
	p.updated = s.now()
	// The answer is the issue.
	pj := c.pullJSON(p, false)
	issue := map[string]any{"pull_request": map[string]any{"url": pj["url"], "html_url": pj["html_url"]}}
	for _, k := range []string{"id", "node_id", "number", "state", "title", "body", "user", "labels", "assignee", "assignees", "created_at", "updated_at", "closed_at", "locked", "author_association"} {
		issue[k] = pj[k]
	}
	issue["url"] = pj["issue_url"]
	issue["html_url"] = pj["html_url"]
	issue["comments"] = len(p.comments)
	return http.StatusCreated, issue
}

// DELETE /repos/{owner}/{repo}/git/refs/{ref...}
func (s *Server) deleteRef(c *ctx) (int, any) {
	branch, ok := strings.CutPrefix(c.param("ref"), "heads/")
	repo := c.repo.fullName()
	if !ok || branch == "" {
		return fail(http.StatusUnprocessableEntity, "Reference does not exist")
	}
	if _, ok := s.git.Head(repo, branch); !ok {
		return fail(http.StatusUnprocessableEntity, "Reference does not exist")
	}
	if err := s.git.DeleteBranch(repo, branch); err != nil {
		return fail(http.StatusUnprocessableEntity, "Reference update failed")
	}
	// Deleting a pull request's head branch closes it, as on GitHub.
	now := s.now()
	for _, p := range c.repo.pulls {
		if p.state == "open" && p.head == branch {
			p.state = "closed"
			p.closedAt, p.updated = now, now
		}
	}
	return http.StatusNoContent, nil
}
