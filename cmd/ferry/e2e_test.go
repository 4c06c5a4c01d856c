package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/internal/testenv"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestWholeLoop runs the seed's pipeline with real parts on loopback: a new
// release tag in the registry → a registry webhook → a bump pull request on
// the GitHub emulator against the real git server → the pull request merged
// through the emulator's merge endpoint (which updates the git branch) → a
// GitHub push webhook → the sync applies it to the real API server →
// `ferry status` shows the new revision. Faults on the way: registry 503s,
// a GitHub secondary rate limit, the API server restarted before the
// merge's sync, and the service stopped mid-run and started again.
//
// No kubelet runs: kube.FakeDeploymentController marks Deployments rolled out.
func TestWholeLoop(t *testing.T) {
	cluster := kube.Start(t)
	ctx := context.Background()
	ns := cluster.Namespace(t)
	kube.FakeDeploymentController(t, cluster.Config(), ns)
	cs := kubernetes.NewForConfigOrDie(cluster.Config())

	reg := seededRegistry(t)
	git := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", githubapi.DefaultToken))
	app := fmt.Sprintf(`apiVersion: ferry.dev/v1alpha1
kind: App
metadata: {name: api}
spec:
  source: {path: apps/api}
  destination: {namespace: %s}
  syncPolicy: {automated: true, prune: true, selfHeal: true, timeout: 20s}
`, ns)
	deployYAML := strings.ReplaceAll(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers:
        - name: api
          image: HOST/acme/api:release.20240101 # bumped by Ferry
`, "HOST", reg.Host)
	url := git.CreateRepo("manifests", map[string]string{
		".ferry/policies.yaml": strings.Split(strings.ReplaceAll(releasePolicy, "HOST", reg.Host), "---")[0],
		".ferry/apps.yaml":     app,
		"apps/api/deploy.yaml": deployYAML,
	})
	gh := newGitHub(t, git)

	dir := t.TempDir()
	write := func(name, body string) string { return writeFile(t, dir, name, body) }
	addr := freeAddr(t)
	cfgFile := write("ferry.yaml", fmt.Sprintf(`apiVersion: ferry.dev/v1alpha1
kind: RunConfig
listen: %q
schedule: {interval: 1h, jitter: 0s}
repos:
  - url: %s
    workdir: %s
    github: {url: %s, repo: acme/manifests, tokenFile: %s}
webhooks:
  githubSecretFile: %s
  registryTokenFile: %s
sync: {enabled: true, kubeconfig: %s, interval: 1h}
`, addr, url, filepath.Join(dir, "clone"), gh.BaseURL(), write("gh-token", githubapi.DefaultToken),
		write("gh-secret", "hook-secret"), write("reg-token", "reg-secret"), cluster.Kubeconfig()))
	base := "http://" + addr

	start := func() (stop func()) {
		runCtx, cancel := context.WithCancel(ctx)
		var out, errs testenv.SyncBuffer
		done := make(chan int)
		go func() { done <- Main(runCtx, []string{"run", "--config", cfgFile}, &out, &errs) }()
		return func() {
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("ferry run exited %d:\n%s", code, errs.String())
				}
			case <-time.After(60 * time.Second):
				t.Fatal("ferry run did not stop")
			}
		}
	}
	image := func() string {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}

	// Start: the first cycle opens the pull request, the first sync applies main.
	stop := start()
	waitFor(t, "readiness", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	if got := image(); got != reg.Host+"/acme/api:release.20240101" {
		t.Fatalf("deployed image %q after the first sync", got)
	}
	prs := gh.PullRequests("acme", "manifests")
	if len(prs) != 1 || !strings.Contains(prs[0].Title, "release.20240301") {
		t.Fatalf("pull requests after the first cycle: %+v", prs)
	}

	// Stopped mid-run and started again: still one pull request.
	stop()
	stop = start()
	defer func() { stop() }()
	waitFor(t, "readiness after the restart", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })

	// A new release, announced by the registry, while the registry flaps and
	// GitHub rate-limits.
	if _, err := reg.Seed(ctx, "acme/api", "release.20240305"); err != nil {
		t.Fatal(err)
	}
	reg.FailNext(2, http.StatusServiceUnavailable, "1")
	gh.FailNext(1, githubapi.SecondaryRateLimit(time.Second))
	hook := fmt.Sprintf(`{"events":[{"id":"e2e-1","action":"push","target":{"repository":"acme/api","digest":"sha256:%s","tag":"release.20240305"},"request":{"host":%q}}]}`, strings.Repeat("ab", 32), reg.Host)
	req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/registry", strings.NewReader(hook))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
	req.Header.Set("Authorization", "Bearer reg-secret")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("registry webhook: %v %v", resp, err)
	}
	waitFor(t, "the pull request to propose release.20240305", func() bool {
		prs := gh.PullRequests("acme", "manifests")
		return len(prs) == 1 && strings.Contains(prs[0].Title, "release.20240305")
	})

	// A person merges it; the API server restarts meanwhile.
	cluster.Restart(t)
	client, err := github.NewClient(nil).WithAuthToken(githubapi.DefaultToken).WithEnterpriseURLs(gh.BaseURL(), gh.UploadURL())
	if err != nil {
		t.Fatal(err)
	}
	merged, _, err := client.PullRequests.Merge(ctx, "acme", "manifests", prs[0].Number, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	push := fmt.Sprintf(`{"ref":"refs/heads/main","after":%q,"repository":{"full_name":"acme/manifests"}}`, merged.GetSHA())
	mac := hmac.New(sha256.New, []byte("hook-secret"))
	mac.Write([]byte(push))
	req, _ = http.NewRequest(http.MethodPost, base+"/webhooks/github", strings.NewReader(push))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "delivery-1")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("github webhook: %v %v", resp, err)
	}
	waitFor(t, "the merged image in the cluster", func() bool { return image() == reg.Host+"/acme/api:release.20240305" })

	// ferry status shows the merge commit as the applied revision.
	t.Setenv("GITHUB_TOKEN", githubapi.DefaultToken) // git credentials of the CLI
	waitFor(t, "the sync record", func() bool {
		code, out, errs := run(t, "status", "api", "--repo", url, "--kubeconfig", cluster.Kubeconfig(), "-o", "json")
		if code != 0 {
			t.Logf("ferry status: exit %d: %s %.300s", code, errs, out)
			return false
		}
		var st deploy.AppStatus
		return json.Unmarshal([]byte(out), &st) == nil && st.Last != nil && st.Last.Revision == merged.GetSHA()
	})
	if n := len(gh.PullRequests("acme", "manifests")); n != 1 {
		t.Errorf("%d pull requests in all, want 1", n)
	}
	if code, body := get(t, base+"/status.json"); code != 200 || !strings.Contains(body, merged.GetSHA()) {
		t.Errorf("status.json lacks the applied revision: %d %.400s", code, body)
	}
}
