package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
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

// syncBuffer is a goroutine-safe writer for the service's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
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

func TestRunServiceBumpsOnScheduleAndWebhooks(t *testing.T) {
	ctx := context.Background()
	reg := seededRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(releasePolicy, "HOST", reg.Host),
		"apps/api/deploy.yaml": strings.ReplaceAll(deployment, "HOST", reg.Host),
	})
	gh := newGitHub(t, git)

	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	tokenFile := write("github-token", githubapi.DefaultToken+"\n")
	regTokenFile := write("registry-token", "reg-hook-secret\n")
	addr := freeAddr(t)
	cfgFile := write("ferry.yaml", fmt.Sprintf(`apiVersion: ferry.dev/v1alpha1
kind: RunConfig
listen: %q
schedule: {interval: 1h, jitter: 0s}
repos:
  - url: %s
    github: {url: %s, repo: acme/manifests, tokenFile: %s}
webhooks:
  registryTokenFile: %s
`, addr, url, gh.BaseURL(), tokenFile, regTokenFile))

	runCtx, cancel := context.WithCancel(ctx)
	var out, errs syncBuffer
	done := make(chan int)
	go func() { done <- Main(runCtx, []string{"run", "--config", cfgFile, "--log-level", "info"}, &out, &errs) }()
	base := "http://" + addr

	waitFor(t, "readiness after the first cycle", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	if prs := gh.PullRequests("acme", "manifests"); len(prs) != 2 {
		t.Fatalf("%d pull requests after the first cycle, want 2", len(prs))
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "ferry_bump_cycles_total") {
		t.Errorf("/metrics: %d\n%.300s", code, body)
	}
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, "ferry/api") {
		t.Errorf("status page: %d\n%.300s", code, body)
	}

	// A push notification from the registry triggers a cycle at once.
	if _, err := reg.Seed(ctx, "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	hook := fmt.Sprintf(`{"events":[{"id":"ev-1","timestamp":"2024-03-05T10:00:00Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":"acme/api","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","tag":"release.20240305"},"request":{"host":%q}}]}`, reg.Host)
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/registry", strings.NewReader(hook))
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A push of an image no policy governs starts no cycle.
	other := strings.Replace(hook, "acme/api", "acme/unrelated", 1)
	other = strings.Replace(other, `"ev-1"`, `"ev-0"`, 1)
	req0, _ := http.NewRequest(http.MethodPost, base+"/webhooks/registry", strings.NewReader(other))
	req0.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
	req0.Header.Set("Authorization", "Bearer reg-hook-secret")
	if resp, err := http.DefaultClient.Do(req0); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("unrelated webhook: %v %v", resp, err)
	}
	if _, body := get(t, base+"/status.json"); !strings.Contains(body, "no policy governs that image") {
		t.Errorf("status.json does not say the unrelated push was ignored: %.600s", body)
	}
	if code := post("wrong"); code != http.StatusUnauthorized {
		t.Errorf("webhook with a wrong token: %d, want 401", code)
	}
	if code := post("reg-hook-secret"); code != http.StatusOK {
		t.Fatalf("webhook: %d", code)
	}
	waitFor(t, "the pull request to follow the pushed tag", func() bool {
		body, _ := git.ReadFile("manifests", "ferry/api", "apps/api/deploy.yaml")
		return strings.Contains(body, "release.20240305")
	})
	if n := len(gh.PullRequests("acme", "manifests")); n != 2 {
		t.Errorf("%d pull requests, want still 2", n)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d\nstderr:\n%s", code, errs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ferry run did not stop after cancellation")
	}
	if strings.Contains(errs.String(), githubapi.DefaultToken) {
		t.Error("the token appears in the logs")
	}
}

