package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A viewer sees the apps and their diff but may not sync; an operator
// syncs and rolls back; someone without a binding sees nothing; a bad
// token is not signed in. Every decision is the cluster's (TokenReview,
// SubjectAccessReview).
func TestAPIAuthorizedByTheCluster(t *testing.T) {
	e := newEnv(t, "ui-api", false)
	e.bindUser("ferry-ui-viewer", "viewer")
	e.bindUser("ferry-ui-operator", "operator")
	viewer, operator, outsider := e.token("viewer"), e.token("operator"), e.token("outsider")

	if code, body := e.call("GET", "/api/v1/apps", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := e.call("GET", "/api/v1/apps", "not-a-token", nil); code != http.StatusUnauthorized || !strings.Contains(body, "did not accept the token") {
		t.Fatalf("bad token: %d %s", code, body)
	}
	waitFor(t, "the viewer's binding", func() bool { code, _ := e.call("GET", "/api/v1/apps", viewer, nil); return code == http.StatusOK })
	code, body := e.call("GET", "/api/v1/apps", viewer, nil)
	var apps []struct{ Name, Result, Revision string }
	if err := json.Unmarshal([]byte(body), &apps); err != nil || len(apps) != 1 || apps[0].Name != "ui-api" || apps[0].Result != "Succeeded" {
		t.Fatalf("viewer's app list: %d %s", code, body)
	}
	if code, body := e.call("GET", "/api/v1/whoami", viewer, nil); code != http.StatusOK || !strings.Contains(body, `"user":"viewer"`) || !strings.Contains(body, "developers") {
		t.Fatalf("whoami: %d %s", code, body)
	}
	code, body = e.call("GET", "/api/v1/apps/ui-api", viewer, nil)
	if code != http.StatusOK || !strings.Contains(body, `"kind":"ConfigMap"`) || !strings.Contains(body, `"health":"Current"`) {
		t.Fatalf("viewer's app status: %d %s", code, body)
	}
	code, body = e.call("POST", "/api/v1/apps/ui-api/sync", viewer, nil)
	if code != http.StatusForbidden || !strings.Contains(body, "viewer may not sync apps.ferry.dev ui-api") {
		t.Fatalf("viewer's sync: %d %s", code, body)
	}
	if code, body := e.call("GET", "/api/v1/apps", outsider, nil); code != http.StatusForbidden || !strings.Contains(body, "outsider may not list") {
		t.Fatalf("outsider's list: %d %s", code, body)
	}
	if code, body := e.call("GET", "/api/v1/apps/nope", operator, nil); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Fatalf("unknown app: %d %s", code, body)
	}

	// git moves on: the Secret's value and the ConfigMap change. The diff
	// shows both, the Secret's values masked.
	e.commits = append(e.commits, e.git.Commit(e.repo, "main", "v2", map[string]string{
		"web/cm.yaml": configMap("web", "v2"), "web/secret.yaml": secret("web", "second-password-value")}))
	code, body = e.call("GET", "/api/v1/apps/ui-api/diff", viewer, nil)
	if code != http.StatusOK || !strings.Contains(body, `"action":"update"`) || !strings.Contains(body, "v2") {
		t.Fatalf("diff: %d %s", code, body)
	}
	for _, secretValue := range []string{"first-password-value", "second-password-value", "Zmlyc3Qt", "c2Vjb25k"} {
		if strings.Contains(body, secretValue) {
			t.Fatalf("the diff shows a Secret value (%s): %s", secretValue, body)
		}
	}

	// Live updates: a stream opened before the sync sees its result.
	events := e.stream(operator)

	code, body = e.call("POST", "/api/v1/apps/ui-api/sync", operator, nil)
	if code != http.StatusOK || !strings.Contains(body, `"result":"Succeeded"`) || !strings.Contains(body, e.commits[1]) {
		t.Fatalf("operator's sync: %d %s", code, body)
	}
	waitFor(t, "an apps event naming the new revision", func() bool {
		return strings.Contains(events.until("apps", e.commits[1][:7]), e.commits[1][:7])
	})

	// Roll back to the first commit: applied and pinned.
	code, body = e.call("POST", "/api/v1/apps/ui-api/rollback", operator, map[string]string{"revision": e.commits[0]})
	if code != http.StatusOK || !strings.Contains(body, `"pinned":true`) {
		t.Fatalf("rollback: %d %s", code, body)
	}
	code, body = e.call("GET", "/api/v1/apps", viewer, nil)
	if !strings.Contains(body, `"pinned":true`) || !strings.Contains(body, e.commits[0]) {
		t.Fatalf("after the rollback: %d %s", code, body)
	}
	if cm, err := e.admin.CoreV1().ConfigMaps(e.ns).Get(context.Background(), "web", metav1.GetOptions{}); err != nil || cm.Data["value"] != "v1" {
		t.Fatalf("ConfigMap after the rollback: %v %v", cm, err)
	}
	if code, body := e.call("POST", "/api/v1/apps/ui-api/release", viewer, nil); code != http.StatusForbidden {
		t.Fatalf("viewer's release: %d %s", code, body)
	}
	code, body = e.call("POST", "/api/v1/apps/ui-api/release", operator, nil)
	if code != http.StatusOK || !strings.Contains(body, `"released":true`) {
		t.Fatalf("release: %d %s", code, body)
	}
	if code, body := e.call("POST", "/api/v1/scan", viewer, nil); code != http.StatusForbidden || !strings.Contains(body, "imagepolicies") {
		t.Fatalf("viewer's scan: %d %s", code, body)
	}
	if code, body := e.call("POST", "/api/v1/scan", operator, nil); code != http.StatusAccepted {
		t.Fatalf("operator's scan: %d %s", code, body)
	}

	// Every action is in the event log with who did it.
	_, status := e.call("GET", "/status.json", "", nil)
	for _, want := range []string{"operator synced app ui-api", "operator rolled app ui-api back", "operator released the pin of app ui-api", "viewer was refused sync of app ui-api", "operator started a scan"} {
		if !strings.Contains(status, want) {
			t.Errorf("event log lacks %q", want)
		}
	}
	if strings.Contains(status, viewer) || strings.Contains(status, operator) {
		t.Fatal("a token is in the event log")
	}
}

