package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// ecrEvent is an Amazon EventBridge event of Amazon ECR, as an API
// destination delivers it (the whole event, no input transformer):
//
//	{"version":"0","id":"...","detail-type":"ECR Image Action","source":"aws.ecr",
//	 "account":"123456789012","time":"...","region":"us-east-1","resources":[],
//	 "detail":{"result":"SUCCESS","repository-name":"myapp","image-digest":"sha256:...",
//	           "action-type":"PUSH","image-tag":"release.20240301"}}
type ecrEvent struct {
	ID         string     `json:"id"`
	DetailType string     `json:"detail-type"`
	Source     string     `json:"source"`
	Account    string     `json:"account"`
	Region     string     `json:"region"`
	Detail     *ecrDetail `json:"detail"`
}

type ecrDetail struct {
	Result         string `json:"result"`
	RepositoryName string `json:"repository-name"`
	ImageDigest    string `json:"image-digest"`
	ActionType     string `json:"action-type"`
	ImageTag       string `json:"image-tag"`
}

var (
	ecrAccount = regexp.MustCompile(`^[0-9]{12}$`)
	ecrRegion  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	// repoPath is a distribution repository path (lower case components).
	repoPath = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// ecr handles POST /webhooks/ecr.
func (s *Server) ecr(w http.ResponseWriter, r *http.Request) {
	if s.opts.ECRToken == "" {
		s.reject(w, r, SourceECR, http.StatusNotFound, webhookDisabled, "the ECR webhook is not configured")
		return
	}
	if !tokenEqual(r.Header.Get(s.opts.ECRTokenHeader), s.opts.ECRToken) {
		s.reject(w, r, SourceECR, http.StatusUnauthorized, webhookUnauthorized, "missing or wrong "+s.opts.ECRTokenHeader+" header")
		return
	}
	body, ok := s.readBody(w, r, SourceECR, "application/json")
	if !ok {
		return
	}
	var ev ecrEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		s.reject(w, r, SourceECR, http.StatusBadRequest, webhookInvalid, "not an EventBridge event: invalid JSON")
		return
	}
	d := ev.Detail
	switch {
	case ev.Source != "aws.ecr":
		s.reject(w, r, SourceECR, http.StatusBadRequest, webhookInvalid, "source is not aws.ecr")
		return
	case ev.DetailType != "ECR Image Action":
		s.reject(w, r, SourceECR, http.StatusBadRequest, webhookInvalid, `detail-type is not "ECR Image Action"`)
		return
	case ev.ID == "" || d == nil:
		s.reject(w, r, SourceECR, http.StatusBadRequest, webhookInvalid, "event without id or detail")
		return
	}
	if d.ActionType != "PUSH" || d.Result != "SUCCESS" {
		s.dispatch(w, r, SourceECR, nil, 1, "not a successful push")
		return
	}
	if d.ImageTag == "" {
		// A manifest pushed by digest only, e.g. one platform of a
		// multi-platform image; its index arrives tagged.
		s.dispatch(w, r, SourceECR, nil, 1, "untagged push")
		return
	}
	switch {
	case !ecrAccount.MatchString(ev.Account), !ecrRegion.MatchString(ev.Region):
		s.reject(w, r, SourceECR, http.StatusBadRequest, webhookInvalid, "invalid account or region")
		return
	case !repoPath.MatchString(d.RepositoryName), !tagRE.MatchString(d.ImageTag):
		s.reject(w, r, SourceECR, http.StatusBadRequest, webhookInvalid, "invalid repository-name or image-tag")
		return
	}
	s.dispatch(w, r, SourceECR, []Event{{
		Kind:       KindImage,
		ID:         ev.ID,
		Repository: ecrHost(ev.Account, ev.Region) + "/" + d.RepositoryName,
		Tag:        d.ImageTag,
		Digest:     d.ImageDigest,
	}}, 0, "")
}

// ecrHost is the registry host of an account's private registry in region.
func ecrHost(account, region string) string {
	domain := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return account + ".dkr.ecr." + region + "." + domain
}
