package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/server"
)

// pageData is every page template's data.
type pageData struct {
	Title, Nav string
	User       User
	CSRF       string
	Flash      string
	FlashErr   bool
	Error      string
	Code       int
	Next       string
	Local      bool

	Filter  filter
	Rows    template.HTML
	Version string // of Rows or Images, as the live events name it
	Count   int
	App     *appView
	Images  template.HTML
	Results []string
}

func (u *UI) render(w http.ResponseWriter, code int, name string, d *pageData) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, d); err != nil {
		u.log.Error("rendering a page", "page", name, "error", err)
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	server.WriteHTML(w, code, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'", buf.Bytes())
}

func (u *UI) data(usr User, s *session, title, nav string) *pageData {
	return &pageData{Title: title, Nav: nav, User: usr, CSRF: u.auth.csrfToken(usr, s), Local: u.opts.Local}
}

func (u *UI) appsPage(w http.ResponseWriter, r *http.Request) {
	usr, s, ok := u.allowed(w, r, true, VerbList, ResourceApps, "")
	if !ok {
		return
	}
	d := u.data(usr, s, "Apps", "apps")
	d.Filter = filterOf(r)
	d.Results = []string{"Succeeded", "Degraded", "Failed", "pending"}
	snapApps := u.opts.Backend.Snapshot().Apps
	d.Count = len(snapApps)
	if d.Filter.active() {
		var keep []server.AppStatus
		for _, a := range snapApps {
			if d.Filter.match(a) {
				keep = append(keep, a)
			}
		}
		var buf bytes.Buffer
		if err := pages.ExecuteTemplate(&buf, "rows", newAppRows(keep, u.opts.Now())); err != nil {
			u.fail(w, r, true, usr, s, err)
			return
		}
		d.Rows = template.HTML(buf.String())
	} else {
		u.refresh() // renders only when the apps changed since the last one
		u.mu.Lock()
		d.Rows, d.Version = template.HTML(u.rows), version(u.lastFP[0]) // rendered once per change, shared by every viewer
		u.mu.Unlock()
	}
	d.Flash = r.URL.Query().Get("flash")
	u.render(w, http.StatusOK, "apps", d)
}

func (u *UI) appPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	usr, s, ok := u.allowed(w, r, true, VerbGet, ResourceApps, name)
	if !ok {
		return
	}
	v, err := u.appView(r.Context(), name, r.URL.Query().Get("diff") != "")
	if err != nil {
		u.fail(w, r, true, usr, s, err)
		return
	}
	d := u.data(usr, s, "App "+name, "apps")
	d.App = v
	d.Flash = r.URL.Query().Get("flash")
	d.FlashErr = r.URL.Query().Get("failed") != ""
	u.render(w, http.StatusOK, "app", d)
}

// appView gathers an app's page: its status row, what the cluster knows,
// and on request the diff.
func (u *UI) appView(ctx context.Context, name string, withDiff bool) (*appView, error) {
	snap := u.opts.Backend.Snapshot()
	var row *server.AppStatus
	for i := range snap.Apps {
		if snap.Apps[i].Name == name {
			row = &snap.Apps[i]
		}
	}
	if row == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoApp, name)
	}
	st, err := u.opts.Backend.AppStatus(ctx, name)
	v := newAppView(*row, st, err, snap.Events, u.opts.Now())
	if withDiff {
		res, err := u.opts.Backend.Diff(ctx, name)
		v.setDiff(res, err)
	}
	return v, nil
}

