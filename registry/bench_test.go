package registry

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

var (
	benchOnce  sync.Once
	benchSrv   *ociregistry.Server
	benchRepos []string
	benchErr   error
)

// seedBench starts one registry with 1,000 repositories × 50 tags, shared
// by the benchmarks of this package (seeding is outside the timed loop).
func seedBench(b *testing.B) {
	b.Helper()
	benchOnce.Do(func() {
		benchSrv = ociregistry.New()
		ctx := context.Background()
		tags := make([]string, 50)
		for i := range tags {
			tags[i] = fmt.Sprintf("release.202401%02d", i%28+1) + fmt.Sprintf(".%d", i)
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		var failed atomic.Value
		for i := range 1000 {
			repo := fmt.Sprintf("team%02d/app%04d", i%20, i)
			benchRepos = append(benchRepos, benchSrv.Host+"/"+repo)
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if _, err := benchSrv.Seed(ctx, repo, tags...); err != nil {
					failed.Store(err)
				}
			}()
		}
		wg.Wait()
		if err, ok := failed.Load().(error); ok {
			benchErr = err
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
}

// peakHeap samples the heap in use until stop is called and returns the peak.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak.Load() }
}

// BenchmarkScan1000Repos lists 1,000 repositories × 50 tags from a local
// registry with default (adaptive) limits: wall time per full scan,
// requests per scan, peak heap.
func BenchmarkScan1000Repos(b *testing.B) {
	if os.Getenv("DOCKER_CONFIG") == "" {
		b.Setenv("DOCKER_CONFIG", b.TempDir())
	}
	seedBench(b)
	ctx := context.Background()
	b.ReportAllocs()
	var requests, tagLists int64
	var peak uint64
	b.ResetTimer()
	for range b.N {
		c := New(Options{}) // default limits: adaptive, as shipped
		before := benchSrv.TagLists()
		runtime.GC()
		stop := peakHeap()
		out := c.List(ctx, benchRepos)
		peak = max(peak, stop())
		for _, l := range out {
			if l.Err != nil || len(l.Tags) != 50 {
				b.Fatalf("%s: %d tags, err %v", l.Repository, len(l.Tags), l.Err)
			}
		}
		requests += c.Stats().Total().Requests
		tagLists += benchSrv.TagLists() - before
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(tagLists)/float64(b.N), "tag-lists/op")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}
