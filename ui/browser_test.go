package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/ferrygitops/ferry/ui"
)

// chromiumPath is Debian's chromium (apt-get install chromium; make
// test-deps installs it).
const chromiumPath = "/usr/bin/chromium"

// browserCtx starts a headless chromium with a fresh profile, or skips
// the test when there is none (fails when FERRY_REQUIRE_SERVERS=1). Steps
// run with the returned step context (bounded); the browser lives as long
// as the test.
func browserCtx(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath
	if _, err := os.Stat(path); err != nil {
		if p, err := exec.LookPath("chromium"); err == nil {
			path = p
		} else {
			if os.Getenv("FERRY_REQUIRE_SERVERS") == "1" || os.Getenv("CI") == "true" {
				t.Fatalf("chromium is not installed (%s); make test-deps installs it", chromiumPath)
			}
			t.Skipf("chromium is not installed (%s): skipping the browser test; apt-get install -y chromium (make test-deps) runs it", chromiumPath)
		}
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	sctx, cancelS := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancelS)
	return sctx
}

// artifacts is where screenshots go: $FERRY_ARTIFACTS, else a temporary
// directory.
func artifacts(t *testing.T) string {
	if d := os.Getenv("FERRY_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// page drives one tab.
type page struct {
	t   *testing.T
	ctx context.Context
	dir string
}

func (p *page) fail(what string, err error) {
	p.t.Helper()
	loc, _ := chromedp.Run(p.ctx, chromedp.Location())
	body, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	p.t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
}

func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.fail(what, err)
	}
}

func evalIn[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail(expr, err)
	}
	return v
}

func (p *page) text(sel string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		p.fail("text of "+sel, err)
	}
	return v
}

func (p *page) shot(name string) {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.fail("screenshot", err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, name), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s", filepath.Join(p.dir, name))
}

// unlabelled counts the visible form controls without a label.
const unlabelled = `Array.from(document.querySelectorAll('input:not([type=hidden]),select,textarea,button')).filter(el =>
  !(el.labels && el.labels.length) && !el.textContent.trim() && !el.getAttribute('aria-label')).length`

