package ui

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/server"
)

// Defaults of Options.
const (
	DefaultSessionTTL = 8 * time.Hour
	DefaultPoll       = time.Second
)

// Options configure a UI.
type Options struct {
	Backend Backend
	// Kube creates TokenReviews and SubjectAccessReviews (Ferry's own
	// credentials: ClusterRole system:auth-delegator). Needed unless
	// Local.
	Kube kubernetes.Interface
	// Namespace is where SubjectAccessReviews ask: Ferry's namespace,
	// where the Roles of install/rbac/ui-roles.yaml live.
	Namespace string
	// AnonymousRead lets people who did not sign in see the pages (list
	// and get), never act.
	AnonymousRead bool
	// Local is `ferry ui`: requests without a token act with the
	// process's own (kubeconfig) credentials.
	Local bool
	// SecureCookies marks the session cookie Secure even when the
	// request did not arrive over TLS (TLS ends at a proxy).
	SecureCookies bool
	SessionTTL    time.Duration    // default 8h
	Poll          time.Duration    // how often the Backend's snapshot is compared; default 1s
	ActionTimeout time.Duration    // bound of one action; default 10m
	Events        *server.EventLog // where actions are recorded; nil: a new one
	Log           *slog.Logger
	Now           func() time.Time
}

// UI serves the pages and the API.
type UI struct {
	opts      Options
	log       *slog.Logger
	auth      *auth
	bc        *Broadcaster
	mux       *http.ServeMux
	pokeC     chan struct{}
	refreshMu sync.Mutex // one refresh at a time
	mu        sync.Mutex
	rows      []byte // the app list's rows as last published
	images    []byte
	lastFP    [2]uint64
	started   bool
}

// New returns a UI for opts.
func New(opts Options) (*UI, error) {
	if opts.Backend == nil {
		return nil, errors.New("ui: no backend")
	}
	if opts.Kube == nil && !opts.Local {
		return nil, errors.New("ui: signing in needs a Kubernetes client for TokenReview and SubjectAccessReview")
	}
	opts.SessionTTL = cmp.Or(opts.SessionTTL, DefaultSessionTTL)
	opts.Poll = cmp.Or(opts.Poll, DefaultPoll)
	opts.ActionTimeout = cmp.Or(opts.ActionTimeout, 10*time.Minute)
	if opts.Events == nil {
		opts.Events = server.NewEventLog(server.DefaultEventLogSize)
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	u := &UI{opts: opts, log: opts.Log, bc: NewBroadcaster(), pokeC: make(chan struct{}, 1),
		auth: &auth{cs: opts.Kube, namespace: opts.Namespace, ttl: opts.SessionTTL, anonymous: opts.AnonymousRead,
			local: opts.Local, localCSRF: randomID(), now: opts.Now,
			sessions: map[string]*session{}, tokens: map[[32]byte]cachedUser{}, decisions: map[string]cachedDecision{}}}
	m := http.NewServeMux()
	m.Handle("GET /ui/assets/", http.StripPrefix("/ui/", assetHandler()))
	m.HandleFunc("GET /ui/{$}", u.appsPage)
	m.HandleFunc("GET /ui/login", u.loginPage)
	m.HandleFunc("POST /ui/login", u.login)
	m.HandleFunc("POST /ui/logout", u.logout)
	m.HandleFunc("GET /ui/apps/{app}", u.appPage)
	m.HandleFunc("POST /ui/apps/{app}/{action}", u.appAction)
	m.HandleFunc("GET /ui/images", u.imagesPage)
	m.HandleFunc("POST /ui/scan", u.scanAction)
	m.HandleFunc("GET /api/v1/whoami", u.apiWhoami)
	m.HandleFunc("GET /api/v1/apps", u.apiApps)
	m.HandleFunc("GET /api/v1/apps/{app}", u.apiApp)
	m.HandleFunc("GET /api/v1/apps/{app}/diff", u.apiDiff)
	m.HandleFunc("POST /api/v1/apps/{app}/{action}", u.apiAction)
	m.HandleFunc("GET /api/v1/images", u.apiImages)
	m.HandleFunc("POST /api/v1/scan", u.apiScan)
	m.HandleFunc("GET /api/v1/events", u.events)
	u.mux = m
	u.refresh() // the first render, so pages have rows before Run
	return u, nil
}

// Handler serves /ui/ and /api/v1/.
func (u *UI) Handler() http.Handler { return u.mux }

// Routes are the patterns to mount Handler on.
func Routes() []string { return []string{"/ui/", "/api/v1/"} }

// Broadcaster is the live updates' fan-out (for tests and benchmarks).
func (u *UI) Broadcaster() *Broadcaster { return u.bc }

// Run compares the Backend's snapshot every Options.Poll (and at once
// after an action) and publishes what changed, until ctx ends.
func (u *UI) Run(ctx context.Context) {
	t := time.NewTicker(u.opts.Poll)
	defer t.Stop()
	defer u.bc.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-u.pokeC:
		}
		u.refresh()
	}
}

