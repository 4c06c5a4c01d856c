package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/internal/testenv/distribution"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

// The shape of issue 17's side-by-side scan: 200 images of 105 tags each on
// Debian's docker-registry, listed in pages of 100 (two pages per image).
const (
	benchImages = 200
	benchTags   = 105
	benchPage   = 100
)

// BenchmarkScanAsShipped builds the ferry binary and times `ferry scan` as
// a user runs it: default registry settings (no --registry-rps or
// --registry-concurrency), --page-size 100, 200 images × 105 tags, against
// two local registries:
//
//   - distribution: Debian's docker-registry (distribution v2.8, whose
//     tags/list ignores the page size: one page per image, 201 requests);
//     its storage is seeded once and kept under the user cache directory
//     (seeding takes minutes);
//   - paged: go-containerregistry's registry with the Link pagination of
//     internal/testenv/ociregistry, two pages per image: 401 requests.
//
// Each adds one ping. FERRY_BENCH_SCAN_ARGS adds flags (for example
// "--registry-rps 20 --registry-concurrency 8" for the old fixed limits).
// hack/bench-scan.sh runs it.
func BenchmarkScanAsShipped(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "ferry")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("building ferry: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	b.Run("distribution", func(b *testing.B) {
		cache, err := os.UserCacheDir()
		if err != nil {
			b.Fatal(err)
		}
		root := filepath.Join(cache, "ferry", fmt.Sprintf("bench-scan-distribution-%dx%d", benchImages, benchTags))
		reg := distribution.StartAt(b, root)
		seeded := filepath.Join(root, "seeded")
		if _, err := os.Stat(seeded); err != nil {
			benchSeed(b, func(repo string, tags []string) error {
				_, err := ociregistry.Push(ctx, reg.Host, authn.Anonymous, repo, tags...)
				return err
			})
			if err := os.WriteFile(seeded, nil, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		benchScan(b, ctx, bin, reg.Host, benchImages+1)
	})
	b.Run("paged", func(b *testing.B) {
		srv := ociregistry.New()
		defer srv.Close()
		benchSeed(b, func(repo string, tags []string) error {
			_, err := srv.Seed(ctx, repo, tags...)
			return err
		})
		benchScan(b, ctx, bin, srv.Host, 2*benchImages+1)
	})
}

// benchScan runs `ferry scan` on the bench repository of host b.N times and
// reports requests per scan, which must be want.
func benchScan(b *testing.B, ctx context.Context, bin, host string, want int64) {
	dir := benchScanRepo(b, host)
	home := b.TempDir() // an empty docker config: anonymous, as for a local registry
	args := append([]string{"scan", "--repo", dir, "--page-size", fmt.Sprint(benchPage), "--stats", "-o", "json"},
		strings.Fields(os.Getenv("FERRY_BENCH_SCAN_ARGS"))...)
	var cpu time.Duration // ferry's own CPU time (user and system)
	scan := func() *bot.Report {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+home)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("ferry scan: %v\n%s", err, out)
		}
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		var rep bot.Report
		if err := json.Unmarshal(out, &rep); err != nil {
			b.Fatal(err)
		}
		if rep.Stats == nil || len(rep.Policies) != benchImages {
			b.Fatalf("report: %d policies, stats %v", len(rep.Policies), rep.Stats)
		}
		for _, p := range rep.Policies {
			if p.Error != "" || p.TagsSeen != benchTags {
				b.Fatalf("policy %s: %d tags, error %q", p.Name, p.TagsSeen, p.Error)
			}
		}
		if rep.Stats.Requests != want {
			b.Fatalf("%d requests, want %d", rep.Stats.Requests, want)
		}
		return &rep
	}
	scan() // warm the registry's storage cache and the binary's pages
	cpu = 0
	b.ResetTimer()
	for range b.N {
		scan()
	}
	b.ReportMetric(float64(want), "requests/op")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "ferry-cpu-s/op")
}

// benchSeed pushes 105 tags to each of the 200 images, 8 at a time.
func benchSeed(b *testing.B, push func(repo string, tags []string) error) {
	b.Helper()
	var (
		wg     sync.WaitGroup
		sem    = make(chan struct{}, 8)
		mu     sync.Mutex
		failed error
	)
	for i := range benchImages {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := push(fmt.Sprintf("bench/app%03d", i), benchTagNames()); err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
}

func benchTagNames() []string {
	tags := make([]string, benchTags)
	for i := range tags {
		tags[i] = fmt.Sprintf("1.%d.%d", i/10, i%10)
	}
	return tags
}

// benchScanRepo writes a manifest repository with a policy and a
// Deployment per image of host.
func benchScanRepo(b *testing.B, host string) string {
	b.Helper()
	files := map[string]string{}
	var policies strings.Builder
	for i := range benchImages {
		repo := fmt.Sprintf("bench/app%03d", i)
		fmt.Fprintf(&policies, "---\napiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  name: app%03d\nspec:\n  image: %s/%s\n  policy:\n    semver: {range: '>=1.0.0'}\n", i, host, repo)
		files[fmt.Sprintf("apps/app%03d/deploy.yaml", i)] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app%03d
spec:
  template:
    spec:
      containers:
        - name: app
          image: %s/%s:1.0.0 # {"$imagepolicy": "app%03d"}
`, i, host, repo, i)
	}
	files[".ferry/policies.yaml"] = policies.String()
	dir := b.TempDir()
	writeTree(b, dir, files)
	return dir
}
