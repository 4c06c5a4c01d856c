package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/internal/testenv/githubapi"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
	"github.com/ferrygitops/ferry/registry"
)

// benchRepo is a manifest repository of 2,000 files and 20 policies (build
// numbers, numerical order); 5 files per policy name its image.
type benchRepo struct {
	reg  *ociregistry.Server
	git  *gitserver.Server
	gh   *githubapi.Server
	opts BumpOptions
	next int
}

func newBenchRepo(b *testing.B) *benchRepo {
	b.Helper()
	ctx := context.Background()
	b.Setenv("DOCKER_CONFIG", b.TempDir())
	r := &benchRepo{reg: ociregistry.New(), git: gitserver.New(b), next: 2}
	b.Cleanup(r.reg.Close)
	files := map[string]string{}
	var pol strings.Builder
	for p := range 20 {
		name := fmt.Sprintf("svc%02d", p)
		if _, err := r.reg.Seed(ctx, "acme/"+name, "1"); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(&pol, "---\napiVersion: ferry.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  name: %s\nspec:\n  image: %s/acme/%s\n  filterTags: {pattern: '^\\d+$'}\n  policy:\n    numerical: {order: asc}\n", name, r.reg.Host, name)
	}
	files[".ferry/policies.yaml"] = pol.String()
	for i := range 2000 {
		img := "docker.io/library/busybox:1.36"
		if i%100 < 5 {
			img = fmt.Sprintf("%s/acme/svc%02d:1", r.reg.Host, i/100)
		}
		files[fmt.Sprintf("team%02d/app%04d/deploy.yaml", i%40, i)] = fmt.Sprintf(`# generated
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app%04d
  labels: {team: team%02d}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: %s
          resources: {requests: {cpu: 10m, memory: 32Mi}}
`, i, i%40, img)
	}
	url := r.git.CreateRepo("manifests", files)
	r.gh = githubapi.NewServer(r.git.GitHub())
	b.Cleanup(r.gh.Close)
	r.gh.AddRepo("acme", "manifests")
	fc, err := forge.New(forge.Options{BaseURL: r.gh.BaseURL(), Token: githubapi.DefaultToken})
	if err != nil {
		b.Fatal(err)
	}
	r.opts = BumpOptions{URL: url, Forge: fc, Owner: "acme", Repo: "manifests",
		Author: gitrepo.Signature{Name: "Ferry", Email: "ferry@example.com"}, Now: time.Now()}
	return r
}

// newTags pushes the next build number of all 20 images.
func (r *benchRepo) newTags(b *testing.B) {
	b.Helper()
	for p := range 20 {
		if _, err := r.reg.Seed(context.Background(), fmt.Sprintf("acme/svc%02d", p), strconv.Itoa(r.next)); err != nil {
			b.Fatal(err)
		}
	}
	r.next++
}

func (r *benchRepo) run(b *testing.B) *BumpResult {
	b.Helper()
	c := registry.New(registry.Options{Limits: registry.Limits{RatePerSecond: 1e6, Burst: 1000}})
	res, err := Bump(context.Background(), c, r.opts)
	if err != nil {
		b.Fatal(err)
	}
	if res.Failed() {
		b.Fatalf("bump failed: %+v", res.Groups)
	}
	return res
}

type calls struct{ gitPushes, gitFetches, ghRequests, ghWrites int }

func (r *benchRepo) calls() calls {
	return calls{r.git.Pushes("manifests"), r.git.Fetches("manifests"), r.gh.TotalRequests(), r.gh.Writes()}
}

func (r *benchRepo) report(b *testing.B, before calls) {
	after := r.calls()
	n := float64(b.N)
	b.ReportMetric(float64(after.gitPushes-before.gitPushes)/n, "git-pushes/op")
	b.ReportMetric(float64(after.gitFetches-before.gitFetches)/n, "git-fetches/op")
	b.ReportMetric(float64(after.ghRequests-before.ghRequests)/n, "github-requests/op")
	b.ReportMetric(float64(after.ghWrites-before.ghWrites)/n, "github-writes/op")
}

// BenchmarkBumpNothingToDo is a cycle over 2,000 files and 20 policies whose
// 20 pull requests are already open and current, cloning afresh each time.
func BenchmarkBumpNothingToDo(b *testing.B) { benchNothingToDo(b, false) }

// BenchmarkBumpNothingToDoKeptClone is the same with the clone kept
// between cycles, as ferry run does.
func BenchmarkBumpNothingToDoKeptClone(b *testing.B) { benchNothingToDo(b, true) }

func benchNothingToDo(b *testing.B, keepClone bool) {
	r := newBenchRepo(b)
	if keepClone {
		r.opts.Dir = b.TempDir() + "/clone"
	}
	r.newTags(b)
	r.run(b)
	before := r.calls()
	b.ResetTimer()
	for range b.N {
		res := r.run(b)
		for _, g := range res.Groups {
			if g.Action != "unchanged" {
				b.Fatalf("group %s: %s", g.Group, g.Action)
			}
		}
	}
	b.StopTimer()
	r.report(b, before)
}

// BenchmarkBump20Updates is a cycle in which all 20 images have a new tag:
// 20 branches force-pushed and 20 pull requests updated.
func BenchmarkBump20Updates(b *testing.B) {
	r := newBenchRepo(b)
	r.newTags(b)
	r.run(b)
	before := r.calls()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		r.newTags(b)
		b.StartTimer()
		res := r.run(b)
		for _, g := range res.Groups {
			if g.Action != "updated" {
				b.Fatalf("group %s: %s", g.Group, g.Action)
			}
		}
	}
	b.StopTimer()
	r.report(b, before)
}

// BenchmarkWithoutRejected100k: the rejection filter every policy's
// listing goes through, 100,000 tags against 100 rejections of the image.
func BenchmarkWithoutRejected100k(b *testing.B) {
	const repo = "ghcr.io/acme/web"
	tags := make([]image.Tag, 100_000)
	for i := range tags {
		tags[i] = image.Tag{Name: fmt.Sprintf("1.%d.%d", i/1000, i%1000)}
	}
	var rs []dotferry.Rejection
	for i := range 100 {
		rs = append(rs, dotferry.Rejection{Image: repo, Tag: fmt.Sprintf("1.%d.7", i), Reason: "bad"})
	}
	b.ReportAllocs()
	for b.Loop() {
		kept, rejected := withoutRejected(tags, repo, rs)
		if len(kept)+len(rejected) != len(tags) || len(rejected) != 100 {
			b.Fatalf("kept %d rejected %d", len(kept), len(rejected))
		}
	}
}
