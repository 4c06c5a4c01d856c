package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// The cluster tests share one API server; each uses its own namespaces,
// app names and Lease.
func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

// Policies and a manifest naming their images; HOST is the registry.
const (
	apiPolicy = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata: {name: api}
spec:
  image: HOST/acme/api
  filterTags: {pattern: '^release\.(?P<stamp>\d{8})$', extract: '$stamp'}
  policy: {date: {layout: '20060102'}}
`
	webPolicy = `apiVersion: ferry.dev/v1alpha1
kind: ImagePolicy
metadata: {name: web}
spec:
  image: HOST/acme/web
  policy: {semver: {range: '>=1.0.0'}}
`
	apiDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: prod}
spec:
  template:
    spec:
      containers:
        - name: api
          image: HOST/acme/api:release.20240101 # keep this comment
`
	webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  template:
    spec:
      containers:
        - name: web
          image: HOST/acme/web:v1.9.0
`
)

// fixture is one test's registry, git server and GitHub emulator.
type fixture struct {
	t   *testing.T
	reg *ociregistry.Server
	git *gitserver.Server
	gh  *githubapi.Server
	dir string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg := ociregistry.New()
	t.Cleanup(reg.Close)
	ctx := context.Background()
	if _, err := reg.Seed(ctx, "acme/api", "release.20240101", "release.20240215", "release.20240301", "latest"); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Seed(ctx, "acme/web", "v1.9.0", "v1.10.0", "v2.0.0-rc.1"); err != nil {
		t.Fatal(err)
	}
	git := gitserver.New(t, gitserver.WithBasicAuth(gitrepoUser, githubapi.DefaultToken))
	gh := githubapi.NewServer(git.GitHub())
	t.Cleanup(gh.Close)
	return &fixture{t: t, reg: reg, git: git, gh: gh, dir: t.TempDir()}
}

const gitrepoUser = "x-access-token"

// host replaces HOST with the registry's host in every file.
func (f *fixture) host(files map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = strings.ReplaceAll(v, "HOST", f.reg.Host)
	}
	return out
}

// repo creates the git repository name (acme/NAME on GitHub) holding files.
func (f *fixture) repo(name string, files map[string]string) string {
	f.t.Helper()
	f.gh.AddRepo("acme", name)
	return f.git.CreateRepo(name, f.host(files))
}

// file writes a file of the test's directory and returns its path.
func (f *fixture) file(name, body string) string {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// token is the GitHub token's file.
func (f *fixture) token() string { return f.file("github-token", githubapi.DefaultToken+"\n") }

// pullRepo is a repos entry in pull-request mode for acme/NAME.
func (f *fixture) pullRepo(name, branch string) string {
	return fmt.Sprintf("{url: %s, branch: %s, github: {url: %s, repo: acme/%s, tokenFile: %s}}", f.git.RepoURL(name), branch, f.gh.BaseURL(), name, f.token())
}

// running is a Service started by start.
type running struct {
	t    *testing.T
	svc  *Service
	base string
	logs *testenv.SyncBuffer
	stop func() error
}

// start writes the config (LISTEN is replaced by a free address), builds
// the Service and runs it until the test ends or stop is called.
func (f *fixture) start(config string, opts Options) *running {
	f.t.Helper()
	addr := freeAddr(f.t)
	path := f.file(fmt.Sprintf("ferry-%d.yaml", time.Now().UnixNano()), strings.ReplaceAll(config, "LISTEN", addr))
	cfg, err := LoadConfig(path)
	if err != nil {
		f.t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	svc, err := New(cfg, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	r := &running{t: f.t, svc: svc, base: "http://" + addr, logs: logs}
	var once sync.Once
	var runErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(90 * time.Second):
				f.t.Fatal("the service did not stop")
			}
		})
		return runErr
	}
	f.t.Cleanup(func() {
		if err := r.stop(); err != nil {
			f.t.Errorf("Run: %v", err)
		}
		if f.t.Failed() {
			f.t.Logf("service log:\n%s", tail(logs.String(), 60))
		}
	})
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (r *running) waitReady() {
	r.t.Helper()
	waitFor(r.t, "readiness", func() bool { code, _ := get(r.base + "/readyz"); return code == 200 })
}

func (r *running) status() string {
	_, body := get(r.base + "/status.json")
	return body
}

// post sends a webhook and returns the status code.
func (r *running) post(path string, header map[string]string, body string) int {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.base+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.t.Logf("POST %s: %d %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	return resp.StatusCode
}

var deliveries struct {
	mu sync.Mutex
	n  int
}

func delivery() string {
	deliveries.mu.Lock()
	defer deliveries.mu.Unlock()
	deliveries.n++
	return fmt.Sprintf("delivery-%d", deliveries.n)
}

// registryPush posts a Docker distribution notification of repo:tag.
func (r *running) registryPush(token, host, repo, tag string) int {
	body := fmt.Sprintf(`{"events":[{"id":%q,"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","repository":%q,"digest":"sha256:%s","tag":%q},"request":{"host":%q}}]}`,
		delivery(), repo, strings.Repeat("ab", 32), tag, host)
	return r.post("/webhooks/registry", map[string]string{
		"Content-Type":  "application/vnd.docker.distribution.events.v1+json",
		"Authorization": "Bearer " + token,
	}, body)
}

// github posts a signed GitHub delivery.
func (r *running) github(secret, event, body string) int {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	return r.post("/webhooks/github", map[string]string{
		"Content-Type":        "application/json",
		"X-GitHub-Event":      event,
		"X-GitHub-Delivery":   delivery(),
		"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)),
	}, body)
}

func (r *running) githubPush(secret, fullName, branch, sha string) int {
	return r.github(secret, "push", fmt.Sprintf(`{"ref":"refs/heads/%s","after":%q,"repository":{"full_name":%q}}`, branch, sha, fullName))
}

func (r *running) githubMerged(secret, fullName, head, base string, number int) int {
	return r.github(secret, "pull_request", fmt.Sprintf(`{"action":"closed","number":%d,"pull_request":{"number":%d,"merged":true,"merge_commit_sha":%q,"head":{"ref":%q},"base":{"ref":%q}},"repository":{"full_name":%q}}`,
		number, number, strings.Repeat("c", 40), head, base, fullName))
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
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// branchHas reports whether path on branch of repo contains s.
func (f *fixture) branchHas(repo, branch, path, s string) bool {
	body, err := f.git.ReadFile(repo, branch, path)
	return err == nil && strings.Contains(body, s)
}
