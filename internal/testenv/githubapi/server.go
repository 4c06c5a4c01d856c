package githubapi

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Git is what the emulator needs of the git hosting behind it: the tips of
// branches (to validate pull request heads and bases and to detect "no
// commits between"), merging, and deleting branches. repo is always the full
// name "owner/name". The emulator calls Git while holding its own lock, so
// implementations must not call back into the Server.
type Git interface {
	// Head returns the commit branch points at, and whether it exists.
	Head(repo, branch string) (sha string, ok bool)
	// Merge merges head into base with a merge commit of message and returns
	// the new tip of base. An error makes the pull request unmergeable (405).
	Merge(repo, base, head, message string) (sha string, err error)
	// DeleteBranch deletes branch.
	DeleteBranch(repo, branch string) error
}

// Defaults of a Server.
const (
	// DefaultToken is the one personal access token a Server accepts when
	// neither WithToken nor WithApp is given.
	DefaultToken = "ghp_FerryEmulatorDefaultToken0000000000"
	// DefaultLogin is the user that personal access tokens authenticate as.
	DefaultLogin = "ferry-bot"
	// DefaultRateLimit is the core primary rate limit per window.
	DefaultRateLimit = 5000
	// DefaultRateWindow is the length of a primary rate limit window.
	DefaultRateWindow = time.Hour
	// DefaultTokenTTL is the lifetime of an installation access token.
	DefaultTokenTTL = time.Hour
	// APIVersion is the only X-GitHub-Api-Version the emulator accepts.
	APIVersion = "2022-11-28"
)

// Routes, as counted by Server.Requests and recorded in Call.Route: the
// method and the path pattern below /api/v3.
const (
	RouteListPulls         = "GET /repos/{owner}/{repo}/pulls"
	RouteCreatePull        = "POST /repos/{owner}/{repo}/pulls"
	RouteGetPull           = "GET /repos/{owner}/{repo}/pulls/{number}"
	RouteUpdatePull        = "PATCH /repos/{owner}/{repo}/pulls/{number}"
	RouteMergePull         = "PUT /repos/{owner}/{repo}/pulls/{number}/merge"
	RouteRequestReviewers  = "POST /repos/{owner}/{repo}/pulls/{number}/requested_reviewers"
	RouteListReviews       = "GET /repos/{owner}/{repo}/pulls/{number}/reviews"
	RouteAddLabels         = "POST /repos/{owner}/{repo}/issues/{number}/labels"
	RouteListLabels        = "GET /repos/{owner}/{repo}/issues/{number}/labels"
	RouteCreateComment     = "POST /repos/{owner}/{repo}/issues/{number}/comments"
	RouteListComments      = "GET /repos/{owner}/{repo}/issues/{number}/comments"
	RouteAddAssignees      = "POST /repos/{owner}/{repo}/issues/{number}/assignees"
	RouteDeleteRef         = "DELETE /repos/{owner}/{repo}/git/refs/{ref...}"
	RouteInstallationToken = "POST /app/installations/{id}/access_tokens"
	RouteRateLimit         = "GET /rate_limit"
)

// apiPrefix is where the REST API is served, as on GitHub Enterprise Server.
const apiPrefix = "/api/v3"

// maxBody bounds a request body.
const maxBody = 1 << 20

// App is the GitHub App whose installation tokens a Server mints.
type App struct {
	ID             int64
	InstallationID int64
	// Slug names the app's bot user: installation tokens authenticate as
	// "<slug>[bot]". Default "ferry".
	Slug      string
	PublicKey *rsa.PublicKey
	// TokenTTL is the lifetime of installation tokens (default
	// DefaultTokenTTL).
	TokenTTL time.Duration
}

// Option configures a Server.
type Option func(*Server)