// poke asks Run to compare now.
func (u *UI) poke() {
	select {
	case u.pokeC <- struct{}{}:
	default:
	}
}

// refresh renders and publishes the app rows and the images section when
// the snapshot's apps or repositories changed.
func (u *UI) refresh() {
	u.refreshMu.Lock()
	defer u.refreshMu.Unlock()
	snap := u.opts.Backend.Snapshot()
	fpApps := fingerprint(snap.Apps)
	fpRepos := fingerprint(snap.Repos)
	u.mu.Lock()
	last, first := u.lastFP, !u.started
	u.started = true
	u.mu.Unlock()
	if first || fpApps != last[0] {
		if !u.publish("apps", "rows", newAppRows(snap.Apps, u.opts.Now()), "the app list", &u.rows, 0, fpApps) {
			return
		}
	}
	if first || fpRepos != last[1] {
		u.publish("images", "policies", newImagesView(snap, u.opts.Backend.Apps()), "the images", &u.images, 1, fpRepos)
	}
}

// publish renders the template name with data, keeps it in *dst with its
// fingerprint fp in lastFP[i] and publishes it as the event; false when
// rendering it failed (logged as rendering what).
func (u *UI) publish(event, name string, data any, what string, dst *[]byte, i int, fp uint64) bool {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		u.log.Error("rendering "+what, "error", err)
		return false
	}
	u.mu.Lock()
	*dst, u.lastFP[i] = buf.Bytes(), fp
	u.mu.Unlock()
	u.bc.Publish(event, version(fp), buf.Bytes())
	return true
}

// version names a rendering, so that a page skips the event of the
// rows it already shows.
func version(fp uint64) string { return strconv.FormatUint(fp, 36) }

func fingerprint(v any) uint64 {
	h := fnv.New64a()
	_ = json.NewEncoder(h).Encode(v)
	return h.Sum64()
}

// identify returns the user or answers 401 (API) / redirects to sign-in
// (pages).
func (u *UI) identify(w http.ResponseWriter, r *http.Request, page bool) (User, *session, bool) {
	usr, s, err := u.auth.identify(r)
	if err == nil {
		return usr, s, true
	}
	if page {
		http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	} else {
		u.fail(w, r, false, User{}, nil, err)
	}
	return User{}, nil, false
}

// allowed identifies the request's user and checks with the cluster that
// they may verb resource (name "" for all); otherwise it answers with the
// failure (as a page when page) and returns false.
func (u *UI) allowed(w http.ResponseWriter, r *http.Request, page bool, verb, resource, name string) (User, *session, bool) {
	usr, s, ok := u.identify(w, r, page)
	if !ok {
		return usr, s, false
	}
	if err := u.auth.authorize(r.Context(), usr, verb, resource, name); err != nil {
		u.fail(w, r, page, usr, s, err)
		return usr, s, false
	}
	return usr, s, true
}

// fail answers err: JSON for the API, an error page for pages.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, page bool, usr User, s *session, err error) {
	code := http.StatusInternalServerError
	var fb *Forbidden
	switch {
	case errors.Is(err, ErrUnauthenticated):
		code = http.StatusUnauthorized
	case errors.As(err, &fb):
		code = http.StatusForbidden
	case errors.Is(err, ErrNoApp):
		code = http.StatusNotFound
	case errors.Is(err, ErrNotAvailable):
		code = http.StatusNotImplemented
	case errors.Is(err, errCSRF), errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
		if errors.Is(err, errCSRF) {
			code = http.StatusForbidden
		}
	}
	if code == http.StatusInternalServerError {
		u.log.Error("ui request failed", "path", r.URL.Path, "user", usr.Name, "error", err)
	}
	if !page {
		writeJSON(w, code, map[string]string{"error": err.Error()})
		return
	}
	u.render(w, code, "error", &pageData{Title: http.StatusText(code), User: usr, CSRF: u.auth.csrfToken(usr, s), Error: err.Error(), Code: code})
}