func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "bad.yaml", "apiVersion: ferry.dev/v1alpha1\nkind: RunConfig\nrepos:\n  - url: x\n    colour: blue\n")
	code, _, errs := run(t, "run", "--config", p)
	if code != 2 || !strings.Contains(errs, "bad.yaml") || !strings.Contains(errs, "line 5") {
		t.Errorf("exit %d, stderr %q: want 2 naming the file and line", code, errs)
	}
	writeFile(t, dir, "bad.yaml", "kind: RunConfig\nrepos: []\nschedule: {interval: soon}\n")
	code, _, errs = run(t, "run", "--config", p)
	if code != 2 || !strings.Contains(errs, "schedule.interval") || !strings.Contains(errs, "repos") {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// With sync.cluster set, a Ferry applies only the apps of its own cluster:
// the production app is left to production's Ferry.
func TestRunSyncsOnlyTheAppsOfItsCluster(t *testing.T) {
	cluster := kube.Start(t)
	reg := seededRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	apps := ""
	for _, env := range []string{"staging", "production"} {
		apps += fmt.Sprintf("---\napiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: %[1]s}\nspec:\n  source: {path: %[1]s}\n  destination: {namespace: %[1]s, context: %[1]s}\n  syncPolicy: {automated: true, timeout: 1s}\n", env)
	}
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(releasePolicy, "HOST", reg.Host),
		".ferry/apps.yaml":     apps,
		"staging/ns.yaml":      "apiVersion: v1\nkind: Namespace\nmetadata: {name: staging}\n",
		"staging/cm.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {env: staging}\n",
		"production/ns.yaml":   "apiVersion: v1\nkind: Namespace\nmetadata: {name: production}\n",
		"production/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {env: production}\n",
		"apps/api/deploy.yaml": strings.ReplaceAll(deployment, "HOST", reg.Host),
	})
	gh := newGitHub(t, git)
	dir := t.TempDir()
	token := writeFile(t, dir, "token", githubapi.DefaultToken)
	addr := freeAddr(t)
	cfgFile := writeFile(t, dir, "ferry.yaml", fmt.Sprintf(`kind: RunConfig
listen: %q
schedule: {interval: 1h, jitter: 0s}
repos: [{url: %s, github: {url: %s, repo: acme/manifests, tokenFile: %s}}]
sync: {enabled: true, kubeconfig: %s, cluster: staging}
`, addr, url, gh.BaseURL(), token, cluster.Kubeconfig()))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var out, errs syncBuffer
	go func() { done <- Main(ctx, []string{"run", "--config", cfgFile}, &out, &errs) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "readiness", func() bool { code, _ := get(t, "http://"+addr+"/readyz"); return code == 200 })

	cs := kubernetes.NewForConfigOrDie(cluster.Config())
	if _, err := cs.CoreV1().ConfigMaps("staging").Get(context.Background(), "app", metav1.GetOptions{}); err != nil {
		t.Errorf("the staging app was not applied: %v", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "production", metav1.GetOptions{}); err == nil {
		t.Error("the production app was applied to the staging cluster")
	}
	_, body := get(t, "http://"+addr+"/status.json")
	if !strings.Contains(body, `"name":"staging"`) || strings.Contains(body, `"name":"production"`) {
		t.Errorf("status.json apps: %.500s", body)
	}
}

// Two replicas with leader election: one Lease, one replica running
// cycles, both serving health; one set of pull requests.
func TestRunLeaderElection(t *testing.T) {
	cluster := kube.Start(t)
	reg := seededRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.ReplaceAll(releasePolicy, "HOST", reg.Host),
		"apps/api/deploy.yaml": strings.ReplaceAll(deployment, "HOST", reg.Host),
	})
	gh := newGitHub(t, git)
	dir := t.TempDir()
	token := writeFile(t, dir, "token", githubapi.DefaultToken)

	type replica struct {
		addr string
		stop func()
	}
	var replicas []replica
	for i := range 2 {
		addr := freeAddr(t)
		cfgFile := writeFile(t, dir, fmt.Sprintf("ferry-%d.yaml", i), fmt.Sprintf(`kind: RunConfig
listen: %q
schedule: {interval: 1h, jitter: 0s}
repos: [{url: %s, github: {url: %s, repo: acme/manifests, tokenFile: %s}}]
leaderElection: {enabled: true, namespace: default, name: ferry-test}
`, addr, url, gh.BaseURL(), token))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int)
		var out, errs syncBuffer
		go func() {
			done <- Main(ctx, []string{"run", "--config", cfgFile, "--kubeconfig", cluster.Kubeconfig()}, &out, &errs)
		}()
		replicas = append(replicas, replica{addr, func() { cancel(); <-done }})
	}
	defer func() {
		for _, r := range replicas {
			r.stop()
		}
	}()
	cycled := func(r replica) bool {
		_, body := get(t, "http://"+r.addr+"/status.json")
		return strings.Contains(body, `"lastCycle"`)
	}
	waitFor(t, "one replica to run a cycle", func() bool { return cycled(replicas[0]) || cycled(replicas[1]) })
	for _, r := range replicas {
		waitFor(t, "both replicas ready", func() bool { code, _ := get(t, "http://"+r.addr+"/readyz"); return code == 200 })
	}
	if cycled(replicas[0]) && cycled(replicas[1]) {
		t.Fatal("both replicas ran cycles")
	}
	if n := len(gh.PullRequests("acme", "manifests")); n != 2 {
		t.Errorf("%d pull requests, want 2", n)
	}
	lease, err := kubernetes.NewForConfigOrDie(cluster.Config()).CoordinationV1().Leases("default").Get(context.Background(), "ferry-test", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity == "" {
		t.Errorf("the Lease: %v", err)
	}
	// The leader goes away: the other replica takes over.
	leader := 0
	if cycled(replicas[1]) {
		leader = 1
	}
	replicas[leader].stop()
	replicas[leader].stop = func() {}
	other := replicas[1-leader]
	waitFor(t, "the other replica to take over", func() bool { return cycled(other) })
}