// WithToken adds a personal access token the server accepts, authenticating
// as login (DefaultLogin if empty). Without any WithToken (and without
// WithApp) the server accepts DefaultToken.
func WithToken(token, login string) Option {
	return func(s *Server) {
		if login == "" {
			login = DefaultLogin
		}
		s.tokens[token] = login
	}
}

// WithApp configures the GitHub App whose installation tokens the server
// mints at POST /app/installations/{id}/access_tokens.
func WithApp(app App) Option {
	return func(s *Server) {
		if app.Slug == "" {
			app.Slug = "ferry"
		}
		if app.TokenTTL <= 0 {
			app.TokenTTL = DefaultTokenTTL
		}
		s.app = &app
	}
}

// WithClock sets the server's clock (default time.Now): rate limit windows,
// JWT validation, token expiry and timestamps follow it.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithRateLimit sets the core primary rate limit: limit requests per window.
func WithRateLimit(limit int, window time.Duration) Option {
	return func(s *Server) {
		s.rateLimit = limit
		s.rateWindow = window
	}
}

// Server is a running GitHub REST API emulator. Its methods are safe for
// concurrent use. Close it when done.
type Server struct {
	*httptest.Server

	git        Git
	app        *App
	now        func() time.Time
	rateLimit  int
	rateWindow time.Duration
	mux        *http.ServeMux

	mu          sync.Mutex
	tokens      map[string]string // personal access token → login
	installToks map[string]time.Time
	minted      int
	repos       map[string]*repoState // lower-case "owner/name"
	nextID      int64
	windowStart time.Time
	used        int
	faults      []Fault
	routeCounts map[string]int
	writes      int
	calls       []Call
}

// NewServer starts an emulator on 127.0.0.1 backed by git.
func NewServer(git Git, opts ...Option) *Server {
	if git == nil {
		panic("githubapi: NewServer needs a Git")
	}
	s := &Server{
		git:         git,
		now:         time.Now,
		rateLimit:   DefaultRateLimit,
		rateWindow:  DefaultRateWindow,
		tokens:      map[string]string{},
		installToks: map[string]time.Time{},
		repos:       map[string]*repoState{},
		nextID:      1000,
		routeCounts: map[string]int{},
	}
	for _, o := range opts {
		o(s)
	}
	if len(s.tokens) == 0 && s.app == nil {
		s.tokens[DefaultToken] = DefaultLogin
	}
	if s.rateLimit <= 0 || s.rateWindow <= 0 {
		panic("githubapi: rate limit and window must be positive")
	}
	s.mux = http.NewServeMux()
	s.route(RouteListPulls, s.listPulls)
	s.route(RouteCreatePull, s.createPull)
	s.route(RouteGetPull, s.getPull)
	s.route(RouteUpdatePull, s.updatePull)
	s.route(RouteMergePull, s.mergePull)
	s.route(RouteRequestReviewers, s.requestReviewers)
	s.route(RouteListReviews, s.listReviews)
	s.route(RouteAddLabels, s.addLabels)
	s.route(RouteListLabels, s.listLabels)
	s.route(RouteCreateComment, s.createComment)
	s.route(RouteListComments, s.listComments)
	s.route(RouteAddAssignees, s.addAssignees)
	s.route(RouteDeleteRef, s.deleteRef)
	s.route(RouteInstallationToken, s.createInstallationToken)
	s.route(RouteRateLimit, s.getRateLimit)
	s.route(RouteCreateStatus, s.createStatus)
	s.route(RouteListStatuses, s.listStatuses)
	s.route(RouteCreateDeployment, s.createDeployment)
	s.route(RouteListDeployments, s.listDeployments)
	s.route(RouteCreateDeploymentStatus, s.createDeploymentStatus)
	s.route(RouteListDeploymentStatuses, s.listDeploymentStatuses)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, "", nil) })
	s.Server = httptest.NewServer(s.mux)
	return s
}

// BaseURL is the API base URL to give go-github's WithEnterpriseURLs:
// "http://127.0.0.1:PORT/api/v3/".
func (s *Server) BaseURL() string { return s.URL + apiPrefix + "/" }

