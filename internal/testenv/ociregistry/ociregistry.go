// Package ociregistry runs a real OCI distribution registry in-process for
// tests and the demo: go-containerregistry's pkg/registry, wrapped to behave
// like a production registry in the ways Ferry depends on.
//
// The wrapper adds what the in-process registry lacks: RFC 5988 Link headers
// on tag-list pages (as distribution/distribution sends them), optional HTTP
// basic auth, fault injection (429/503 with Retry-After for the next N
// requests) and per-path request counters.
package ociregistry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Server is a running registry on 127.0.0.1.
type Server struct {
	*httptest.Server
	// Host is host:port, usable in image references.
	Host string

	user, pass string
	bearer     bool
	referrers  bool
	inner      http.Handler

	tokenMu sync.Mutex
	tokens  map[string]map[string]bool // token -> repositories it may pull

	mu     sync.Mutex
	faults []fault

	requests atomic.Int64
	tagLists atomic.Int64
	tokenReq atomic.Int64
}

type fault struct {
	status     int
	retryAfter string
	remaining  int
}

// Option configures a Server.
type Option func(*Server)

// WithBasicAuth requires HTTP basic auth with these credentials on /v2/.
func WithBasicAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithBearerTokens makes the registry demand scoped bearer tokens, like
// Docker Hub or GHCR: /v2/ answers 401 with a Bearer challenge whose realm is
// this server's /token endpoint, which issues a token for the requested
// repository:NAME:pull scopes (after basic auth if WithBasicAuth is also
// given). A token only grants the repositories it was issued for.
func WithBearerTokens() Option {
	return func(s *Server) { s.bearer = true }
}

// WithReferrers serves the OCI 1.1 referrers API
// (GET /v2/NAME/referrers/DIGEST), as Docker Hub, ECR and Harbor do; without
// it the registry answers 404 there, as distribution 2.8 does.
func WithReferrers() Option {
	return func(s *Server) { s.referrers = true }
}

// TokenRequests is the number of token requests served so far.
func (s *Server) TokenRequests() int64 { return s.tokenReq.Load() }

// New starts a Server; Close stops it.
func New(opts ...Option) *Server {
	s := &Server{}
	for _, o := range opts {
		o(s)
	}
	s.inner = ggcr.New(ggcr.Logger(discardLogger()), ggcr.WithReferrersSupport(s.referrers))
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	s.Host = strings.TrimPrefix(s.URL, "http://")
	return s
}

// FailNext makes the next n requests answer status (e.g. 429 or 503), with
// a Retry-After header when retryAfter is not empty.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{status: status, retryAfter: retryAfter, remaining: n})
}

// Requests is the number of requests served so far, faults included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// TagLists is the number of tags/list requests served so far.
func (s *Server) TagLists() int64 { return s.tagLists.Load() }

func (s *Server) takeFault() (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.faults) > 0 {
		f := &s.faults[0]
		if f.remaining <= 0 {
			s.faults = s.faults[1:]
			continue
		}
		f.remaining--
		return *f, true
	}
	return fault{}, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if f, ok := s.takeFault(); ok {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"injected fault"}]}`, f.status)
		return
	}
	if s.bearer {
		if !s.authorizeBearer(w, r) {
			return
		}
	} else if s.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.user || p != s.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="ferry-test"`)
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			// As distribution's htpasswd auth answers: the access asked
			// for is the error's detail.
			detail := ""
			if repo := repoOf(r.URL.Path); repo != "" {
				detail = fmt.Sprintf(`,"detail":[{"Type":"repository","Class":"","Name":%q,"Action":"pull"}]`, repo)
			}
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"`+detail+`}]}`, http.StatusUnauthorized)
			return
		}
	}
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tags/list") {
		s.tagLists.Add(1)
		s.serveTagList(w, r)
		return
	}
	s.inner.ServeHTTP(w, r)
}

