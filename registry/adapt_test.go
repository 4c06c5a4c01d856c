package registry

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv/ociregistry"
)

func TestProfileFor(t *testing.T) {
	tests := []struct {
		host string
		ecr  bool
		want string
	}{
		{"index.docker.io", false, "docker-hub"},
		{"registry-1.docker.io:443", false, "docker-hub"},
		{"auth.docker.io", false, "docker-hub"},
		{"GHCR.io", false, "ghcr"},
		{"ghcr.io.example.com", false, "oci"},
		{"127.0.0.1:5000", false, "oci"},
		{"api.ecr.eu-west-1.amazonaws.com", true, "ecr-api"},
		{"127.0.0.1:4566", true, "ecr-api"}, // an endpoint override is still the ECR API
	}
	for _, tt := range tests {
		if got := ProfileFor(tt.host, tt.ecr).Kind; got != tt.want {
			t.Errorf("ProfileFor(%q, %v) = %s, want %s", tt.host, tt.ecr, got, tt.want)
		}
	}
}

func TestCapsBoundTheProfile(t *testing.T) {
	s := newHostState(profileDockerHub, Limits{}, minRate)
	if s.maxRate != 25 || s.maxConc != 8 || s.window != 8 {
		t.Fatalf("docker hub defaults: rate %v, concurrency %v, window %v", s.maxRate, s.maxConc, s.window)
	}
	s = newHostState(profileGeneric, Limits{RatePerSecond: 5, Concurrency: 2}, minRate)
	if s.maxRate != 5 || s.maxConc != 2 || s.window != 2 {
		t.Fatalf("capped: rate %v, concurrency %v, window %v", s.maxRate, s.maxConc, s.window)
	}
	for range 100 {
		s.succeeded()
	}
	if s.window != 2 || s.rate != 5 {
		t.Fatalf("grew past the caps: window %v, rate %v", s.window, s.rate)
	}
}

func TestWindowSlowStartThenHalvesOncePerWindow(t *testing.T) {
	s := newHostState(profileGeneric, Limits{}, minRate)
	if !math.IsInf(s.rate, 1) || s.window != 8 {
		t.Fatalf("start: rate %v, window %v", s.rate, s.window)
	}
	t0 := time.Unix(1000, 0)
	for i := range 10 {
		s.started(t0.Add(time.Duration(i) * time.Millisecond))
		s.succeeded()
	}
	if s.window != 18 {
		t.Fatalf("slow start: window %v after 10 successes from 8, want 18", s.window)
	}
	// Three throttled answers to requests sent before the first of them
	// halve once.
	for range 3 {
		s.throttledAt(t0, t0.Add(time.Second/2))
	}
	if s.window != 9 || s.rate != 5 {
		t.Fatalf("after one halving: window %v, rate %v (10 sent in the last second: rate 5)", s.window, s.rate)
	}
	// A request sent after the halving, throttled too: halves again.
	s.throttledAt(t0.Add(time.Second), t0.Add(time.Second))
	if s.window != 4 || s.rate != 2.5 {
		t.Fatalf("after two halvings: window %v, rate %v", s.window, s.rate)
	}
	// Now growth is additive: a window's worth of successes adds one.
	for range 4 {
		s.succeeded()
	}
	if s.window < 4.9 || s.window > 5.1 {
		t.Fatalf("congestion avoidance: window %v after 4 successes at 4, want about 5", s.window)
	}
	if st := s.stats(); st.Throttled != 4 || st.Concurrency != 4 || st.RatePerSecond == 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestStormLosesNothing lists 120 repositories while the registry answers
// 429 to the next 150 requests: every listing completes, the host's window
// and rate came down, and each request was retried rather than failed.
func TestStormLosesNothing(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New()
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	repos := seedMany(t, srv, "storm/app%03d", 120, "v1", "v2", "v3")
	c := New(Options{Limits: Limits{BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}})
	// A storm counted in answers, not in time: at the production floor of
	// one request per second it would take minutes (the halving itself is
	// TestWindowSlowStartThenHalvesOncePerWindow's).
	c.transport.minRate = 200
	var (
		mu    sync.Mutex
		waits int
	)
	c.transport.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		waits++
		mu.Unlock()
		time.Sleep(d)
		return ctx.Err()
	}
	before := srv.Requests()
	srv.FailNext(150, 429, "0")
	for _, l := range c.List(ctx, repos) {
		if l.Err != nil || len(l.Tags) != 3 {
			t.Fatalf("%s: %d tags, err %v", l.Repository, len(l.Tags), l.Err)
		}
	}
	st := c.Stats().Hosts[srv.Host]
	if st.Throttled != 150 || st.Retries != 150 || st.Errors != 0 || waits != 150 {
		t.Errorf("stats %+v, %d waits: want 150 throttled answers, each retried", st, waits)
	}
	// One ping and 120 tags/list, plus the 150 refused.
	if n := srv.Requests() - before; n != 1+120+150 {
		t.Errorf("server saw %d requests, want %d", n, 1+120+150)
	}
	if st.RatePerSecond == 0 || st.Concurrency >= 32 {
		t.Errorf("the storm left the rate unlimited or the window wide open: %+v", st)
	}
}

// TestOnePingPerRegistry lists 120 repositories of a bearer-token registry
// (three tokens of 50 scopes) and resolves a digest: one ping in all.
func TestOnePingPerRegistry(t *testing.T) {
	ctx := context.Background()
	srv := ociregistry.New(ociregistry.WithBearerTokens())
	defer srv.Close()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	repos := seedMany(t, srv, "org/app%03d", 120, "v1")
	c := New(Options{Limits: fastLimits})
	requests, tokens, lists := srv.Requests(), srv.TokenRequests(), srv.TagLists()
	for _, l := range c.List(ctx, repos) {
		if l.Err != nil {
			t.Fatal(l.Err)
		}
	}
	if _, err := c.Digest(ctx, repos[0], "v1"); err != nil {
		t.Fatal(err)
	}
	// The rest is the digest's HEAD (its token was fetched before it).
	pings := (srv.Requests() - requests) - (srv.TokenRequests() - tokens) - (srv.TagLists() - lists) - 1
	if pings != 1 {
		t.Errorf("%d pings, want 1 (requests %d, tokens %d, lists %d)", pings,
			srv.Requests()-requests, srv.TokenRequests()-tokens, srv.TagLists()-lists)
	}
}