// UploadURL is the upload URL to give go-github's WithEnterpriseURLs. The
// emulator serves no upload endpoints.
func (s *Server) UploadURL() string { return s.URL + "/api/uploads/" }

// AddRepo creates an empty repository owner/name. Requests naming a
// repository that was not added answer 404.
func (s *Server) AddRepo(owner, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(owner + "/" + name)
	if s.repos[key] == nil {
		s.nextID++
		s.repos[key] = &repoState{owner: owner, name: name, id: s.nextID, labels: map[string]*label{}}
	}
}

// Fault is an injected failure of one request. Faults apply after
// authentication and the primary rate limit check, in the order they were
// queued, to the first matching requests.
type Fault struct {
	// Status is the HTTP status answered, Message the error message.
	Status  int
	Message string
	// DocumentationURL is the error's documentation_url.
	DocumentationURL string
	// RetryAfter, if positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
	// WritesOnly restricts the fault to POST, PATCH, PUT and DELETE.
	WritesOnly bool
	// Route, if set, restricts the fault to one route (a Route constant).
	Route string
}

// SecondaryRateLimit is GitHub's secondary rate limit answer: 403 with a
// Retry-After of retryAfter (none if zero).
func SecondaryRateLimit(retryAfter time.Duration) Fault {
	return Fault{
		Status:           http.StatusForbidden,
		Message:          "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
		DocumentationURL: "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		RetryAfter:       retryAfter,
	}
}

// ServerError is a 5xx answer (500 "Server Error", 502 "Bad Gateway", ...).
func ServerError(status int) Fault {
	msg := "Server Error"
	if status == http.StatusBadGateway {
		msg = "Bad Gateway"
	}
	return Fault{Status: status, Message: msg}
}

// FailNext makes the next n matching requests fail with f.
func (s *Server) FailNext(n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// Call is one request received, in arrival order.
type Call struct {
	Method string
	Route  string // a Route constant, "" if no route matched
	Path   string // below /api/v3, with the query
	Login  string // who the request authenticated as, if anyone
	Status int
	Fault  bool // answered by an injected fault
}

// Requests returns how many requests matched route (a Route constant),
// whatever their outcome.
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.routeCounts[route]
}

// TotalRequests returns how many requests the server received.
func (s *Server) TotalRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Writes returns how many POST, PATCH, PUT and DELETE requests to
// /repos/... routes the server received, whatever their outcome (installation
// token exchanges are not repository writes and are not counted).
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Calls returns every request received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// ResetCounters zeroes Requests, TotalRequests, Writes and Calls.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routeCounts = map[string]int{}
	s.writes = 0
	s.calls = nil
}

// InstallationTokensMinted returns how many installation tokens were issued.
func (s *Server) InstallationTokensMinted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted
}

// RevokeInstallationTokens makes every installation token issued so far
// invalid, as if the installation's tokens had been revoked.
func (s *Server) RevokeInstallationTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installToks = map[string]time.Time{}
}

// Rate is the state of the core primary rate limit.
type Rate struct {
	Limit, Remaining, Used int
	Reset                  time.Time
}

// RateLimit returns the current state of the core primary rate limit.
func (s *Server) RateLimit() Rate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLocked()
}

func (s *Server) rateLocked() Rate {
	now := s.now()
	if s.windowStart.IsZero() || !now.Before(s.windowStart.Add(s.rateWindow)) {
		s.windowStart = now
		s.used = 0
	}
	return Rate{
		Limit:     s.rateLimit,
		Remaining: max(s.rateLimit-s.used, 0),
		Used:      s.used,
		Reset:     s.windowStart.Add(s.rateWindow),
	}
}

// handler answers one authenticated, rate-limited request. It runs with
// s.mu held.
type handler func(c *ctx) (int, any)

