package ui

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/server"
)

// snapshotBackend serves a fixed, generated snapshot: the benchmarks
// measure the UI's own work (rendering, fan-out), not a cluster's.
type snapshotBackend struct {
	snap   server.Snapshot
	apps   []deploy.App
	status deploy.AppStatus
}

func (b *snapshotBackend) Snapshot() server.Snapshot { return b.snap }
func (b *snapshotBackend) Apps() []deploy.App        { return b.apps }
func (b *snapshotBackend) AppStatus(context.Context, string) (deploy.AppStatus, error) {
	return b.status, nil
}
func (b *snapshotBackend) Diff(context.Context, string) (deploy.DiffResult, error) {
	return deploy.DiffResult{}, nil
}
func (b *snapshotBackend) Sync(context.Context, string) (deploy.Record, error) {
	return deploy.Record{}, nil
}
func (b *snapshotBackend) Rollback(context.Context, string, string) (deploy.Record, error) {
	return deploy.Record{}, nil
}
func (b *snapshotBackend) Release(context.Context, string) (bool, error) { return false, nil }
func (b *snapshotBackend) Scan(context.Context) error                    { return nil }

const benchRepo = "https://github.com/acme/manifests"

// bigBackend has apps apps of objects objects each and policies policies
// with three references each (in staging, production and canary apps).
func bigBackend(apps, objects, policies int) *snapshotBackend {
	now := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	b := &snapshotBackend{}
	for i := range apps {
		st := server.AppStatus{Name: fmt.Sprintf("app-%04d", i), Repo: benchRepo, Revision: fmt.Sprintf("%040x", i*7919), Result: "Succeeded", Time: now.Add(-time.Duration(i) * time.Second)}
		switch i % 10 {
		case 3:
			st.Result, st.Message = "Degraded", "HealthTimeout: Deployment/web not available"
		case 5:
			st.Pinned = true
		case 7:
			st.Message = "2 objects drifted"
		}
		b.snap.Apps = append(b.snap.Apps, st)
		b.apps = append(b.apps, deploy.App{Name: st.Name, RepoURL: benchRepo, Branch: "main", Path: "apps/" + st.Name})
	}
	for i := range objects {
		b.status.Objects = append(b.status.Objects, deploy.ObjectResult{ObjectKey: deploy.ObjectKey{Group: "apps", Kind: []string{"Deployment", "Service", "ConfigMap", "Secret", "Ingress"}[i%5], Namespace: "prod", Name: fmt.Sprintf("obj-%02d", i)}, Health: "Current"})
	}
	scan := &server.ScanStatus{Files: 3 * policies, Parsed: 3 * policies}
	for i := range policies {
		p := server.PolicyStatus{Name: fmt.Sprintf("policy-%03d", i), Image: fmt.Sprintf("ghcr.io/acme/svc-%03d", i), Strategy: "semver", Tag: "1.4.2",
			Digest: "sha256:" + strings.Repeat("ab", 32), PushedAt: now, TagsSeen: 40, TagsMatched: 12}
		for j := range 3 {
			app := b.apps[(i*3+j)%len(b.apps)]
			p.References = append(p.References, server.ReferenceStatus{File: app.Path + "/deployment.yaml", Line: 21, Object: "Deployment/prod/web", Current: "1.4.1", Wanted: "1.4.2", Status: "update"})
		}
		scan.Policies = append(scan.Policies, p)
	}
	b.snap.Repos = []server.RepoStatus{{URL: benchRepo, Branch: "main", Scan: scan, LastCycle: &server.CycleInfo{Time: now}}}
	return b
}

func newBenchUI(b testing.TB, be Backend) *UI {
	u, err := New(Options{Backend: be, Local: true})
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// BenchmarkAppListRender renders the rows of 1,000 apps: the work done
// once per change, whatever the number of viewers.
func BenchmarkAppListRender(b *testing.B) {
	be := bigBackend(1000, 50, 200)
	now := time.Now()
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := pages.ExecuteTemplate(&buf, "rows", newAppRows(be.snap.Apps, now)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

// BenchmarkAppListPage serves GET /ui/ with 1,000 apps: what one viewer's
// page load costs the server (the rows are shared; the snapshot is
// compared with the last by fingerprint).
func BenchmarkAppListPage(b *testing.B) {
	benchPage(b, bigBackend(1000, 50, 200), "/ui/")
}

// BenchmarkAppPage serves an app's page with 50 objects.
func BenchmarkAppPage(b *testing.B) {
	benchPage(b, bigBackend(1000, 50, 200), "/ui/apps/app-0001")
}

// BenchmarkImagesPage serves the images page with 200 policies and the
// pipeline of 1,000 apps.
func BenchmarkImagesPage(b *testing.B) {
	benchPage(b, bigBackend(1000, 50, 200), "/ui/images")
}

// BenchmarkImagesRender renders the images section of 200 policies: the
// work done once per change.
func BenchmarkImagesRender(b *testing.B) {
	be := bigBackend(1000, 50, 200)
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := pages.ExecuteTemplate(&buf, "policies", newImagesView(be.snap, be.apps)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}

func benchPage(b *testing.B, be Backend, path string) {
	u := newBenchUI(b, be)
	h := u.Handler()
	var n int
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d", path, rec.Code)
		}
		n = rec.Body.Len()
	}
	b.ReportMetric(float64(n), "bytes/page")
}

// BenchmarkFanout publishes a change of the 1,000-app list to N
// subscribers: one render and one format per change; per subscriber only
// a channel send of the same bytes.
func BenchmarkFanout(b *testing.B) {
	be := bigBackend(1000, 50, 200)
	var rows bytes.Buffer
	if err := pages.ExecuteTemplate(&rows, "rows", newAppRows(be.snap.Apps, time.Now())); err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			bc := NewBroadcaster()
			var wg sync.WaitGroup
			for range n {
				s := bc.Subscribe()
				wg.Go(func() {
					for range s.C {
					}
				})
			}
			b.ReportAllocs()
			for b.Loop() {
				bc.Publish("apps", "v", rows.Bytes())
			}
			bc.Close()
			wg.Wait()
		})
	}
}

// BenchmarkSSE100 is the whole path over HTTP: a change published to 100
// open /api/v1/events streams, timed until every stream has read it.
func BenchmarkSSE100(b *testing.B) {
	const viewers = 100
	be := bigBackend(1000, 50, 200)
	u := newBenchUI(b, be)
	srv := httptest.NewServer(u.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan struct{}, viewers*4)
	var wg sync.WaitGroup
	for range viewers {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events", nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer resp.Body.Close()
			r := bufio.NewReaderSize(resp.Body, 1<<20)
			for {
				line, err := r.ReadSlice('\n')
				if err == bufio.ErrBufferFull {
					continue
				}
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("event: bench")) {
					got <- struct{}{}
				}
			}
		})
	}
	for u.bc.Subscribers() < viewers {
		time.Sleep(time.Millisecond)
	}
	var rows bytes.Buffer
	_ = pages.ExecuteTemplate(&rows, "rows", newAppRows(be.snap.Apps, time.Now()))
	b.ReportAllocs()
	for b.Loop() {
		u.bc.Publish("bench", "v", rows.Bytes())
		for range viewers {
			<-got
		}
	}
	b.ReportMetric(float64(rows.Len()), "bytes/event")
	cancel()
	u.bc.Close()
	wg.Wait()
	_ = io.Discard
}

// NewBigBackend is bigBackend for the browser timing of package ui_test.
var NewBigBackend = func(apps, objects, policies int) Backend { return bigBackend(apps, objects, policies) }
