package main

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// apiRecorder is a TLS reverse proxy in front of the test API server that
// records what a client sends: when each request arrived and how many
// short requests (not watches) were in flight at once. Each short request
// is held 30 ms, so that parallel requests overlap visibly.
type apiRecorder struct {
	mu       sync.Mutex
	inflight int
	max      int
	arrivals []time.Time
}

func (r *apiRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inflight, r.max, r.arrivals = 0, 0, nil
}

// stats returns the requests seen, the time from the first to the last,
// and the most short requests in flight at once.
func (r *apiRecorder) stats() (n int, span time.Duration, maxInflight int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.arrivals) > 1 {
		span = r.arrivals[len(r.arrivals)-1].Sub(r.arrivals[0])
	}
	return len(r.arrivals), span, r.max
}

// proxyKubeconfig starts the recorder in front of c and writes a
// kubeconfig that reaches c through it.
func proxyKubeconfig(t *testing.T, c *kube.Cluster) (string, *apiRecorder) {
	t.Helper()
	upstream, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	rec := &apiRecorder{}
	rp := httputil.NewSingleHostReverseProxy(upstream)
	// Test-only hop on loopback: the recorder trusts the test API server.
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	rp.FlushInterval = -1
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		watch := req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1"
		rec.mu.Lock()
		rec.arrivals = append(rec.arrivals, time.Now())
		if !watch {
			rec.inflight++
			rec.max = max(rec.max, rec.inflight)
		}
		rec.mu.Unlock()
		if !watch {
			defer func() {
				rec.mu.Lock()
				rec.inflight--
				rec.mu.Unlock()
			}()
			time.Sleep(30 * time.Millisecond)
		}
		rp.ServeHTTP(w, req)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for _, cl := range cfg.Clusters {
		cl.Server, cl.CertificateAuthorityData = srv.URL, ca
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path, rec
}

// TestSyncLoadOnTheAPIServer: the README's "Load on the API server", as a
// user runs it. A sync keeps at most --concurrency requests in flight,
// sets no client-side rate by default, and --kube-qps / --kube-burst add
// one.
func TestSyncLoadOnTheAPIServer(t *testing.T) {
	c := kube.Start(t)
	ns := c.Namespace(t)
	kubeconfig, rec := proxyKubeconfig(t, c)
	const objects = 12
	files := func(v string) map[string]string {
		m := map[string]string{}
		for i := range objects {
			m[fmt.Sprintf("app/cm-%02d.yaml", i)] = cm(fmt.Sprintf("cm-%02d", i), v)
		}
		return m
	}
	git := gitserver.New(t)
	first := files("1")
	first[".ferry/apps.yaml"] = appsYAML(ns)
	url := git.CreateRepo("manifests", first)
	sync := func(v string, flags ...string) (n int, span time.Duration, maxInflight int) {
		t.Helper()
		if v != "1" {
			git.Commit("manifests", "main", "v"+v, files(v))
		}
		rec.reset()
		args := append([]string{"sync", "web", "--repo", url, "--kubeconfig", kubeconfig}, flags...)
		code, out, errs := run(t, args...)
		if code != 0 || !strings.Contains(out, fmt.Sprint(objects)) {
			t.Fatalf("ferry %s: exit %d\n%s\n%s", strings.Join(args, " "), code, out, errs)
		}
		return rec.stats()
	}

	// --concurrency bounds the requests in flight.
	n, span, inflight := sync("1", "--concurrency", "2")
	t.Logf("first sync, --concurrency 2: %d requests in %v, at most %d in flight", n, span, inflight)
	if inflight > 2 || n < 2*objects {
		t.Errorf("--concurrency 2: %d short requests in flight at once (want at most 2), %d requests", inflight, n)
	}

	// The defaults: up to 16 in flight, and no client-side rate: the
	// requests come faster than 5 a second.
	n, span, inflight = sync("2")
	t.Logf("sync of a change, defaults: %d requests in %v, at most %d in flight", n, span, inflight)
	if inflight < 3 || inflight > 16 {
		t.Errorf("defaults: %d short requests in flight at most; want parallel requests, at most 16", inflight)
	}
	if limited := time.Duration(n-2) * time.Second / 5; span >= limited {
		t.Errorf("defaults: %d requests took %v, as slow as a 5/s client rate would make them (%v)", n, span, limited)
	}

	// --kube-qps 5 --kube-burst 1: a token bucket lets at most 1 + 5·t
	// requests through in t seconds.
	n, span, _ = sync("3", "--kube-qps", "5", "--kube-burst", "1")
	t.Logf("sync of a change, --kube-qps 5 --kube-burst 1: %d requests in %v", n, span)
	if least := time.Duration(n-2) * time.Second / 5; span < least {
		t.Errorf("--kube-qps 5: %d requests in %v; a 5/s rate needs at least %v", n, span, least)
	}
}
