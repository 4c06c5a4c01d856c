package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestUICommand: `ferry ui --repo URL` serves the UI of the repository's
// apps on the address it prints, answers the JSON API with them, redirects
// / to /ui/, and ends with exit 0 on Ctrl-C; without --repo it is a usage
// error.
func TestUICommand(t *testing.T) {
	c := kube.Shared(t)
	ns := c.Namespace(t)
	git := gitserver.New(t)
	url := git.CreateRepo("org/ui", map[string]string{
		".ferry/apps.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: web-ui}\nspec: {source: {path: web}, destination: {namespace: " + ns + "}}\n",
		"web/cm.yaml":      cm("web", "1"),
	})
	if code, _, errs := run(t, "ui", "--kubeconfig", c.Kubeconfig()); code != exitConfig || !strings.Contains(errs, `"repo" not set`) {
		t.Errorf("ui without --repo: exit %d, %s", code, errs)
	}

	ui := start(t, "ui", "--repo", url, "--kubeconfig", c.Kubeconfig(), "--listen", "127.0.0.1:0", "--namespace", c.Namespace(t))
	line := ui.await(t, "the UI of "+url+" is at http://")
	base := regexp.MustCompile(`is at (http://[^/]+)/ui/`).FindStringSubmatch(line)[1]
	resp, err := http.Get(base + "/api/v1/apps")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"web-ui"`) {
		t.Fatalf("GET /api/v1/apps: %s %s", resp.Status, body)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %s to %q, want 302 to /ui/", resp.Status, resp.Header.Get("Location"))
	}
	if code := ui.stop(); code != exitOK {
		t.Errorf("ferry ui after Ctrl-C: exit %d, want 0", code)
	}
}