// ctx is one request being answered.
type ctx struct {
	r       *http.Request
	body    []byte
	login   string
	repo    *repoState // set for /repos routes
	header  http.Header
	baseURL string // http://host
}

func (c *ctx) param(name string) string { return c.r.PathValue(name) }

// apiError is a GitHub error answer.
type apiError struct {
	status  int
	message string
	errors  []fieldError
	docURL  string
}

type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
}

func (e *apiError) body() map[string]any {
	m := map[string]any{"message": e.message}
	if len(e.errors) > 0 {
		m["errors"] = e.errors
	}
	doc := e.docURL
	if doc == "" {
		doc = "https://docs.github.com/rest"
	}
	m["documentation_url"] = doc
	return m
}

func notFound() (int, any) {
	return http.StatusNotFound, &apiError{status: http.StatusNotFound, message: "Not Found"}
}

func fail(status int, message string) (int, any) {
	return status, &apiError{status: status, message: message}
}

// validationFailed is GitHub's 422 with field errors.
func validationFailed(errs ...fieldError) (int, any) {
	return http.StatusUnprocessableEntity, &apiError{status: http.StatusUnprocessableEntity, message: "Validation Failed", errors: errs}
}

// invalidRequest is GitHub's 422 for a body that fails the schema.
func invalidRequest(detail string) (int, any) {
	return http.StatusUnprocessableEntity, &apiError{status: http.StatusUnprocessableEntity, message: "Invalid request.\n\n" + detail}
}

