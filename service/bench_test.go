package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

// BenchmarkService50Repos20Policies is one replica's reach: one `ferry
// run` serving 50 repositories of 20 policies each (100 manifest files per
// repository, 5 naming each policy's image; the 20 images are shared, as
// in a fleet of services), against the in-process registry, the git
// server and the GitHub emulator on loopback, with no sync.
//
//   - cold-s: the first round, from Run to every repository's first cycle
//     done: 50 clones, 1,000 pull requests created;
//   - round-s: a steady-state round, every repository triggered with nothing
//     new: from the first cycle's start to the last one's end (ns/op adds
//     the trigger's 2s debounce);
//   - registry-req, github-req, git-req (HTTP requests: ref advertisements
//     and packs), git-fetches (packs fetched): that steady-state round's
//     calls;
//   - peak-heap-MB: the largest live heap seen during both rounds.
//
// go test -run '^$' -bench BenchmarkService50Repos20Policies -benchtime 1x ./service
func BenchmarkService50Repos20Policies(b *testing.B) {
	for _, conc := range []int{4, 16} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) { benchService(b, 50, 20, conc) })
	}
}

func benchService(b *testing.B, repos, policies, concurrency int) {
	ctx := context.Background()
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	reg := ociregistry.New()
	b.Cleanup(reg.Close)
	var tags []string
	for i := range 30 {
		tags = append(tags, fmt.Sprintf("1.%d.%d", i/10, i%10))
	}
	var pol strings.Builder
	for p := range policies {
		name := fmt.Sprintf("svc%02d", p)
		if _, err := reg.Seed(ctx, "acme/"+name, tags...); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&pol, "---\napiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: %s}\nspec:\n  image: %s/acme/%s\n  policy: {semver: {range: '>=1.0.0'}}\n", name, reg.Host, name)
	}
	files := map[string]string{".ferry/policies.yaml": pol.String()}
	for i := range 100 {
		img := "docker.io/library/busybox:1.36"
		if p := i / 5; p < policies {
			img = fmt.Sprintf("%s/acme/svc%02d:1.0.0", reg.Host, p)
		}
		files[fmt.Sprintf("apps/app%03d/deploy.yaml", i)] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app%03d}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: %s\n", i, img)
	}
	git := gitserver.New(b, gitserver.WithBasicAuth(gitrepoUser, githubapi.DefaultToken))
	var gitReq atomic.Int64
	git.OnRequest(func(gitserver.Request) { gitReq.Add(1) })
	gh := githubapi.NewServer(git.GitHub(), githubapi.WithRateLimit(1_000_000, time.Hour))
	b.Cleanup(gh.Close)
	dir := b.TempDir()
	token := dir + "/github-token"
	if err := os.WriteFile(token, []byte(githubapi.DefaultToken), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := &Config{Listen: "127.0.0.1:0", Concurrency: concurrency}
	cfg.Schedule.Interval, cfg.Schedule.Jitter = "1h", "0s"
	for i := range repos {
		name := fmt.Sprintf("repo%02d", i)
		gh.AddRepo("acme", name)
		var rc RepoConfig
		rc.URL = git.CreateRepo(name, files)
		rc.Workdir = filepath.Join(dir, name)
		rc.GitHub.URL, rc.GitHub.Repo, rc.GitHub.TokenFile = gh.BaseURL(), "acme/"+name, token
		cfg.Repos = append(cfg.Repos, rc)
	}
	svc, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}

	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer close(stopSampling)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- svc.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	allCycledAfter := func(t0 time.Time) (first, last time.Time, ok bool) {
		for _, r := range svc.repos {
			r.mu.Lock()
			c := r.lastCycle
			r.mu.Unlock()
			if c == nil || c.Time.Before(t0) {
				return first, last, false
			}
			if c.Error != "" {
				b.Fatalf("%s: %s", r.url, c.Error)
			}
			if first.IsZero() || c.Time.Before(first) {
				first = c.Time
			}
			if end := c.Time.Add(c.Duration); end.After(last) {
				last = end
			}
		}
		return first, last, true
	}
	wait := func(t0 time.Time) (time.Duration, bool) {
		deadline := time.Now().Add(30 * time.Minute)
		for time.Now().Before(deadline) {
			if first, last, ok := allCycledAfter(t0); ok {
				return last.Sub(first), true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return 0, false
	}
	if _, ok := wait(start); !ok {
		b.Fatal("the first round did not finish")
	}
	cold := time.Since(start)
	if n := len(gh.PullRequests("acme", "repo00")); n != policies {
		b.Fatalf("%d pull requests in repo00 after the first round, want %d", n, policies)
	}

	var regReq, ghReq, fetches, gitReqs int64
	var round time.Duration
	b.ResetTimer()
	for range b.N {
		gh.ResetCounters()
		reg0 := reg.Requests()
		fetch0, git0 := sumFetches(git, repos), gitReq.Load()
		t0 := time.Now()
		term := svc.currentTerm()
		for i := range svc.repos {
			term.loops[i].Trigger("benchmark")
		}
		took, ok := wait(t0)
		if !ok {
			b.Fatal("the steady-state round did not finish")
		}
		round += took
		regReq += reg.Requests() - reg0
		ghReq += int64(gh.TotalRequests())
		fetches += int64(sumFetches(git, repos) - fetch0)
		gitReqs += gitReq.Load() - git0
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(cold.Seconds(), "cold-s")
	b.ReportMetric(round.Seconds()/n, "round-s")
	b.ReportMetric(float64(regReq)/n, "registry-req")
	b.ReportMetric(float64(ghReq)/n, "github-req")
	b.ReportMetric(float64(fetches)/n, "git-fetches")
	b.ReportMetric(float64(gitReqs)/n, "git-req")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
}

func sumFetches(git *gitserver.Server, repos int) int {
	n := 0
	for i := range repos {
		n += git.Fetches(fmt.Sprintf("repo%02d", i))
	}
	return n
}
