package deploy

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// benchApp writes n groups of Deployment+Service+ConfigMap+ServiceAccount
// into 10 files; group 0's image is image0.
func benchApp(n int, image0 string) map[string]string {
	files := map[string]string{}
	per := max(n/10, 1)
	for f := 0; f*per < n; f++ {
		var b strings.Builder
		for i := f * per; i < min((f+1)*per, n); i++ {
			name := fmt.Sprintf("svc-%04d", i)
			image := "registry.example.com/app:1.0.0"
			if i == 0 {
				image = image0
			}
			fmt.Fprintf(&b, "---\n%s---\n%s---\n%s---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %s}\n",
				deploymentYAML(name, image),
				fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: %s}\nspec:\n  clusterIP: None\n  selector: {app: %s}\n  ports: [{port: 80, targetPort: 8080}]\n", name, name),
				configMapYAML(name, map[string]string{"LOG_LEVEL": "info", "FEATURE": name}),
				name)
		}
		files[fmt.Sprintf("app/part-%02d.yaml", f)] = b.String()
	}
	return files
}

// peakHeap samples the live heap until stop is called and returns its
// maximum.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkSync4000 syncs an app of 4,000 objects (1,000 × Deployment,
// headless Service, ConfigMap, ServiceAccount) from nothing, re-syncs it with
// nothing to do, then syncs a one-image change, and reports for each
// phase the wall time (s), the API requests the Syncer made (calls) and
// the peak live heap of the process (MB). Health waits are included: a
// fake deployment controller marks Deployments rolled out.
//
//	go test -run '^$' -bench Sync4000 -benchtime 1x ./deploy/
func BenchmarkSync4000(b *testing.B) {
	const groups = 1000
	c := kube.Shared(b)
	type phase struct {
		name  string
		secs  float64
		calls int64
		heap  uint64
	}
	var totals []phase
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		ns := c.Namespace(b)
		git := gitserver.New(b)
		url := git.CreateRepo("manifests", benchApp(groups, "registry.example.com/app:1.0.0"))
		fakeDeploymentController(b, c.Config(), ns)
		s := syncerFor(b, c.Config(), Options{Log: discardLog(), Namespace: ns})
		app := App{Name: fmt.Sprintf("bench-%d", i), RepoURL: url, Branch: "main", Path: "app", Namespace: ns}
		ctx := context.Background()
		run := func(name string, wantChanged int) phase {
			before := s.Stats()
			stop := peakHeap()
			start := time.Now()
			rec, err := s.Sync(ctx, app, SyncOptions{Prune: true, Timeout: 5 * time.Minute})
			p := phase{name: name, secs: time.Since(start).Seconds()}
			p.heap = stop()
			p.calls = s.Stats().Sub(before).Requests
			if err != nil || rec.Result != Succeeded {
				b.Fatalf("%s: %v %+v", name, err, rec.Counts)
			}
			if changed := rec.Counts.Created + rec.Counts.Configured; changed != wantChanged {
				b.Fatalf("%s: %d objects changed, want %d", name, changed, wantChanged)
			}
			b.Logf("%-7s %7.2fs %6d calls %v, peak heap %d MB", name, p.secs, p.calls, s.Stats().Sub(before).ByMethod, p.heap>>20)
			return p
		}
		b.StartTimer()
		ps := []phase{run("full", 4*groups), run("no-op", 0)}
		b.StopTimer()
		git.Commit("manifests", "main", "bump", benchApp(groups, "registry.example.com/app:1.0.1"))
		b.StartTimer()
		ps = append(ps, run("change", 1))
		if totals == nil {
			totals = make([]phase, len(ps))
		}
		for j, p := range ps {
			totals[j].name = p.name
			totals[j].secs += p.secs
			totals[j].calls += p.calls
			totals[j].heap = max(totals[j].heap, p.heap)
		}
	}
	n := float64(b.N)
	for _, p := range totals {
		b.ReportMetric(p.secs/n, p.name+"-s")
		b.ReportMetric(float64(p.calls)/n, p.name+"-calls")
		b.ReportMetric(float64(p.heap)/(1<<20), p.name+"-peak-MB")
	}
}
