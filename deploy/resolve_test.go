package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"

	"github.com/ferrygitops/ferry/internal/testenv"
)

const resolveApps = `apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  source: {path: app}
  destination: {namespace: web, context: staging}
  syncPolicy: {prune: true, interval: 2m, timeout: 30s}
---
apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: api}
spec:
  source: {path: api}
  destination: {namespace: api}
`

func isConfigError(t *testing.T, err error, want string) {
	t.Helper()
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T): want a ConfigError", err, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q: want %q in it", err, want)
	}
}

// ResolveApp reads the app from .ferry/, applies the overrides given and
// leaves the others to the app.
func TestResolveAppFromDotFerry(t *testing.T) {
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{".ferry/apps.yaml": resolveApps, "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
	workdir := t.TempDir()
	ns, prune := "other", false
	tgt, err := ResolveApp(t.Context(), ResolveOptions{Name: "web", RepoURL: url, Branch: "main", WorkDir: workdir, NeedGit: true,
		Auth: gitrepo.Auth{Token: "t"}, Overrides: Overrides{Namespace: &ns, Prune: &prune}, Options: Options{Log: discardLog()}})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	a := tgt.App
	if a.Name != "web" || a.RepoURL != url || a.Path != "app" || a.Context != "staging" {
		t.Errorf("app %+v", a)
	}
	if a.Namespace != "other" || a.Prune || a.Interval != 2*time.Minute || a.Timeout != 30*time.Second {
		t.Errorf("overrides: namespace %q prune %v interval %s timeout %s; want other, false, 2m0s (the app's), 30s (the app's)", a.Namespace, a.Prune, a.Interval, a.Timeout)
	}
	if tgt.Options.WorkDir != workdir || tgt.Options.GitCredentials == nil {
		t.Errorf("options %+v", tgt.Options)
	}

	// The flag's timeout applies to an app naming none, or when given;
	// 0 means do not wait.
	zero := time.Duration(0)
	for _, tc := range []struct {
		app   string
		given bool
		want  time.Duration
	}{{"web", false, 30 * time.Second}, {"web", true, -1}, {"api", false, -1}} {
		tgt, err := ResolveApp(t.Context(), ResolveOptions{Name: tc.app, RepoURL: url, Branch: "main", WorkDir: workdir, NeedGit: true,
			Overrides: Overrides{Timeout: &zero, TimeoutGiven: tc.given}})
		if err != nil {
			t.Fatal(err)
		}
		if tgt.App.Timeout != tc.want {
			t.Errorf("%s, timeout given %v: %s, want %s", tc.app, tc.given, tgt.App.Timeout, tc.want)
		}
	}

	_, err = ResolveApp(t.Context(), ResolveOptions{Name: "nope", RepoURL: url, Branch: "main", WorkDir: workdir, NeedGit: true})
	isConfigError(t, err, `no app "nope" in .ferry/ of `+url+` (apps: api, web); use --app-path for an ad-hoc app`)
}

func TestResolveAppInvalidDocuments(t *testing.T) {
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{".ferry/apps.yaml": "apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: Bad_Name}\nspec: {}\n"})
	_, err := ResolveApp(t.Context(), ResolveOptions{Name: "web", RepoURL: url, Branch: "main", NeedGit: true})
	isConfigError(t, err, "invalid documents in .ferry/:\n")
	isConfigError(t, err, ".ferry/apps.yaml:")
}

// The temporary work directory is removed on Close, and on failure.
func TestResolveAppWorkDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	tgt, err := ResolveApp(t.Context(), ResolveOptions{Name: "demo", RepoURL: "https://git.example.com/m.git", Branch: "main", AppPath: "apps/demo", NeedGit: true})
	if err != nil {
		t.Fatal(err)
	}
	a := tgt.App
	if a.Path != "apps/demo" || !a.SelfHeal || a.RepoURL != "https://git.example.com/m.git" || a.Branch != "main" {
		t.Errorf("ad-hoc app %+v", a)
	}
	if !strings.HasPrefix(tgt.Options.WorkDir, filepath.Join(tmp, "ferry-sync-")) {
		t.Errorf("work dir %s not a temporary one", tgt.Options.WorkDir)
	}
	tgt.Close()
	if _, err := os.Stat(tgt.Options.WorkDir); !os.IsNotExist(err) {
		t.Errorf("work dir left after Close: %v", err)
	}
	_, err = ResolveApp(t.Context(), ResolveOptions{Name: "demo", AppPath: "apps/demo", NeedGit: true})
	isConfigError(t, err, "--app-path needs --repo")
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("a failed resolve left %v", left)
	}
}

func TestResolveAppWithoutRepo(t *testing.T) {
	ctx := t.Context()
	_, err := ResolveApp(ctx, ResolveOptions{Name: "web", NeedGit: true})
	isConfigError(t, err, "--repo is required")
	_, err = ResolveApp(ctx, ResolveOptions{Name: "web"})
	isConfigError(t, err, "give --repo (to read the app from .ferry/) or --namespace/--inventory-namespace")
	ns := "web"
	tgt, err := ResolveApp(ctx, ResolveOptions{Name: "web", Overrides: Overrides{InventoryNamespace: &ns}})
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	if tgt.App.Name != "web" || tgt.App.InventoryNamespace != "web" {
		t.Errorf("app %+v", tgt.App)
	}
	// An ad-hoc app is validated.
	bad := "Not_A_Namespace"
	_, err = ResolveApp(ctx, ResolveOptions{Name: "demo", RepoURL: "https://git.example.com/m.git", AppPath: "a", Branch: "main", NeedGit: true, Overrides: Overrides{Namespace: &bad}})
	isConfigError(t, err, "Not_A_Namespace")
}

func TestConnectErrors(t *testing.T) {
	kubeconfig := testenv.Kubeconfig(t, "https://127.0.0.1:1", "kind-staging")
	tgt := &Target{App: App{Name: "web", Context: "staging"}, cleanup: func() {}}
	ok := ConnectOptions{Kubeconfig: kubeconfig, ConnectTimeout: time.Second, QPS: -1, Concurrency: 1}
	for _, tc := range []struct {
		edit func(*ConnectOptions)
		want string
	}{
		{func(c *ConnectOptions) { c.ContextMap = []string{"no-equals"} }, "no-equals"},
		{func(c *ConnectOptions) { c.Context = "missing" }, "app web: "},
		{func(c *ConnectOptions) { c.ConnectTimeout = 0 }, "invalid --connect-timeout 0s"},
		{func(c *ConnectOptions) { c.QPS = 0 }, "invalid --kube-qps 0, --kube-burst 0 or --concurrency 1"},
		{func(c *ConnectOptions) { c.Concurrency = 0 }, "invalid --kube-qps -1, --kube-burst 0 or --concurrency 0"},
	} {
		c := ok
		tc.edit(&c)
		_, err := tgt.Connect(c)
		isConfigError(t, err, tc.want)
	}
	// kind-staging ends in the app's context "staging".
	s, err := tgt.Connect(ok)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
}
