package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

type ghRepository struct {
	FullName string `json:"full_name"`
}

// ghPush is the part of a push delivery Ferry reads.
type ghPush struct {
	Ref        string       `json:"ref"`
	After      string       `json:"after"`
	Deleted    bool         `json:"deleted"`
	Repository ghRepository `json:"repository"`
}

// ghPullRequest is the part of a pull_request delivery Ferry reads.
type ghPullRequest struct {
	Action      string `json:"action"`
	Number      int    `json:"number"`
	PullRequest *struct {
		Number         int    `json:"number"`
		Merged         bool   `json:"merged"`
		MergeCommitSHA string `json:"merge_commit_sha"`
		Head           struct {
			Ref string `json:"ref"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
	Repository ghRepository `json:"repository"`
}

// shaRE is a git object name (SHA-1 or SHA-256).
var shaRE = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// github handles POST /webhooks/github.
func (s *Server) github(w http.ResponseWriter, r *http.Request) {
	if len(s.opts.GitHubSecret) == 0 {
		s.reject(w, r, SourceGitHub, http.StatusNotFound, webhookDisabled, "the GitHub webhook is not configured")
		return
	}
	sig, found := strings.CutPrefix(r.Header.Get("X-Hub-Signature-256"), "sha256=")
	if !found {
		s.reject(w, r, SourceGitHub, http.StatusUnauthorized, webhookUnauthorized, "missing X-Hub-Signature-256 header")
		return
	}
	body, ok := s.readBody(w, r, SourceGitHub, "application/json", "application/x-www-form-urlencoded")
	if !ok {
		return
	}
	if !s.validSignature(body, sig) {
		s.reject(w, r, SourceGitHub, http.StatusUnauthorized, webhookUnauthorized, "signature does not match the webhook secret")
		return
	}
	// A webhook set to "application/x-www-form-urlencoded" sends the JSON
	// in the payload field; the signature covers the raw body.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err != nil || !form.Has("payload") {
			s.reject(w, r, SourceGitHub, http.StatusBadRequest, webhookInvalid, "form body without a payload field")
			return
		}
		body = []byte(form.Get("payload"))
	}
	delivery := r.Header.Get("X-GitHub-Delivery")
	kind := r.Header.Get("X-GitHub-Event")
	switch kind {
	case "ping":
		if !json.Valid(body) {
			s.reject(w, r, SourceGitHub, http.StatusBadRequest, webhookInvalid, "invalid JSON")
			return
		}
		s.opts.Metrics.Webhook(SourceGitHub, webhookPing)
		s.log.Info("github ping", "delivery", delivery)
		writeJSON(w, http.StatusOK, webhookResponse{})
	case "push":
		s.githubPush(w, r, delivery, body)
	case "pull_request":
		s.githubPullRequest(w, r, delivery, body)
	case "":
		s.reject(w, r, SourceGitHub, http.StatusBadRequest, webhookInvalid, "missing X-GitHub-Event header")
	default:
		if !json.Valid(body) {
			s.reject(w, r, SourceGitHub, http.StatusBadRequest, webhookInvalid, "invalid JSON")
			return
		}
		s.dispatch(w, r, SourceGitHub, nil, 1, "event "+kind+" is not handled")
	}
}

// validSignature checks sig, the hex HMAC-SHA256 of body under the secret.
func (s *Server) validSignature(body []byte, sig string) bool {
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, s.opts.GitHubSecret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

func (s *Server) githubPush(w http.ResponseWriter, r *http.Request, delivery string, body []byte) {
	var p ghPush
	if err := json.Unmarshal(body, &p); err != nil || p.Ref == "" {
		s.reject(w, r, SourceGitHub, http.StatusBadRequest, webhookInvalid, "not a push event")
		return
	}
	branch, isBranch := strings.CutPrefix(p.Ref, "refs/heads/")
	switch {
	case !isBranch:
		s.dispatch(w, r, SourceGitHub, nil, 1, "push to a ref that is not a branch")
		return
	case p.Deleted:
		s.dispatch(w, r, SourceGitHub, nil, 1, "the branch was deleted")
		return
	case !shaRE.MatchString(p.After):
		s.reject(w, r, SourceGitHub, http.StatusBadRequest, webhookInvalid, "push event without a valid after commit")
		return
	}
	s.dispatch(w, r, SourceGitHub, []Event{{
		Kind:   KindPush,
		ID:     delivery,
		Repo:   p.Repository.FullName,
		Branch: branch,
		Commit: p.After,
	}}, 0, "")
}

func (s *Server) githubPullRequest(w http.ResponseWriter, r *http.Request, delivery string, body []byte) {
	var p ghPullRequest
	if err := json.Unmarshal(body, &p); err != nil || p.Action == "" || p.PullRequest == nil {
		s.reject(w, r, SourceGitHub, http.StatusBadRequest, webhookInvalid, "not a pull_request event")
		return
	}
	pr := p.PullRequest
	switch {
	case p.Action != "closed":
		s.dispatch(w, r, SourceGitHub, nil, 1, "pull request "+p.Action+", not closed")
		return
	case !pr.Merged:
		s.dispatch(w, r, SourceGitHub, nil, 1, "pull request closed without merging")
		return
	}
	number := p.Number
	if number == 0 {
		number = pr.Number
	}
	commit := pr.MergeCommitSHA
	if !shaRE.MatchString(commit) {
		commit = ""
	}
	s.dispatch(w, r, SourceGitHub, []Event{{
		Kind:       KindMerged,
		ID:         delivery,
		Repo:       p.Repository.FullName,
		Branch:     pr.Head.Ref,
		Base:       pr.Base.Ref,
		Commit:     commit,
		PullNumber: number,
	}}, 0, "")
}