// A ServiceAccount token minted with TokenRequest signs in like a person's.
func TestServiceAccountToken(t *testing.T) {
	e := newEnv(t, "ui-sa", false)
	tok := e.serviceAccountToken("deployer")
	e.bind("ferry-ui-operator", rbacv1.Subject{Kind: "ServiceAccount", Name: "deployer", Namespace: e.ferryNS}, "")
	waitFor(t, "the binding", func() bool { code, _ := e.call("GET", "/api/v1/apps", tok, nil); return code == http.StatusOK })
	code, body := e.call("POST", "/api/v1/apps/ui-sa/sync", tok, nil)
	if code != http.StatusOK || !strings.Contains(body, `"result":"Succeeded"`) {
		t.Fatalf("sync: %d %s", code, body)
	}
}

// The pages: sign-in with a token, a session cookie (HttpOnly,
// SameSite=Strict), CSRF on every POST, a clear refusal for the viewer.
func TestPagesSessionsAndCSRF(t *testing.T) {
	e := newEnv(t, "ui-pages", false)
	e.bindUser("ferry-ui-viewer", "viewer")
	e.bindUser("ferry-ui-operator", "operator")
	waitFor(t, "the bindings", func() bool {
		a, _ := e.call("GET", "/api/v1/apps", e.token("viewer"), nil)
		b, _ := e.call("GET", "/api/v1/apps", e.token("operator"), nil)
		return a == http.StatusOK && b == http.StatusOK
	})

	anon := e.browser()
	if code, loc := anon.get("/ui/"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login") {
		t.Fatalf("anonymous: %d %s", code, loc)
	}
	// The login form is protected too.
	if code, _ := anon.post("/ui/login", url.Values{"token": {e.token("viewer")}}); code != http.StatusForbidden {
		t.Fatalf("login without its CSRF token: %d", code)
	}
	anon.get("/ui/login")
	if code, body := anon.post("/ui/login", url.Values{"csrf": {anon.csrf}, "token": {"wrong"}}); code != http.StatusUnauthorized || !strings.Contains(body, "sign-in failed") {
		t.Fatalf("wrong token: %d %s", code, body)
	}

	v := e.browser()
	resp := v.signInResponse(e.token("viewer"))
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "ferry_session" {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || strings.Contains(sc.Value, e.token("viewer")) {
		t.Fatalf("session cookie: %+v", sc)
	}
	code, body := v.get("/ui/")
	if code != http.StatusOK || !strings.Contains(body, `data-name="ui-pages"`) || !strings.Contains(body, "Succeeded") || !strings.Contains(body, ">viewer<") {
		t.Fatalf("app list: %d %s", code, body)
	}
	code, body = v.get("/ui/apps/ui-pages?diff=1")
	if code != http.StatusOK || !strings.Contains(body, "In sync") || !strings.Contains(body, "ConfigMap") {
		t.Fatalf("app page: %d %s", code, body)
	}
	code, body = v.post("/ui/apps/ui-pages/sync", url.Values{"csrf": {v.csrf}})
	if code != http.StatusForbidden || !strings.Contains(body, "forbidden: viewer may not sync apps.ferry.dev ui-pages") {
		t.Fatalf("viewer's sync: %d %s", code, body)
	}

	o := e.browser()
	o.signIn(e.token("operator"))
	o.get("/ui/apps/ui-pages")
	if code, body := o.post("/ui/apps/ui-pages/sync", url.Values{}); code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("sync without a CSRF token: %d %s", code, body)
	}
	if code, body := o.post("/ui/apps/ui-pages/sync", url.Values{"csrf": {v.csrf}}); code != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("sync with another session's CSRF token: %d %s", code, body)
	}
	code, loc := o.post("/ui/apps/ui-pages/sync", url.Values{"csrf": {o.csrf}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "Succeeded") {
		t.Fatalf("operator's sync: %d %s", code, loc)
	}
	// Signed out, the session is gone.
	if code, _ := o.post("/ui/logout", url.Values{"csrf": {o.csrf}}); code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", code)
	}
	o.c.Jar.SetCookies(mustURL(e.base), []*http.Cookie{{Name: "ferry_session", Value: sc.Value}}) // the viewer's cookie still works
	if code, _ := o.get("/ui/"); code != http.StatusOK {
		t.Fatalf("another session after a sign-out: %d", code)
	}
}

