package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Ferry's resource attributes, authorized with SubjectAccessReviews.
const (
	Group             = "ferry.dev"
	ResourceApps      = "apps"
	ResourcePolicies  = "imagepolicies"
	VerbList          = "list"
	VerbGet           = "get"
	VerbSync          = "sync"
	VerbRollback      = "rollback"
	VerbRelease       = "release"
	VerbScan          = "scan"
	sessionCookie     = "ferry_session"
	loginCSRFCookie   = "ferry_login_csrf"
	reviewEvery       = 5 * time.Minute
	decisionCacheTTL  = 5 * time.Second
	tokenCacheTTL     = 30 * time.Second
	maxTokenBytes     = 16 << 10
	anonymousUserName = "system:anonymous"
)

// User is who makes a request.
type User struct {
	Name   string              `json:"user"`
	UID    string              `json:"uid,omitempty"`
	Groups []string            `json:"groups,omitempty"`
	Extra  map[string][]string `json:"-"`
	// Anonymous: not signed in, allowed to read (Options.AnonymousRead).
	Anonymous bool `json:"anonymous,omitempty"`
	// Local: `ferry ui` without a token; the kubeconfig's credentials act.
	Local bool `json:"local,omitempty"`
}

// session is one signed-in browser.
type session struct {
	user     User
	token    string // kept for re-review only; never logged
	csrf     string
	expires  time.Time
	reviewed time.Time
}

// ErrUnauthenticated: no valid token or session.
var ErrUnauthenticated = errors.New("not signed in")

// Forbidden is a refusal by the cluster's RBAC.
type Forbidden struct {
	User, Verb, Resource, Name, Reason string
}

func (f *Forbidden) Error() string {
	what := f.Resource + "." + Group
	if f.Name != "" {
		what += " " + f.Name
	}
	msg := fmt.Sprintf("forbidden: %s may not %s %s", f.User, f.Verb, what)
	if f.Reason != "" {
		msg += " (" + f.Reason + ")"
	}
	return msg
}

// auth checks tokens with TokenReview and actions with
// SubjectAccessReview, and keeps the sessions.
type auth struct {
	cs        kubernetes.Interface
	namespace string
	ttl       time.Duration
	anonymous bool
	local     bool
	localCSRF string // the CSRF token of local (`ferry ui`) pages
	now       func() time.Time

	mu        sync.Mutex
	sessions  map[string]*session
	tokens    map[[32]byte]cachedUser // sha256(token) → reviewed user, briefly
	decisions map[string]cachedDecision
}

type cachedUser struct {
	user    User
	expires time.Time
}

type cachedDecision struct {
	allowed bool
	reason  string
	expires time.Time
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// review asks the cluster who token belongs to.
func (a *auth) review(ctx context.Context, token string) (User, error) {
	tr, err := a.cs.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{Spec: authnv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		return User{}, fmt.Errorf("reviewing the token: %w", err)
	}
	if !tr.Status.Authenticated {
		return User{}, fmt.Errorf("%w: the cluster did not accept the token", ErrUnauthenticated)
	}
	u := User{Name: tr.Status.User.Username, UID: tr.Status.User.UID, Groups: tr.Status.User.Groups}
	if len(tr.Status.User.Extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range tr.Status.User.Extra {
			u.Extra[k] = v
		}
	}
	return u, nil
}

// bearer authenticates a request's bearer token, cached briefly by its
// hash.
func (a *auth) bearer(ctx context.Context, token string) (User, error) {
	key := sha256.Sum256([]byte(token))
	now := a.now()
	a.mu.Lock()
	c, ok := a.tokens[key]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.user, nil
	}
	u, err := a.review(ctx, token)
	if err != nil {
		return User{}, err
	}
	a.mu.Lock()
	if len(a.tokens) > 10000 {
		clear(a.tokens)
	}
	a.tokens[key] = cachedUser{user: u, expires: now.Add(tokenCacheTTL)}
	a.mu.Unlock()
	return u, nil
}

// signIn reviews token and starts a session.
func (a *auth) signIn(ctx context.Context, token string) (string, *session, error) {
	u, err := a.review(ctx, token)
	if err != nil {
		return "", nil, err
	}
	now := a.now()
	s := &session{user: u, token: token, csrf: randomID(), expires: now.Add(a.ttl), reviewed: now}
	id := randomID()
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, old := range a.sessions {
		if now.After(old.expires) {
			delete(a.sessions, k)
		}
	}
	a.sessions[id] = s
	return id, s, nil
}