// authorizeBearer serves /token and checks bearer tokens on /v2/. It reports
// whether the request may go on to the registry.
func (s *Server) authorizeBearer(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == "/token" {
		s.tokenReq.Add(1)
		if s.user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != s.user || p != s.pass {
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
				return false
			}
		}
		grant := map[string]bool{}
		for _, sc := range r.URL.Query()["scope"] {
			for _, one := range strings.Split(sc, " ") {
				parts := strings.Split(one, ":")
				if len(parts) == 3 && parts[0] == "repository" && strings.Contains(parts[2], "pull") {
					grant[parts[1]] = true
				}
			}
		}
		tok := fmt.Sprintf("tok-%d", s.tokenReq.Load())
		s.tokenMu.Lock()
		if s.tokens == nil {
			s.tokens = map[string]map[string]bool{}
		}
		s.tokens[tok] = grant
		s.tokenMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
		return false
	}
	challenge := func(scope string) {
		c := fmt.Sprintf(`Bearer realm="%s/token",service="ferry-test"`, s.URL)
		if scope != "" {
			c += fmt.Sprintf(`,scope="%s"`, scope)
		}
		w.Header().Set("WWW-Authenticate", c)
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
	}
	repo := repoOf(r.URL.Path)
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		challenge("")
		return false
	}
	s.tokenMu.Lock()
	grant, known := s.tokens[tok]
	s.tokenMu.Unlock()
	if !known || (repo != "" && !grant[repo]) {
		challenge("repository:" + repo + ":pull")
		return false
	}
	return true
}

// repoOf extracts NAME from /v2/NAME/(tags|manifests|blobs)/...; "" for /v2/.
func repoOf(p string) string {
	p = strings.TrimPrefix(p, "/v2/")
	for _, sep := range []string{"/tags/", "/manifests/", "/blobs/"} {
		if i := strings.LastIndex(p, sep); i >= 0 {
			return p[:i]
		}
	}
	return ""
}

// serveTagList answers from the inner registry and adds the Link header a
// distribution registry sends when the page is full.
func (s *Server) serveTagList(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		var page struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal(body, &page); err == nil {
			// The inner registry ignores a "last" past the end; fix that.
			if last := r.URL.Query().Get("last"); last != "" && len(page.Tags) > 0 && page.Tags[len(page.Tags)-1] <= last {
				page.Tags = []string{}
				body, _ = json.Marshal(page)
			}
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			if n > 0 && len(page.Tags) == n {
				q := url.Values{"n": {strconv.Itoa(n)}, "last": {page.Tags[n-1]}}
				w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, q.Encode()))
			}
		}
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// Seed pushes one small image to repo (a path such as "team/app") and tags
// it with every tag given. It returns the image's digest.
func (s *Server) Seed(ctx context.Context, repo string, tags ...string) (string, error) {
	return s.seed(ctx, repo, repo, tags)
}

// SeedDistinct pushes a distinct image per tag, so each tag has its own digest.
func (s *Server) SeedDistinct(ctx context.Context, repo string, tags ...string) (map[string]string, error) {
	out := make(map[string]string, len(tags))
	for _, t := range tags {
		d, err := s.seed(ctx, repo, repo+":"+t, []string{t})
		if err != nil {
			return nil, err
		}
		out[t] = d
	}
	return out, nil
}

func (s *Server) seed(ctx context.Context, repo, salt string, tags []string) (string, error) {
	var auth authn.Authenticator = authn.Anonymous
	if s.user != "" {
		auth = &authn.Basic{Username: s.user, Password: s.pass}
	}
	return push(ctx, s.Host, auth, repo, salt, tags)
}

// Push pushes one small image to host/repo (any registry reachable over
// plain HTTP, such as Debian's docker-registry on loopback) and tags it with
// every tag given. It returns the image's digest.
func Push(ctx context.Context, host string, auth authn.Authenticator, repo string, tags ...string) (string, error) {
	return push(ctx, host, auth, repo, repo, tags)
}

func push(ctx context.Context, host string, auth authn.Authenticator, repo, salt string, tags []string) (string, error) {
	if len(tags) == 0 {
		return "", fmt.Errorf("seeding %s: no tags", repo)
	}
	img, err := mutate.Config(empty.Image, v1.Config{Labels: map[string]string{"ferry.dev/seed": salt}})
	if err != nil {
		return "", err
	}
	dig, err := img.Digest()
	if err != nil {
		return "", err
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth)}
	first, err := name.NewTag(host+"/"+repo+":"+tags[0], name.Insecure)
	if err != nil {
		return "", err
	}
	if err := remote.Write(first, img, opts...); err != nil {
		return "", fmt.Errorf("seeding %s: %w", first, err)
	}
	// Further tags are manifest PUTs of the same bytes: no blob traffic.
	pusher, err := remote.NewPusher(opts...)
	if err != nil {
		return "", err
	}
	for _, t := range tags[1:] {
		ref, err := name.NewTag(host+"/"+repo+":"+t, name.Insecure)
		if err != nil {
			return "", err
		}
		if err := pusher.Push(ctx, ref, img); err != nil {
			return "", fmt.Errorf("tagging %s: %w", ref, err)
		}
	}
	return dig.String(), nil
}