// Anonymous read-only access exists only when configured, and never acts.
func TestAnonymousRead(t *testing.T) {
	e := newEnv(t, "ui-anon", true)
	b := e.browser()
	code, body := b.get("/ui/")
	if code != http.StatusOK || !strings.Contains(body, `data-name="ui-anon"`) || !strings.Contains(body, "anonymous (read-only)") {
		t.Fatalf("anonymous list: %d %s", code, body)
	}
	if code, body := e.call("POST", "/api/v1/apps/ui-anon/sync", "", nil); code != http.StatusForbidden || !strings.Contains(body, "read-only") {
		t.Fatalf("anonymous sync: %d %s", code, body)
	}
}

func (b *browser) signInResponse(token string) *http.Response {
	b.e.t.Helper()
	b.get("/ui/login")
	resp, err := b.c.PostForm(b.e.base+"/ui/login", url.Values{"csrf": {b.csrf}, "token": {token}})
	if err != nil {
		b.e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return resp
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// eventStream reads a server-sent event stream in the background.
type eventStream struct {
	frames chan string
	seen   strings.Builder
}

func (e *env) stream(token string) *eventStream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		e.t.Fatalf("event stream: %v %v", resp, err)
	}
	s := &eventStream{frames: make(chan string, 64)}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		var cur strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				select {
				case s.frames <- cur.String():
				case <-ctx.Done():
					return
				}
				cur.Reset()
				continue
			}
			cur.WriteString(line + "\n")
		}
	}()
	return s
}

// until returns the frames seen so far once one of event holds want, or
// after a second.
func (s *eventStream) until(event, want string) string {
	timeout := time.After(time.Second)
	for {
		select {
		case f := <-s.frames:
			s.seen.WriteString(f)
			if strings.HasPrefix(f, "event: "+event+"\n") && strings.Contains(f, want) {
				return s.seen.String()
			}
		case <-timeout:
			return s.seen.String()
		}
	}
}