func (a *auth) signOut(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
}

// session returns the live session of id, reviewing its token again
// when it was last reviewed long ago.
func (a *auth) session(ctx context.Context, id string) (*session, error) {
	now := a.now()
	a.mu.Lock()
	s, ok := a.sessions[id]
	if ok && now.After(s.expires) {
		delete(a.sessions, id)
		ok = false
	}
	a.mu.Unlock()
	if !ok {
		return nil, ErrUnauthenticated
	}
	if now.Sub(s.reviewed) > reviewEvery {
		u, err := a.review(ctx, s.token)
		if err != nil {
			a.signOut(id)
			return nil, err
		}
		a.mu.Lock()
		s.user, s.reviewed = u, now
		a.mu.Unlock()
	}
	return s, nil
}

// identify returns the request's user and session (nil for a bearer
// token, anonymous and local users).
func (a *auth) identify(r *http.Request) (User, *session, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		token, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || token == "" || len(token) > maxTokenBytes {
			return User{}, nil, fmt.Errorf("%w: Authorization must be a bearer token", ErrUnauthenticated)
		}
		u, err := a.bearer(r.Context(), strings.TrimSpace(token))
		return u, nil, err
	}
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		if s, err := a.session(r.Context(), c.Value); err == nil {
			return s.user, s, nil
		}
	}
	switch {
	case a.local:
		return User{Name: "kubeconfig", Local: true}, nil, nil
	case a.anonymous:
		return User{Name: anonymousUserName, Anonymous: true}, nil, nil
	}
	return User{}, nil, ErrUnauthenticated
}

// authorize asks the cluster whether u may verb the resource (name "" for
// all of them); a refusal is a *Forbidden.
func (a *auth) authorize(ctx context.Context, u User, verb, resource, name string) error {
	switch {
	case u.Local:
		return nil // the kubeconfig's credentials act; the cluster decides on each call
	case u.Anonymous:
		if verb == VerbList || verb == VerbGet {
			return nil
		}
		return &Forbidden{User: u.Name, Verb: verb, Resource: resource, Name: name, Reason: "sign in to act; anonymous access is read-only"}
	}
	key := strings.Join([]string{u.Name, u.UID, strings.Join(u.Groups, ","), verb, resource, name}, "\x00")
	now := a.now()
	a.mu.Lock()
	d, ok := a.decisions[key]
	a.mu.Unlock()
	if !ok || now.After(d.expires) {
		sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User: u.Name, UID: u.UID, Groups: u.Groups,
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: a.namespace, Verb: verb, Group: Group, Resource: resource, Name: name},
		}}
		if len(u.Extra) > 0 {
			sar.Spec.Extra = map[string]authzv1.ExtraValue{}
			for k, v := range u.Extra {
				sar.Spec.Extra[k] = v
			}
		}
		res, err := a.cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("asking the cluster whether %s may %s %s: %w", u.Name, verb, resource, err)
		}
		d = cachedDecision{allowed: res.Status.Allowed && !res.Status.Denied, reason: res.Status.Reason, expires: now.Add(decisionCacheTTL)}
		if d.allowed { // refusals are not cached: a grant takes effect at once
			a.mu.Lock()
			if len(a.decisions) > 100000 {
				clear(a.decisions)
			}
			a.decisions[key] = d
			a.mu.Unlock()
		}
	}
	if !d.allowed {
		reason := d.reason
		if reason == "" {
			reason = fmt.Sprintf("no Role grants verb %s on %s.%s in namespace %s", verb, resource, Group, a.namespace)
		}
		return &Forbidden{User: u.Name, Verb: verb, Resource: resource, Name: name, Reason: reason}
	}
	return nil
}

// csrfToken is the token the pages of u's request carry in their forms.
func (a *auth) csrfToken(u User, s *session) string {
	switch {
	case s != nil:
		return s.csrf
	case u.Local:
		return a.localCSRF
	}
	return ""
}

// checkCSRF compares the form's or header's token with the session's (or,
// for local use, the process's). A request with a bearer token carries no
// ambient credential and needs none.
func (a *auth) checkCSRF(r *http.Request, u User, s *session) bool {
	want := a.csrfToken(u, s)
	if want == "" {
		return r.Header.Get("Authorization") != ""
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
