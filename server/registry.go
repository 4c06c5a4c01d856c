package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// registryEnvelope is a Docker distribution notification:
//
//	{"events":[{"id":"...","timestamp":"...","action":"push",
//	  "target":{"mediaType":"...","repository":"acme/web","digest":"sha256:...","tag":"1.2.3",
//	            "url":"http://registry:5000/v2/acme/web/manifests/sha256:..."},
//	  "request":{"host":"registry:5000",...},...}]}
type registryEnvelope struct {
	Events []registryEvent `json:"events"`
}

type registryEvent struct {
	ID     string `json:"id"`
	Action string `json:"action"`
	Target struct {
		MediaType  string `json:"mediaType"`
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		Tag        string `json:"tag"`
		URL        string `json:"url"`
	} `json:"target"`
	Request struct {
		Host string `json:"host"`
	} `json:"request"`
}

// hostRE is a registry host, optionally with a port.
var hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$`)

// registry handles POST /webhooks/registry.
func (s *Server) registry(w http.ResponseWriter, r *http.Request) {
	if s.opts.RegistryToken == "" {
		s.reject(w, r, SourceRegistry, http.StatusNotFound, webhookDisabled, "the registry webhook is not configured")
		return
	}
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || !tokenEqual(strings.TrimSpace(token), s.opts.RegistryToken) {
		s.reject(w, r, SourceRegistry, http.StatusUnauthorized, webhookUnauthorized, "missing or wrong bearer token")
		return
	}
	body, ok := s.readBody(w, r, SourceRegistry, "application/vnd.docker.distribution.events.v1+json", "application/json")
	if !ok {
		return
	}
	var env registryEnvelope
	if err := json.Unmarshal(body, &env); err != nil || env.Events == nil {
		s.reject(w, r, SourceRegistry, http.StatusBadRequest, webhookInvalid, "not a distribution notification envelope")
		return
	}
	var events []Event
	ignored := 0
	for _, e := range env.Events {
		t := e.Target
		// Pulls, deletes, mounts and blob pushes (no tag) trigger nothing.
		if e.Action != "push" || t.Tag == "" {
			ignored++
			continue
		}
		host := e.Request.Host
		if host == "" {
			if u, err := url.Parse(t.URL); err == nil {
				host = u.Host
			}
		}
		if !hostRE.MatchString(host) || !repoPath.MatchString(t.Repository) || !tagRE.MatchString(t.Tag) {
			// Skipped, not refused: the registry retries a refused
			// envelope forever, holding back every later notification.
			s.log.Warn("registry push event skipped: no valid host, repository or tag", "id", e.ID)
			ignored++
			continue
		}
		events = append(events, Event{
			Kind:       KindImage,
			ID:         e.ID,
			Repository: strings.ToLower(host) + "/" + t.Repository,
			Tag:        t.Tag,
			Digest:     t.Digest,
		})
	}
	s.dispatch(w, r, SourceRegistry, events, ignored, "no tagged pushes")
}
