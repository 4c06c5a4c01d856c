package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

func appsYAML(ns string) string {
	return `apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: web}
spec:
  source: {path: app}
  destination: {namespace: ` + ns + `}
  syncPolicy: {automated: true, prune: true, selfHeal: true}
`
}

func cm(name, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\ndata: {v: \"" + value + "\"}\n"
}

// TestSyncCommands drives sync, diff, status and rollback against a real
// API server and git server.
func TestSyncCommands(t *testing.T) {
	c := kube.Start(t)
	ns := c.Namespace(t)
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml": appsYAML(ns),
		"app/a.yaml":       cm("a", "1"),
		"app/b.yaml":       cm("b", "1"),
	})
	first, _ := git.Head("manifests", "main")
	base := []string{"--repo", url, "--kubeconfig", c.Kubeconfig()}
	cmd := func(args ...string) []string { return append(args, base...) }

	code, out, errs := run(t, cmd("diff", "web")...)
	if code != 1 || !strings.Contains(out, "+kind: ConfigMap") || !strings.Contains(out, "2 of 2 objects differ") {
		t.Fatalf("diff before sync: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("ferry diff web:\n%s", out)
	code, out, errs = run(t, cmd("sync", "web", "--dry-run")...)
	if code != 0 || !strings.Contains(out, "dry run of web") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = run(t, cmd("sync", "web", "-o", "json")...)
	var rec deploy.Record
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec.Counts.Created != 2 || rec.Revision != first {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, _ = run(t, cmd("diff", "web")...); code != 0 || !strings.Contains(out, "is in sync") {
		t.Fatalf("diff after sync: exit %d\n%s", code, out)
	}

	second := git.Commit("manifests", "main", "v2", map[string]string{"app/a.yaml": cm("a", "2")}, "app/b.yaml")
	code, out, errs = run(t, cmd("sync", "web")...)
	if code != 0 || !strings.Contains(out, "1 configured") || !strings.Contains(out, "1 pruned") || !strings.Contains(out, "ConfigMap/"+ns+"/b") {
		t.Fatalf("sync v2: exit %d\n%s\n%s", code, out, errs)
	}
	t.Logf("ferry sync web:\n%s", out)

	code, out, errs = run(t, "status", "web", "--namespace", ns, "--kubeconfig", c.Kubeconfig(), "-o", "json")
	var st deploy.AppStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.History) != 2 || st.Revision != second || len(st.Objects) != 1 {
		t.Fatalf("status: exit %d\n%s\n%s", code, out, errs)
	}

	code, out, errs = run(t, cmd("rollback", "web")...)
	if code != 0 || !strings.Contains(out, "pinned to "+first[:12]) {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errs)
	}
	b, err := c.Client(t).CoreV1().ConfigMaps(ns).Get(context.Background(), "b", metav1.GetOptions{})
	if err != nil || b.Data["v"] != "1" {
		t.Fatalf("b after rollback: %v %v", b, err)
	}
	code, out, _ = run(t, cmd("status", "web")...)
	if code != 0 || !strings.Contains(out, "Pinned by a rollback") || !strings.Contains(out, first[:12]+" (pinned)") {
		t.Fatalf("status while pinned: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, cmd("sync", "web")...); code != 0 || !strings.Contains(out, first[:12]+" (pinned)") {
		t.Fatalf("sync while pinned: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, cmd("rollback", "web", "--release")...); code != 0 || !strings.Contains(out, "released") {
		t.Fatalf("release: exit %d\n%s", code, out)
	}
	// --pr is TestRollbackPR's.

	// Watch heals drift, one JSON line per round, until interrupted.
	cms := c.Client(t).CoreV1().ConfigMaps(ns)
	a, err := cms.Get(context.Background(), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.Data["v"] = "edited"
	if _, err := cms.Update(context.Background(), a, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wout, werr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- Main(ctx, cmd("sync", "web", "--watch", "--interval", "200ms", "-o", "json"), &wout, &werr)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		a, err := cms.Get(context.Background(), "a", metav1.GetOptions{})
		if err == nil && a.Data["v"] == "2" {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("watch did not heal or apply the head:\n%s\n%s", wout.String(), werr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("watch: exit %d\n%s", code, werr.String())
	}
	lines := strings.Split(strings.TrimSpace(wout.String()), "\n")
	var tick deploy.Tick
	if err := json.Unmarshal([]byte(lines[0]), &tick); err != nil || tick.Record.Revision != second {
		t.Fatalf("first tick: %v\n%s", err, wout.String())
	}

	// --workdir keeps the parsed manifests for the next run; a changed
	// file is parsed again, not served from them.
	work := t.TempDir()
	if code, out, errs = run(t, cmd("sync", "web", "--workdir", work)...); code != 0 {
		t.Fatalf("sync --workdir: exit %d\n%s\n%s", code, out, errs)
	}
	parsed, err := os.ReadDir(filepath.Join(work, "parsed"))
	if err != nil || len(parsed) != 1 {
		t.Fatalf("--workdir: parsed files %v %v, want a.yaml's", parsed, err)
	}
	git.Commit("manifests", "main", "v3", map[string]string{"app/a.yaml": cm("a", "3")})
	if code, out, errs = run(t, cmd("sync", "web", "--workdir", work)...); code != 0 || !strings.Contains(out, "1 configured") {
		t.Fatalf("sync --workdir after a change: exit %d\n%s\n%s", code, out, errs)
	}
	if a, err := cms.Get(context.Background(), "a", metav1.GetOptions{}); err != nil || a.Data["v"] != "3" {
		t.Fatalf("a after the change: %v %v", a.Data, err)
	}
	if parsed, _ = os.ReadDir(filepath.Join(work, "parsed")); len(parsed) != 2 {
		t.Errorf("--workdir: %d parsed files after a change, want 2", len(parsed))
	}
}

// TestSyncCommandErrors: usage and declaration problems exit 2.
func TestSyncCommandErrors(t *testing.T) {
	git := gitserver.New(t)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml": appsYAML("web") + "  bogus: 1\n",
		"app/a.yaml":       cm("a", "1"),
	})
	kubeconfig := t.TempDir() + "/none"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", "web", "--repo", url, "--kubeconfig", kubeconfig}, "spec.bogus: unknown field"},
		{[]string{"sync", "web"}, "--repo is required"},
		{[]string{"status", "web"}, "give --repo"},
		{[]string{"sync", "web", "--app-path", "app"}, "--app-path needs --repo"},
		{[]string{"sync", "Bad", "--repo", url, "--app-path", "app", "--kubeconfig", kubeconfig}, "invalid app name"},
		{[]string{"sync", "web", "--watch", "--dry-run"}, "do not go together"},
		{[]string{"rollback", "web", "--release", "--to", "abc"}, "--release does not go"},
		{[]string{"sync", "adhoc", "--repo", url, "--app-path", "app", "--kubeconfig", kubeconfig}, "kubeconfig"},
	} {
		code, _, errs := run(t, tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	git.Commit("manifests", "main", "fix", map[string]string{".ferry/apps.yaml": appsYAML("web")})
	if code, _, errs := run(t, "diff", "nope", "--repo", url, "--kubeconfig", kubeconfig); code != 2 || !strings.Contains(errs, `no app "nope" in .ferry/`) || !strings.Contains(errs, "apps: web") {
		t.Errorf("unknown app: exit %d %s", code, errs)
	}
}

// TestRollbackPR opens a revert pull request instead of rolling the
// cluster back: the branch ferry/revert-APP restores the app's files.
func TestRollbackPR(t *testing.T) {
	c := kube.Start(t)
	ns := c.Namespace(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/apps.yaml": appsYAML(ns),
		"app/a.yaml":       cm("a", "1"),
		"app/b.yaml":       cm("b", "1"),
	})
	gh := newGitHub(t, git)
	t.Setenv("GITHUB_TOKEN", githubapi.DefaultToken)
	t.Setenv("FERRY_GITHUB_URL", gh.BaseURL())
	t.Setenv("FERRY_GITHUB_REPO", "acme/manifests")
	args := func(a ...string) []string { return append(a, "--repo", url, "--kubeconfig", c.Kubeconfig()) }

	if code, out, errs := run(t, args("sync", "web")...); code != 0 {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errs)
	}
	git.Commit("manifests", "main", "v2", map[string]string{"app/a.yaml": cm("a", "2")}, "app/b.yaml")
	if code, out, errs := run(t, args("sync", "web")...); code != 0 {
		t.Fatalf("sync v2: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := run(t, args("rollback", "web", "--pr")...)
	if code != 0 || !strings.Contains(out, "opened ") {
		t.Fatalf("rollback --pr: exit %d\n%s\n%s", code, out, errs)
	}
	prs := gh.PullRequests("acme", "manifests")
	if len(prs) != 1 || prs[0].Head != "ferry/revert-web" || prs[0].Base != "main" {
		t.Fatalf("pull requests = %+v", prs)
	}
	for file, want := range map[string]string{"app/a.yaml": cm("a", "1"), "app/b.yaml": cm("b", "1")} {
		if got, err := git.ReadFile("manifests", "ferry/revert-web", file); err != nil || got != want {
			t.Errorf("%s on the revert branch = %q, %v; want %q", file, got, err, want)
		}
	}
	// The cluster was not rolled back: git decides.
	code, out, _ = run(t, "status", "web", "--namespace", ns, "--kubeconfig", c.Kubeconfig(), "-o", "json")
	var st deploy.AppStatus
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st.Pin != nil {
		t.Errorf("status after --pr: exit %d, pin %+v", code, st.Pin)
	}
}