// In a real browser: sign in with a token, see the apps, open a diff,
// press Sync and see the state change live, roll back and see the pin;
// a viewer's Sync is refused clearly. Controls are labelled and reachable
// by keyboard. Screenshots are written as artifacts.
func TestBrowser(t *testing.T) {
	ctx := browserCtx(t)
	e := newEnv(t, "ui-browser", false)
	e.bindUser("ferry-ui-viewer", "viewer")
	e.bindUser("ferry-ui-operator", "operator")
	waitFor(t, "the bindings", func() bool {
		a, _ := e.call("GET", "/api/v1/apps", e.token("viewer"), nil)
		b, _ := e.call("GET", "/api/v1/apps", e.token("operator"), nil)
		return a == http.StatusOK && b == http.StatusOK
	})
	p := &page{t: t, ctx: ctx, dir: artifacts(t)}
	row := `tr[data-name="ui-browser"]`
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Sign in as the operator.
	p.do("open the UI", chromedp.Navigate(e.base+"/ui/"), chromedp.WaitVisible(css("#token")))
	if n := evalIn[int](p, unlabelled); n != 0 {
		t.Errorf("%d unlabelled controls on the sign-in page", n)
	}
	p.do("sign in", chromedp.SendKeys(css("#token"), e.token("operator")), chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css(row+" .result")))
	if n := evalIn[int](p, unlabelled); n != 0 {
		t.Errorf("%d unlabelled controls on the app list", n)
	}
	p.do("Tab", chromedp.KeyEvent(kb.Tab))
	if f := evalIn[string](p, `document.activeElement.textContent`); f != "Skip to content" {
		t.Errorf("the first Tab focuses %q, want the skip link", f)
	}
	p.shot("ui-apps.png")

	// Live: git moves on and a sync happens elsewhere (the API); the list
	// shows the new revision without a reload.
	v2 := e.git.Commit(e.repo, "main", "v2", map[string]string{"web/cm.yaml": configMap("web", "v2")})
	evalIn[bool](p, `window.notReloaded = true`)
	p.do("the live stream", chromedp.WaitReady(css(`body[data-live="connected"]`)))
	if code, body := e.call("POST", "/api/v1/apps/ui-browser/sync", e.token("operator"), nil); code != http.StatusOK {
		t.Fatalf("sync through the API: %d %s", code, body)
	}
	p.do("the new revision, live", chromedp.WaitVisible(css(fmt.Sprintf(`%s a[href$="%s"]`, row, v2))))
	if !evalIn[bool](p, `window.notReloaded === true`) {
		t.Fatal("the page reloaded; the update was not live")
	}

	// Keyboard: the search filters the list as one types.
	p.do("search", chromedp.SendKeys(css("#q"), "no-such-app"))
	if n := evalIn[int](p, `document.querySelectorAll('#app-rows tr:not([hidden])').length`); n != 0 {
		t.Errorf("%d rows visible after searching for no-such-app", n)
	}

	// The app: its diff after another commit, then Sync.
	v3 := e.git.Commit(e.repo, "main", "v3", map[string]string{"web/cm.yaml": configMap("web", "v3"), "web/secret.yaml": secret("web", "third-password-value")})
	p.do("open the app", chromedp.Navigate(e.base+"/ui/apps/ui-browser"), chromedp.WaitVisible(css("#sync")))
	if n := evalIn[int](p, unlabelled); n != 0 {
		t.Errorf("%d unlabelled controls on the app page", n)
	}
	p.do("open the diff", chromedp.Click(css("#refresh")), chromedp.WaitVisible(css("#diff pre.diff")))
	diff := p.text("#diff")
	if !strings.Contains(diff, "v3") || !strings.Contains(diff, "ConfigMap") || strings.Contains(diff, "third-password-value") {
		t.Fatalf("diff:\n%s", diff)
	}
	p.shot("ui-app-diff.png")
	p.do("press Sync", chromedp.Click(css("#sync")), chromedp.WaitVisible(css("#flash")),
		chromedp.WaitVisible(css(fmt.Sprintf(`%s a[href$="%s"]`, row, v3))))
	if flash := p.text("#flash"); !strings.Contains(flash, "Succeeded") || !strings.Contains(flash, v3[:7]) {
		t.Fatalf("after Sync: %q", flash)
	}

	// Roll back to the first revision: the pin shows.
	p.do("roll back", chromedp.SetValue(css("#revision"), e.commits[0]), chromedp.Click(css("#rollback")),
		chromedp.WaitVisible(css("#pin")), chromedp.WaitVisible(css(row+" .pinned .badge")))
	if pin := p.text("#pin"); !strings.Contains(pin, "Pinned at "+e.commits[0][:7]) {
		t.Fatalf("pin: %q", pin)
	}
	p.shot("ui-app-pinned.png")

	// The images page.
	p.do("images", chromedp.Navigate(e.base+"/ui/images"), chromedp.WaitVisible(css("#scan")))
	if n := evalIn[int](p, unlabelled); n != 0 {
		t.Errorf("%d unlabelled controls on the images page", n)
	}
	p.shot("ui-images.png")

	// The viewer may look but not sync: a clear refusal.
	p.do("sign out", chromedp.Click(css(`header button[type=submit]`)), chromedp.WaitVisible(css("#token")))
	p.do("sign in as the viewer", chromedp.SendKeys(css("#token"), e.token("viewer")), chromedp.Click(css("#signin")),
		chromedp.WaitVisible(css(row)))
	p.do("the viewer's Sync", chromedp.Navigate(e.base+"/ui/apps/ui-browser"), chromedp.WaitVisible(css("#sync")),
		chromedp.Click(css("#sync")), chromedp.WaitVisible(css("#error")))
	if refusal := p.text("#error"); !strings.Contains(refusal, "forbidden: viewer may not sync apps.ferry.dev ui-browser") {
		t.Fatalf("refusal: %q", refusal)
	}
	p.shot("ui-forbidden.png")
}

// The app list of 1,000 apps and the images page of 200 policies are
// ready in the browser within the budget (the figures are in
// BENCHMARKS.md). The data is a generated snapshot served by the UI in
// local mode.
func TestBrowserTiming(t *testing.T) {
	ctx := browserCtx(t)
	u, err := ui.New(ui.Options{Backend: ui.NewBigBackend(1000, 50, 200), Local: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u.Handler())
	t.Cleanup(func() {
		u.Broadcaster().Close() // ends the page's event stream
		srv.CloseClientConnections()
		srv.Close()
	})
	p := &page{t: t, ctx: ctx, dir: artifacts(t)}
	p.do("warm up", chromedp.Navigate(srv.URL+"/ui/assets/ui.css"))
	for _, c := range []struct{ path, last string }{
		{"/ui/", `tr[data-name="app-0999"]`},
		{"/ui/images", `#policy-policy-199`},
	} {
		start := time.Now()
		p.do("load "+c.path, chromedp.Navigate(srv.URL+c.path)) // returns after the load event
		took := time.Since(start)
		p.do("the last element", chromedp.WaitReady(chromedp.CSS(c.last)))
		nav := evalIn[map[string]float64](p, `(() => { const n = performance.getEntriesByType('navigation')[0];
		  return {ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd}; })()`)
		t.Logf("%s: first byte %.0f ms, DOMContentLoaded %.0f ms, load %.0f ms (navigation as chromedp saw it: %v)",
			c.path, nav["ttfb"], nav["dcl"], nav["load"], took.Round(time.Millisecond))
		if nav["load"] > 3000 {
			t.Errorf("%s: load took %.0f ms", c.path, nav["load"])
		}
	}
}
