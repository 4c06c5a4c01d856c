package githubapi

// Commit statuses and deployments: what Ferry reports after syncs and
// promotions.

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Routes of commit statuses and deployments.
const (
	RouteCreateStatus           = "POST /repos/{owner}/{repo}/statuses/{sha}"
	RouteListStatuses           = "GET /repos/{owner}/{repo}/commits/{ref}/statuses"
	RouteCreateDeployment       = "POST /repos/{owner}/{repo}/deployments"
	RouteListDeployments        = "GET /repos/{owner}/{repo}/deployments"
	RouteCreateDeploymentStatus = "POST /repos/{owner}/{repo}/deployments/{id}/statuses"
	RouteListDeploymentStatuses = "GET /repos/{owner}/{repo}/deployments/{id}/statuses"
)

// maxStatusDescription is GitHub's limit on status descriptions.
const maxStatusDescription = 140

var shaRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

// CommitStatus is a commit status, for assertions.
type CommitStatus struct {
	ID          int64
	SHA         string
	State       string
	Context     string
	Description string
	TargetURL   string
	Creator     string
	Created     time.Time
}

// Deployment is a deployment with its statuses (oldest first), for
// assertions.
type Deployment struct {
	ID            int64
	SHA, Ref      string
	Task          string
	Environment   string
	Description   string
	Production    bool
	Transient     bool
	Creator       string
	Created       time.Time
	Statuses      []DeploymentStatus
	AutoMergeSent bool // auto_merge was given (true or false)
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID          int64
	State       string
	Description string
	Environment string
	LogURL      string
	Creator     string
	Created     time.Time
}

// Statuses returns the commit statuses of sha in owner/name, oldest first.
func (s *Server) Statuses(owner, name, sha string) []CommitStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(owner+"/"+name)]
	if r == nil {
		return nil
	}
	var out []CommitStatus
	for _, st := range r.statuses {
		if st.SHA == sha {
			out = append(out, *st)
		}
	}
	return out
}

// Deployments returns the deployments of owner/name, oldest first.
func (s *Server) Deployments(owner, name string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.repos[strings.ToLower(owner+"/"+name)]
	if r == nil {
		return nil
	}
	out := make([]Deployment, 0, len(r.deployments))
	for _, d := range r.deployments {
		c := *d
		c.Statuses = slices.Clone(d.Statuses)
		out = append(out, c)
	}
	return out
}

func (c *ctx) statusJSON(st *CommitStatus) map[string]any {
	api := c.baseURL + apiPrefix + "/repos/" + c.repo.fullName()
	var target, desc any
	if st.TargetURL != "" {
		target = st.TargetURL
	}
	if st.Description != "" {
		desc = st.Description
	}
	return map[string]any{
		"id": st.ID, "node_id": fmt.Sprintf("SC_%d", st.ID), "url": api + "/statuses/" + st.SHA,
		"state": st.State, "description": desc, "target_url": target, "context": st.Context,
		"created_at": timestamp(st.Created), "updated_at": timestamp(st.Created), "creator": userJSON(st.Creator),
		"avatar_url": nil,
	}
}

// resolveSHA is what GitHub accepts as a commit: a full SHA, or a branch.
func (s *Server) resolveSHA(r *repoState, ref string) (string, bool) {
	if shaRE.MatchString(ref) {
		return ref, true
	}
	if sha, ok := s.git.Head(r.name, strings.TrimPrefix(ref, "refs/heads/")); ok {
		return sha, true
	}
	return "", false
}

func tooLong(resource, field, v string) (int, any) {
	if utf8.RuneCountInString(v) > maxStatusDescription {
		return validationFailed(fieldError{Resource: resource, Field: field, Code: "custom",
			Message: fmt.Sprintf("%s is too long (maximum is %d characters)", field, maxStatusDescription)})
	}
	return 0, nil
}

// POST /repos/{owner}/{repo}/statuses/{sha}
func (s *Server) createStatus(c *ctx) (int, any) {
	f, st, o := validate(c.body,
		prop{name: "state", kind: kString, required: true, enum: []string{"error", "failure", "pending", "success"}},
		prop{name: "target_url", kind: kString, nullable: true},
		prop{name: "description", kind: kString, nullable: true},
		prop{name: "context", kind: kString})
	if st != 0 {
		return st, o
	}
	sha := c.param("sha")
	if !shaRE.MatchString(sha) {
		return validationFailed(fieldError{Resource: "Status", Field: "sha", Code: "custom", Message: "No commit found for SHA: " + sha})
	}
	state, _ := f.str("state")
	desc, _ := f.str("description")
	target, _ := f.str("target_url")
	context, ok := f.str("context")
	if !ok || context == "" {
		context = "default"
	}
	if st, o := tooLong("Status", "description", desc); st != 0 {
		return st, o
	}
	cs := &CommitStatus{ID: s.nextObjectID(), SHA: sha, State: state, Context: context, Description: desc, TargetURL: target, Creator: c.login, Created: s.now()}
	c.repo.statuses = append(c.repo.statuses, cs)
	return http.StatusCreated, c.statusJSON(cs)
}