func (u *UI) imagesPage(w http.ResponseWriter, r *http.Request) {
	usr, s, ok := u.allowed(w, r, true, VerbList, ResourcePolicies, "")
	if !ok {
		return
	}
	d := u.data(usr, s, "Images", "images")
	u.refresh()
	u.mu.Lock()
	d.Images, d.Version = template.HTML(u.images), version(u.lastFP[1])
	u.mu.Unlock()
	d.Flash = r.URL.Query().Get("flash")
	d.FlashErr = r.URL.Query().Get("failed") != ""
	u.render(w, http.StatusOK, "images", d)
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	tok := randomID()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: tok, Path: "/ui/login", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure(r), MaxAge: 3600})
	d := &pageData{Title: "Sign in", CSRF: tok, Next: safeNext(r.URL.Query().Get("next")), Local: u.opts.Local}
	u.render(w, http.StatusOK, "login", d)
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || c.Value == "" || r.PostFormValue("csrf") != c.Value {
		u.fail(w, r, true, User{}, nil, errCSRF)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := safeNext(r.PostFormValue("next"))
	d := &pageData{Title: "Sign in", CSRF: c.Value, Next: next, Local: u.opts.Local}
	if token == "" || len(token) > maxTokenBytes {
		d.Error = "paste a Kubernetes bearer token"
		u.render(w, http.StatusUnauthorized, "login", d)
		return
	}
	if u.auth.cs == nil {
		d.Error = "signing in with a token needs a cluster to review it"
		u.render(w, http.StatusUnauthorized, "login", d)
		return
	}
	id, sess, err := u.auth.signIn(r.Context(), token)
	if err != nil {
		if !errors.Is(err, ErrUnauthenticated) {
			u.log.Error("signing in", "error", err)
		}
		d.Error = "sign-in failed: " + err.Error()
		u.render(w, http.StatusUnauthorized, "login", d)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure(r), MaxAge: int(u.opts.SessionTTL.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: "", Path: "/ui/login", MaxAge: -1})
	u.record(sess.user, "signed in", nil)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	usr, s, _ := u.auth.identify(r)
	if s != nil {
		if !u.auth.checkCSRF(r, usr, s) {
			u.fail(w, r, true, usr, s, errCSRF)
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil {
			u.auth.signOut(c.Value)
		}
		u.record(usr, "signed out", nil)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: u.secure(r)})
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

func (u *UI) secure(r *http.Request) bool { return r.TLS != nil || u.opts.SecureCookies }

// safeNext keeps redirects after sign-in on the UI.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

// actor identifies the caller of an action (a POST of a page's form, or of
// the API): it limits the body, refuses anonymous callers and checks the
// CSRF token, answering the refusal itself; ok is false then.
func (u *UI) actor(w http.ResponseWriter, r *http.Request, page bool) (User, *session, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	usr, s, ok := u.identify(w, r, page)
	if !ok {
		return usr, s, false
	}
	if usr.Anonymous {
		u.fail(w, r, page, usr, s, &Forbidden{User: usr.Name, Verb: "act", Resource: ResourceApps, Reason: "sign in to act; anonymous access is read-only"})
		return usr, s, false
	}
	if !u.auth.checkCSRF(r, usr, s) {
		u.fail(w, r, page, usr, s, errCSRF)
		return usr, s, false
	}
	return usr, s, true
}

func (u *UI) appAction(w http.ResponseWriter, r *http.Request) {
	usr, s, ok := u.actor(w, r, true)
	if !ok {
		return
	}
	name, action := r.PathValue("app"), r.PathValue("action")
	if err := dotferry.CheckAppName(name); err != nil {
		u.fail(w, r, true, usr, s, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	_, out, err := u.act(r.Context(), usr, name, action, strings.TrimSpace(r.PostFormValue("revision")))
	var fb *Forbidden
	if errors.As(err, &fb) || errors.Is(err, errBadRequest) || errors.Is(err, ErrNoApp) {
		u.fail(w, r, true, usr, s, err)
		return
	}
	q := url.Values{}
	if err != nil {
		q.Set("flash", "Failed: "+out+": "+err.Error())
		q.Set("failed", "1")
	} else {
		q.Set("flash", "Done: "+out)
	}
	http.Redirect(w, r, "/ui/apps/"+url.PathEscape(name)+"?"+q.Encode(), http.StatusSeeOther)
}

func (u *UI) scanAction(w http.ResponseWriter, r *http.Request) {
	usr, s, ok := u.actor(w, r, true)
	if !ok {
		return
	}
	err := u.scan(r.Context(), usr)
	var fb *Forbidden
	if errors.As(err, &fb) {
		u.fail(w, r, true, usr, s, err)
		return
	}
	q := url.Values{"flash": {"Scan started"}}
	if err != nil {
		q = url.Values{"flash": {"Scan failed: " + err.Error()}, "failed": {"1"}}
	}
	http.Redirect(w, r, "/ui/images?"+q.Encode(), http.StatusSeeOther)
}

// The API.

func (u *UI) apiWhoami(w http.ResponseWriter, r *http.Request) {
	usr, _, ok := u.identify(w, r, false)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, usr)
}

// apiRead answers a read of the API: the caller identified, verb on
// resource (name "" for all) authorized by the cluster, then get's answer
// as JSON.
func (u *UI) apiRead(w http.ResponseWriter, r *http.Request, verb, resource, name string, get func() (any, error)) {
	usr, s, ok := u.allowed(w, r, false, verb, resource, name)
	if !ok {
		return
	}
	v, err := get()
	if err != nil {
		u.fail(w, r, false, usr, s, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (u *UI) apiApps(w http.ResponseWriter, r *http.Request) {
	u.apiRead(w, r, VerbList, ResourceApps, "", func() (any, error) {
		f := filterOf(r)
		out := []server.AppStatus{}
		for _, a := range u.opts.Backend.Snapshot().Apps {
			if f.match(a) {
				out = append(out, a)
			}
		}
		return out, nil
	})
}

func (u *UI) apiApp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	u.apiRead(w, r, VerbGet, ResourceApps, name, func() (any, error) {
		return u.opts.Backend.AppStatus(r.Context(), name)
	})
}

func (u *UI) apiDiff(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("app")
	u.apiRead(w, r, VerbGet, ResourceApps, name, func() (any, error) {
		res, err := u.opts.Backend.Diff(r.Context(), name)
		if err != nil && res.App == "" {
			return nil, err
		}
		return res, nil // objects the server rejected carry their error
	})
}

func (u *UI) apiAction(w http.ResponseWriter, r *http.Request) {
	usr, s, ok := u.actor(w, r, false)
	if !ok {
		return
	}
	var body struct {
		Revision string `json:"revision"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			u.fail(w, r, false, usr, s, fmt.Errorf("%w: the body must be JSON such as {\"revision\": \"abc123\"}: %w", errBadRequest, err))
			return
		}
	}
	name := r.PathValue("app")
	if err := dotferry.CheckAppName(name); err != nil {
		u.fail(w, r, false, usr, s, fmt.Errorf("%w: %w", errBadRequest, err))
		return
	}
	res, _, err := u.act(r.Context(), usr, name, r.PathValue("action"), body.Revision)
	if err != nil {
		u.fail(w, r, false, usr, s, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (u *UI) apiImages(w http.ResponseWriter, r *http.Request) {
	u.apiRead(w, r, VerbList, ResourcePolicies, "", func() (any, error) {
		snap := u.opts.Backend.Snapshot()
		v := newImagesView(snap, u.opts.Backend.Apps())
		return map[string]any{"repos": snap.Repos, "pipeline": v.Pipeline}, nil
	})
}

func (u *UI) apiScan(w http.ResponseWriter, r *http.Request) {
	usr, s, ok := u.actor(w, r, false)
	if !ok {
		return
	}
	if err := u.scan(r.Context(), usr); err != nil {
		u.fail(w, r, false, usr, s, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"started": true})
}
