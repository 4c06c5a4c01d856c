package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/ui"
)

// `ferry ui`: without a token the kubeconfig's credentials act; with a
// token the cluster reviews and authorizes it as under `ferry run`.
func TestLocal(t *testing.T) {
	c := kube.Shared(t)
	e := &env{t: t, c: c, admin: c.Client(t), ns: c.Namespace(t), ferryNS: c.Namespace(t), app: "ui-local"}
	applyUIRoles(t, e.admin)
	git := gitserver.New(t)
	url := git.CreateRepo("org/local", map[string]string{".ferry/apps.yaml": appDoc("ui-local", "web", e.ns), "web/cm.yaml": configMap("web", "v1")})

	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ui.ServeLocal(ctx, ui.LocalOptions{Config: c.Config(), RepoURL: url, Listen: "127.0.0.1:0", Namespace: e.ferryNS, Interval: time.Second,
			Ready: func(addr string) { addrc <- addr }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeLocal: %v", err)
		}
	})
	select {
	case addr := <-addrc:
		e.base = "http://" + addr
	case err := <-done:
		t.Fatalf("ServeLocal: %v", err)
	}

	if code, body := e.call("GET", "/api/v1/apps", "", nil); code != http.StatusOK || !strings.Contains(body, `"name":"ui-local"`) || !strings.Contains(body, `"result":"pending"`) {
		t.Fatalf("apps before a sync: %d %s", code, body)
	}
	// A POST without the page's CSRF token is refused even locally (a
	// web page elsewhere cannot make the browser act).
	if code, _ := e.call("POST", "/api/v1/apps/ui-local/sync", "", nil); code != http.StatusForbidden {
		t.Fatalf("local sync without CSRF: %d", code)
	}
	b := e.browser()
	if code, body := b.get("/ui/apps/ui-local"); code != http.StatusOK || b.csrf == "" || !strings.Contains(body, "your kubeconfig") {
		t.Fatalf("app page: %d %s", code, body)
	}
	code, loc := b.post("/ui/apps/ui-local/sync", map[string][]string{"csrf": {b.csrf}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "Succeeded") {
		t.Fatalf("local sync: %d %s", code, loc)
	}
	if code, body := e.call("GET", "/api/v1/apps", "", nil); !strings.Contains(body, `"result":"Succeeded"`) {
		t.Fatalf("apps after the sync: %d %s", code, body)
	}
	// With a token, the cluster decides: the viewer may look, not sync.
	e.bindUser("ferry-ui-viewer", "viewer")
	waitFor(t, "the viewer's binding", func() bool {
		code, _ := e.call("GET", "/api/v1/apps", e.token("viewer"), nil)
		return code == http.StatusOK
	})
	if code, body := e.call("POST", "/api/v1/apps/ui-local/sync", e.token("viewer"), nil); code != http.StatusForbidden || !strings.Contains(body, "viewer may not sync") {
		t.Fatalf("viewer's sync in ferry ui: %d %s", code, body)
	}
	if code, body := e.call("POST", "/api/v1/scan", e.token("viewer"), nil); code != http.StatusForbidden {
		t.Fatalf("viewer's scan: %d %s", code, body)
	}
}