// GET /repos/{owner}/{repo}/commits/{ref}/statuses (newest first)
func (s *Server) listStatuses(c *ctx) (int, any) {
	sha, ok := s.resolveSHA(c.repo, c.param("ref"))
	if !ok {
		return validationFailed(fieldError{Resource: "Commit", Field: "ref", Code: "custom", Message: "No commit found for SHA: " + c.param("ref")})
	}
	var list []*CommitStatus
	for i := len(c.repo.statuses) - 1; i >= 0; i-- {
		if c.repo.statuses[i].SHA == sha {
			list = append(list, c.repo.statuses[i])
		}
	}
	out := paged(c, list, c.statusJSON)
	return http.StatusOK, out
}

func (c *ctx) deploymentJSON(d *Deployment) map[string]any {
	api := c.baseURL + apiPrefix + "/repos/" + c.repo.fullName()
	var desc any
	if d.Description != "" {
		desc = d.Description
	}
	return map[string]any{
		"id": d.ID, "node_id": fmt.Sprintf("DE_%d", d.ID), "url": fmt.Sprintf("%s/deployments/%d", api, d.ID),
		"sha": d.SHA, "ref": d.Ref, "task": d.Task, "payload": map[string]any{}, "original_environment": d.Environment,
		"environment": d.Environment, "description": desc, "creator": userJSON(d.Creator),
		"created_at": timestamp(d.Created), "updated_at": timestamp(d.Created),
		"statuses_url":          fmt.Sprintf("%s/deployments/%d/statuses", api, d.ID),
		"repository_url":        api,
		"transient_environment": d.Transient, "production_environment": d.Production,
	}
}

func (c *ctx) deploymentStatusJSON(d *Deployment, st *DeploymentStatus) map[string]any {
	api := c.baseURL + apiPrefix + "/repos/" + c.repo.fullName()
	return map[string]any{
		"id": st.ID, "node_id": fmt.Sprintf("DES_%d", st.ID),
		"url":   fmt.Sprintf("%s/deployments/%d/statuses/%d", api, d.ID, st.ID),
		"state": st.State, "description": st.Description, "environment": st.Environment,
		"log_url": st.LogURL, "target_url": st.LogURL, "environment_url": "",
		"creator":    userJSON(st.Creator),
		"created_at": timestamp(st.Created), "updated_at": timestamp(st.Created),
		"deployment_url": fmt.Sprintf("%s/deployments/%d", api, d.ID), "repository_url": api,
	}
}

// POST /repos/{owner}/{repo}/deployments
func (s *Server) createDeployment(c *ctx) (int, any) {
	f, st, o := validate(c.body,
		prop{name: "ref", kind: kString, required: true},
		prop{name: "task", kind: kString},
		prop{name: "auto_merge", kind: kBool},
		prop{name: "required_contexts", kind: kStringList},
		prop{name: "environment", kind: kString},
		prop{name: "description", kind: kString, nullable: true},
		prop{name: "transient_environment", kind: kBool},
		prop{name: "production_environment", kind: kBool})
	if st != 0 {
		return st, o
	}
	ref, _ := f.str("ref")
	sha, ok := s.resolveSHA(c.repo, ref)
	if !ok {
		return validationFailed(fieldError{Resource: "Deployment", Field: "ref", Code: "custom", Message: "No ref found for: " + ref})
	}
	task, ok := f.str("task")
	if !ok || task == "" {
		task = "deploy"
	}
	env, ok := f.str("environment")
	if !ok || env == "" {
		env = "production"
	}
	desc, _ := f.str("description")
	if st, o := tooLong("Deployment", "description", desc); st != 0 {
		return st, o
	}
	// Without required_contexts every context of the commit must be
	// success, as on GitHub.
	if _, given := f.list("required_contexts"); !given {
		latest := map[string]string{}
		for _, cs := range c.repo.statuses {
			if cs.SHA == sha {
				latest[cs.Context] = cs.State
			}
		}
		var bad []string
		for ctxName, state := range latest {
			if state != "success" {
				bad = append(bad, ctxName)
			}
		}
		if len(bad) > 0 {
			slices.Sort(bad)
			return http.StatusConflict, &apiError{status: http.StatusConflict, message: "Conflict: Commit status checks failed for " + ref + ".",
				errors: []fieldError{{Resource: "Deployment", Field: "required_contexts", Code: "invalid", Message: strings.Join(bad, ", ")}}}
		}
	}
	prod, ok := f.boolean("production_environment")
	if !ok {
		prod = env == "production"
	}
	transient, _ := f.boolean("transient_environment")
	_, autoMergeSent := f.boolean("auto_merge")
	d := &Deployment{ID: s.nextObjectID(), SHA: sha, Ref: ref, Task: task, Environment: env, Description: desc,
		Production: prod, Transient: transient, Creator: c.login, Created: s.now(), AutoMergeSent: autoMergeSent}
	c.repo.deployments = append(c.repo.deployments, d)
	return http.StatusCreated, c.deploymentJSON(d)
}

