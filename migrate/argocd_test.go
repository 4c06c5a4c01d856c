package migrate

import (
	"path/filepath"
	"regexp"
	"testing"
	"testing/fstest"

	"github.com/ferrygitops/ferry/document"
)

// TestGlobRegexp: each ignore-tags glob matches, as an expression, exactly
// the tags filepath.Match matches.
func TestGlobRegexp(t *testing.T) {
	tags := []string{"v1.0", "v1.0-debug", "latest", "1.2.3", "rc-1", "a[b", "x?y", "xzy", "v10", "*"}
	for _, g := range []string{"*-debug", "v1.*", "latest", "?.?.?", "rc-[0-9]", "x?y", "[!v]*", "v[0-9]", `\*`} {
		expr, err := globRegexp(g)
		if err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		re := regexp.MustCompile(expr)
		for _, tag := range tags {
			want, _ := filepath.Match(g, tag)
			if got := re.MatchString(tag); got != want {
				t.Errorf("glob %q (%s) on %q: %v, filepath.Match says %v", g, expr, tag, got, want)
			}
		}
	}
	if _, err := globRegexp("[unclosed"); err == nil {
		t.Error("a malformed glob was accepted")
	}
}

func TestSplitConstraint(t *testing.T) {
	for in, want := range map[string][2]string{
		"nginx":                      {"nginx", ""},
		"nginx:1.x":                  {"nginx", "1.x"},
		"localhost:5000/acme/web":    {"localhost:5000/acme/web", ""},
		"localhost:5000/acme/web:~1": {"localhost:5000/acme/web", "~1"},
	} {
		img, c := splitConstraint(in)
		if img != want[0] || c != want[1] {
			t.Errorf("splitConstraint(%q) = %q, %q", in, img, c)
		}
	}
}

// TestUnmapped: what cannot be converted is listed, never dropped silently.
func TestUnmapped(t *testing.T) {
	app := `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  annotations:
    argocd-image-updater.argoproj.io/image-list: web=ghcr.io/acme/web, db=ghcr.io/acme/db:latest
    argocd-image-updater.argoproj.io/web.update-strategy: newest-build
    argocd-image-updater.argoproj.io/web.platforms: linux/arm64
    argocd-image-updater.argoproj.io/db.update-strategy: fastest
    argocd-image-updater.argoproj.io/typo.allow-tags: any
spec:
  source: {path: app}
`
	repo := fstest.MapFS{
		"app/kustomization.yaml": {Data: []byte("images:\n  - name: ghcr.io/acme/web\n    newTag: '1'\n")},
	}
	plan, err := ArgoCDImageUpdater([]document.File{{Name: "apps.yaml", Data: []byte(app)}}, repo)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, u := range plan.Unmapped {
		got[u.Setting] = u.Result
	}
	for _, s := range []string{"platforms", "update-strategy", "argocd-image-updater.argoproj.io/typo.allow-tags", "write-back-method"} {
		if got[s] == "" {
			t.Errorf("%s is not listed as unmapped: %v", s, got)
		}
	}
}