var (
	errCSRF       = errors.New("the form's CSRF token is missing or wrong; reload the page and try again")
	errBadRequest = errors.New("bad request")
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// record writes an action to the event log, naming who did it.
func (u *UI) record(usr User, what string, err error) {
	msg := usr.Name + " " + what
	if err != nil {
		msg += ": " + err.Error()
	}
	u.opts.Events.Add("ui", msg, err != nil)
	u.log.Info("ui action", "user", usr.Name, "action", what, "error", err)
}

// act authorizes and runs one app action, recording it; it returns a
// short outcome for the page.
func (u *UI) act(ctx context.Context, usr User, app, action, revision string) (any, string, error) {
	verb := map[string]string{"sync": VerbSync, "rollback": VerbRollback, "release": VerbRelease}[action]
	if verb == "" {
		return nil, "", fmt.Errorf("%w: no action %q (sync, rollback, release)", errBadRequest, action)
	}
	if err := u.auth.authorize(ctx, usr, verb, ResourceApps, app); err != nil {
		u.record(usr, fmt.Sprintf("was refused %s of app %s", action, app), nil)
		return nil, "", err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.opts.ActionTimeout)
	defer cancel()
	defer u.poke()
	switch action {
	case "sync":
		rec, err := u.opts.Backend.Sync(ctx, app)
		out := fmt.Sprintf("synced app %s: %s at %s", app, rec.Result, gitrepo.ShortRevision(rec.Revision))
		u.record(usr, out, err)
		return rec, out, err
	case "rollback":
		rec, err := u.opts.Backend.Rollback(ctx, app, revision)
		out := fmt.Sprintf("rolled app %s back to %s: %s", app, gitrepo.ShortRevision(rec.Revision), rec.Result)
		u.record(usr, out, err)
		return rec, out, err
	default:
		released, err := u.opts.Backend.Release(ctx, app)
		out := fmt.Sprintf("released the pin of app %s", app)
		if !released {
			out = fmt.Sprintf("released app %s, which was not pinned", app)
		}
		u.record(usr, out, err)
		return map[string]bool{"released": released}, out, err
	}
}

func (u *UI) scan(ctx context.Context, usr User) error {
	if err := u.auth.authorize(ctx, usr, VerbScan, ResourcePolicies, ""); err != nil {
		u.record(usr, "was refused a scan", nil)
		return err
	}
	err := u.opts.Backend.Scan(ctx)
	u.record(usr, "started a scan", err)
	return err
}

// events streams live updates (server-sent events).
func (u *UI) events(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := u.allowed(w, r, false, VerbList, ResourceApps, ""); !ok {
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sub := u.bc.Subscribe()
	defer sub.Cancel()
	_, _ = w.Write([]byte("retry: 2000\n\n"))
	_ = rc.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := w.Write([]byte(": keepalive\n\n")); err != nil {
				return
			}
		case frame, ok := <-sub.C:
			if !ok {
				return
			}
			if _, err := w.Write(frame); err != nil {
				return
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

// query filters of the app list.
type filter struct {
	Q, Result     string
	Pinned, Drift bool
}

func (f filter) active() bool { return f.Q != "" || f.Result != "" || f.Pinned || f.Drift }

func (f filter) match(a server.AppStatus) bool {
	if f.Q != "" && !strings.Contains(strings.ToLower(a.Name+" "+a.Repo), strings.ToLower(f.Q)) {
		return false
	}
	if f.Result != "" && !strings.EqualFold(a.Result, f.Result) {
		return false
	}
	if f.Pinned && !a.Pinned {
		return false
	}
	if f.Drift && !drifted(a) {
		return false
	}
	return true
}

func filterOf(r *http.Request) filter {
	q := r.URL.Query()
	return filter{Q: strings.TrimSpace(q.Get("q")), Result: q.Get("result"), Pinned: q.Get("pinned") != "", Drift: q.Get("drift") != ""}
}