func (s *Server) route(pattern string, h handler) {
	method, path, _ := strings.Cut(pattern, " ")
	s.mux.HandleFunc(method+" "+apiPrefix+path, func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, pattern, h)
	})
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// serve answers one request of route (empty, with a nil h, if no route
// matched).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, route string, h handler) {
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if readErr == nil && len(body) > maxBody {
		readErr = errors.New("body too large")
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	call := Call{Method: r.Method, Route: route, Path: strings.TrimPrefix(r.URL.RequestURI(), apiPrefix)}
	s.routeCounts[route]++
	if isWrite(r.Method) && strings.HasPrefix(route, r.Method+" /repos/") {
		s.writes++
	}
	hdr := w.Header()
	status, out, fault := s.answer(r, route, h, body, readErr, hdr, &call)
	call.Status = status
	call.Fault = fault
	s.calls = append(s.calls, call)

	rate := s.rateLocked()
	hdr.Set("X-RateLimit-Limit", strconv.Itoa(rate.Limit))
	hdr.Set("X-RateLimit-Remaining", strconv.Itoa(rate.Remaining))
	hdr.Set("X-RateLimit-Reset", strconv.FormatInt(unixCeil(rate.Reset), 10))
	hdr.Set("X-RateLimit-Used", strconv.Itoa(rate.Used))
	hdr.Set("X-RateLimit-Resource", "core")
	hdr.Set("X-GitHub-Api-Version-Selected", APIVersion)
	hdr.Set("X-GitHub-Request-Id", requestID())
	if out == nil {
		w.WriteHeader(status)
		return
	}
	if e, ok := out.(*apiError); ok {
		out = e.body()
	}
	data, err := json.Marshal(out)
	if err != nil {
		panic(fmt.Sprintf("githubapi: encode answer: %v", err))
	}
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// answer runs the checks every request goes through, then the route's
// handler. It runs with s.mu held.
func (s *Server) answer(r *http.Request, route string, h handler, body []byte, readErr error, hdr http.Header, call *Call) (status int, out any, fault bool) {
	if h == nil {
		st, o := notFound()
		return st, o, false
	}
	if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && v != APIVersion {
		st, o := fail(http.StatusBadRequest, fmt.Sprintf("Invalid API version provided: %s. Supported versions: %s", v, APIVersion))
		return st, o, false
	}

	// Authentication.
	c := &ctx{r: r, body: body, header: hdr, baseURL: s.URL}
	if route == RouteInstallationToken {
		if st, o := s.authenticateApp(r); st != 0 {
			return st, o, false
		}
		c.login = s.app.Slug + "[bot]"
	} else {
		login, ok := s.authenticate(r)
		if !ok {
			st, o := fail(http.StatusUnauthorized, "Bad credentials")
			return st, o, false
		}
		c.login = login
	}
	call.Login = c.login

	// The primary rate limit: every authenticated core request but
	// GET /rate_limit and the app's token exchange counts.
	if route != RouteRateLimit && route != RouteInstallationToken {
		if rate := s.rateLocked(); rate.Remaining == 0 {
			who := "user ID 1"
			if strings.HasSuffix(c.login, "[bot]") {
				who = fmt.Sprintf("installation ID %d", s.app.InstallationID)
			}
			return http.StatusForbidden, &apiError{
				status:  http.StatusForbidden,
				message: fmt.Sprintf("API rate limit exceeded for %s.", who),
				docURL:  "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
			}, false
		}
		s.used++
	}

	if f, ok := s.nextFault(r.Method, route); ok {
		if f.RetryAfter > 0 {
			hdr.Set("Retry-After", strconv.FormatInt(int64((f.RetryAfter+time.Second-1)/time.Second), 10))
		}
		return f.Status, &apiError{status: f.Status, message: f.Message, docURL: f.DocumentationURL}, true
	}

	if readErr != nil {
		st, o := fail(http.StatusBadRequest, "Problems parsing JSON")
		return st, o, false
	}
	if strings.HasPrefix(route, r.Method+" /repos/") {
		c.repo = s.repos[strings.ToLower(r.PathValue("owner")+"/"+r.PathValue("repo"))]
		if c.repo == nil {
			st, o := notFound()
			return st, o, false
		}
	}
	st, o := h(c)
	return st, o, false
}

func (s *Server) nextFault(method, route string) (Fault, bool) {
	for i, f := range s.faults {
		if f.WritesOnly && !isWrite(method) {
			continue
		}
		if f.Route != "" && f.Route != route {
			continue
		}
		s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		return f, true
	}
	return Fault{}, false
}

// authenticate checks a personal access token or installation token.
func (s *Server) authenticate(r *http.Request) (login string, ok bool) {
	tok, ok := credential(r.Header.Get("Authorization"))
	if !ok {
		return "", false
	}
	if login, ok := s.tokens[tok]; ok {
		return login, true
	}
	if exp, ok := s.installToks[tok]; ok && s.now().Before(exp) {
		return s.app.Slug + "[bot]", true
	}
	return "", false
}

// credential extracts the token of "Bearer TOKEN" or "token TOKEN".
func credential(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return tok, true
	}
	return "", false
}

func (s *Server) getRateLimit(c *ctx) (int, any) {
	rate := s.rateLocked()
	core := map[string]any{
		"limit":     rate.Limit,
		"remaining": rate.Remaining,
		"reset":     unixCeil(rate.Reset),
		"used":      rate.Used,
		"resource":  "core",
	}
	return http.StatusOK, map[string]any{
		"resources": map[string]any{"core": core},
		"rate":      core,
	}
}

func unixCeil(t time.Time) int64 {
	u := t.Unix()
	if t.Nanosecond() > 0 {
		u++
	}
	return u
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%X:%X", b[:4], b[4:])
}

func randomToken(prefix string, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}

func timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// ValidGitCredentials reports whether git over HTTPS with these basic-auth
// credentials would be accepted by GitHub for a repository of this server:
// any username with a personal access token, or "x-access-token" with a
// live installation token. A git server in a test uses it (gitserver's
// WithAuthFunc) so that tokens minted here also authenticate pushes.
func (s *Server) ValidGitCredentials(username, password string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tokens[password]; ok && username != "" {
		return true
	}
	exp, ok := s.installToks[password]
	return ok && username == "x-access-token" && s.now().Before(exp)
}