// GET /repos/{owner}/{repo}/deployments (newest first; filters sha, ref,
// task, environment)
func (s *Server) listDeployments(c *ctx) (int, any) {
	q := c.r.URL.Query()
	var list []*Deployment
	for i := len(c.repo.deployments) - 1; i >= 0; i-- {
		d := c.repo.deployments[i]
		if v := q.Get("sha"); v != "" && v != d.SHA {
			continue
		}
		if v := q.Get("ref"); v != "" && v != d.Ref {
			continue
		}
		if v := q.Get("task"); v != "" && v != d.Task {
			continue
		}
		if v := q.Get("environment"); v != "" && v != d.Environment {
			continue
		}
		list = append(list, d)
	}
	out := paged(c, list, c.deploymentJSON)
	return http.StatusOK, out
}

func (r *repoState) deployment(id string) *Deployment {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil
	}
	for _, d := range r.deployments {
		if d.ID == n {
			return d
		}
	}
	return nil
}

// POST /repos/{owner}/{repo}/deployments/{id}/statuses
func (s *Server) createDeploymentStatus(c *ctx) (int, any) {
	d := c.repo.deployment(c.param("id"))
	if d == nil {
		return notFound()
	}
	f, st, o := validate(c.body,
		prop{name: "state", kind: kString, required: true, enum: []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}},
		prop{name: "target_url", kind: kString},
		prop{name: "log_url", kind: kString},
		prop{name: "description", kind: kString},
		prop{name: "environment", kind: kString},
		prop{name: "environment_url", kind: kString},
		prop{name: "auto_inactive", kind: kBool})
	if st != 0 {
		return st, o
	}
	state, _ := f.str("state")
	desc, _ := f.str("description")
	if st, o := tooLong("DeploymentStatus", "description", desc); st != 0 {
		return st, o
	}
	logURL, ok := f.str("log_url")
	if !ok {
		logURL, _ = f.str("target_url")
	}
	env, ok := f.str("environment")
	if !ok || env == "" {
		env = d.Environment
	}
	ds := DeploymentStatus{ID: s.nextObjectID(), State: state, Description: desc, Environment: env, LogURL: logURL, Creator: c.login, Created: s.now()}
	d.Statuses = append(d.Statuses, ds)
	// auto_inactive (default true): a success marks the earlier successful
	// deployments of the environment inactive, unless they are
	// production or transient ones.
	if auto, ok := f.boolean("auto_inactive"); (!ok || auto) && state == "success" {
		for _, o := range c.repo.deployments {
			if o == d || o.Environment != d.Environment || o.Production || o.Transient || len(o.Statuses) == 0 || o.Statuses[len(o.Statuses)-1].State != "success" {
				continue
			}
			o.Statuses = append(o.Statuses, DeploymentStatus{ID: s.nextObjectID(), State: "inactive", Environment: o.Environment, Creator: c.login, Created: s.now()})
		}
	}
	return http.StatusCreated, c.deploymentStatusJSON(d, &d.Statuses[len(d.Statuses)-1])
}

// GET /repos/{owner}/{repo}/deployments/{id}/statuses (newest first)
func (s *Server) listDeploymentStatuses(c *ctx) (int, any) {
	d := c.repo.deployment(c.param("id"))
	if d == nil {
		return notFound()
	}
	start, end := paginate(c, len(d.Statuses))
	out := make([]any, 0, end-start)
	for i := start; i < end; i++ {
		st := d.Statuses[len(d.Statuses)-1-i]
		out = append(out, c.deploymentStatusJSON(d, &st))
	}
	return http.StatusOK, out
}
