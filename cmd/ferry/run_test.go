package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// writeFile writes body to dir/name (mode 0600) and returns its path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newGitHub starts the GitHub API emulator over git, serving acme/manifests.
func newGitHub(t *testing.T, git *gitserver.Server) *githubapi.Server {
	t.Helper()
	gh := githubapi.NewServer(git.GitHub())
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "manifests")
	return gh
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "bad.yaml", "apiVersion: ferry.dev/v1alpha1\nkind: RunConfig\nrepos:\n  - url: x\n    colour: blue\n")
	code, _, errs := run(t, "run", "--config", p)
	if code != 2 || !strings.Contains(errs, "bad.yaml:5: repos[0].colour: unknown field") {
		t.Errorf("exit %d, stderr %q: want 2 naming the file and line", code, errs)
	}
	writeFile(t, dir, "bad.yaml", "kind: RunConfig\nrepos: []\nschedule: {interval: soon}\n")
	code, _, errs = run(t, "run", "--config", p)
	if code != 2 || !strings.Contains(errs, "schedule.interval") || !strings.Contains(errs, "repos") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// The README's promise: one `ferry run` serves several repositories from
// one config, each bumped and synced on its own schedule and its own
// webhooks.
func TestRunThreeRepositories(t *testing.T) {
	cluster := kube.Shared(t)
	cs := kubernetes.NewForConfigOrDie(cluster.Config())
	ctx := context.Background()
	reg := seededRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	gh := githubapi.NewServer(git.GitHub())
	t.Cleanup(gh.Close)
	dir := t.TempDir()
	token := writeFile(t, dir, "token", githubapi.DefaultToken)
	policy := strings.Split(strings.ReplaceAll(releasePolicy, "HOST", reg.Host), "---")[0]
	image := func(repo string) string {
		body, _ := git.ReadFile(repo, "ferry/api", "apps/api/deploy.yaml")
		return body
	}
	cm := func(ns string) string {
		c, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return c.Data["v"]
	}
	names := []string{"one", "two", "three"}
	namespaces := map[string]string{}
	var repos string
	for _, name := range names {
		ns := cluster.Namespace(t)
		namespaces[name] = ns
		gh.AddRepo("acme", name)
		url := git.CreateRepo(name, map[string]string{
			".ferry/policies.yaml": policy,
			".ferry/apps.yaml":     fmt.Sprintf("apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: %s}\nspec:\n  source: {path: app}\n  destination: {namespace: %s}\n  syncPolicy: {automated: true, timeout: 10s}\n", name, ns),
			"app/cm.yaml":          "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {v: v1}\n",
			"apps/api/deploy.yaml": strings.ReplaceAll(deployment, "HOST", reg.Host),
		})
		schedule := ""
		if name == "two" {
			schedule = ", schedule: {interval: 2s, jitter: 0s}"
		}
		if name == "one" {
			// The README: a repository's signing: signs Ferry's commits there.
			schedule += ", signing: {sshKeyFile: " + testenv.SSHSigningKey(t, dir) + "}"
		}
		repos += fmt.Sprintf("  - {url: %s, github: {url: %s, tokenFile: %s, repo: acme/%s}%s}\n", url, gh.BaseURL(), token, name, schedule)
	}
	addr := freeAddr(t)
	cfgFile := writeFile(t, dir, "ferry.yaml", fmt.Sprintf(`apiVersion: ferry.dev/v1alpha1
kind: RunConfig
listen: %q
schedule: {interval: 1h, jitter: 0s}
repos:
%swebhooks:
  githubSecretFile: %s
  registryTokenFile: %s
sync: {enabled: true, kubeconfig: %s, interval: 1h}
`, addr, repos, writeFile(t, dir, "gh-secret", "hook-secret"), writeFile(t, dir, "reg-token", "reg-secret"), cluster.Kubeconfig()))

	runCtx, cancel := context.WithCancel(ctx)
	var out, errs testenv.SyncBuffer
	done := make(chan int)
	go func() { done <- Main(runCtx, []string{"run", "--config", cfgFile}, &out, &errs) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("ferry run exited %d:\n%s", code, errs.String())
		}
	}()
	base := "http://" + addr
	waitFor(t, "readiness", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	if !strings.Contains(errs.String(), "3 repositories") {
		t.Errorf("ferry run does not say it serves 3 repositories: %s", errs.String())
	}
	for _, name := range names {
		if !strings.Contains(image(name), "release.20240301") || cm(namespaces[name]) != "v1" {
			t.Fatalf("%s: not bumped or not synced after the first round", name)
		}
	}
	for name, signed := range map[string]bool{"one": true, "two": false} {
		commit, err := git.Git(name, "cat-file", "-p", "ferry/api")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(commit, "-----BEGIN SSH SIGNATURE-----"); got != signed {
			t.Errorf("%s: Ferry's commit signed %v, want %v:\n%s", name, got, signed, commit)
		}
	}

	// A new release: only two, on its own 2s schedule, picks it up unasked.
	if _, err := reg.Seed(ctx, "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two's own schedule", func() bool { return strings.Contains(image("two"), "release.20240305") })
	time.Sleep(time.Second)
	for _, name := range []string{"one", "three"} {
		if strings.Contains(image(name), "release.20240305") {
			t.Fatalf("%s was bumped on two's schedule", name)
		}
	}

	// A merge to three's main, announced by GitHub: three syncs and bumps
	// at once, one does neither.
	head := git.Commit("three", "main", "v2", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {v: v2}\n"})
	git.Commit("one", "main", "v2", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {v: v2}\n"})
	push := fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"full_name":"acme/three"}}`, head)
	mac := hmac.New(sha256.New, []byte("hook-secret"))
	mac.Write([]byte(push))
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/github", strings.NewReader(push))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "three-1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("github webhook: %v %v", resp, err)
	}
	waitFor(t, "three to sync the merge", func() bool { return cm(namespaces["three"]) == "v2" })
	waitFor(t, "three to bump", func() bool { return strings.Contains(image("three"), "release.20240305") })
	if cm(namespaces["one"]) != "v1" || strings.Contains(image("one"), "release.20240305") {
		t.Error("a push to three synced or bumped one")
	}

	// The registry announces the release: every repository whose policy
	// governs the image bumps, one included.
	hook := fmt.Sprintf(`{"events":[{"id":"three-2","action":"push","target":{"repository":"acme/api","digest":"sha256:%s","tag":"release.20240305"},"request":{"host":%q}}]}`, strings.Repeat("ab", 32), reg.Host)
	req, _ = http.NewRequest(http.MethodPost, base+"/webhooks/registry", strings.NewReader(hook))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
	req.Header.Set("Authorization", "Bearer reg-secret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("registry webhook: %v %v", resp, err)
	}
	waitFor(t, "one to bump", func() bool { return strings.Contains(image("one"), "release.20240305") })
	if n := len(gh.PullRequests("acme", "one")) + len(gh.PullRequests("acme", "two")) + len(gh.PullRequests("acme", "three")); n != 3 {
		t.Errorf("%d pull requests, want one per repository", n)
	}
}
