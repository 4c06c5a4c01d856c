package registry

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Profile is how hard Ferry may call one kind of registry: the ceilings the
// adaptive limits grow up to, and where they start. Ceilings come from what
// the provider publishes; where it publishes nothing, from restraint.
type Profile struct {
	Kind string
	// Rate is the ceiling in requests per second; 0 means none (the
	// concurrency window and the registry's answers set the pace).
	Rate float64
	// Concurrency is the ceiling of requests in flight.
	Concurrency int
	// Start is the concurrency window at the first request.
	Start int
}

// The profiles per kind of registry. Requests per second are per registry
// host and per Ferry process.
//
//   - Docker Hub (index.docker.io, registry-1.docker.io, auth.docker.io):
//     Docker documents an abuse rate limit on every request "in the order
//     of thousands of requests per minute" per IPv4 address or IPv6 /64
//     (https://docs.docker.com/docker-hub/usage/#abuse-rate-limit); the
//     hourly pull limits count manifest GETs, which a scan does not make
//     (https://docs.docker.com/docker-hub/usage/pulls/). Ferry stays at
//     25 requests per second (1,500 a minute), 8 in flight.
//   - GHCR (ghcr.io): GitHub publishes no quota for the registry (an open
//     request to document one: github/docs#24504); its 429 answers say
//     "allowed: 2000/minute" (chainguard-images/images#173). Ferry stays at
//     30 requests per second (1,800 a minute), 8 in flight.
//   - ECR API (DescribeImages, through the AWS SDK): AWS publishes rate
//     quotas only for the authentication, push and pull APIs (for example
//     GetAuthorizationToken 200 and BatchGetImage 2,000 per second,
//     https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html),
//     none for DescribeImages or ListImages, which AWS throttles per
//     account and region with ThrottlingException. No fixed ceiling: 4 in
//     flight at first, up to 16, and the throttling answers set the pace.
//   - Any other registry (distribution, Harbor, Quay, Artifactory, a local
//     one): no published quota to follow; 8 in flight at first, up to 32,
//     and 429/503 answers set the pace.
var (
	profileDockerHub = Profile{Kind: "docker-hub", Rate: 25, Concurrency: 8, Start: 8}
	profileGHCR      = Profile{Kind: "ghcr", Rate: 30, Concurrency: 8, Start: 8}
	profileECR       = Profile{Kind: "ecr-api", Concurrency: 16, Start: 4}
	profileGeneric   = Profile{Kind: "oci", Concurrency: 32, Start: 8}
)

// ProfileFor returns the profile of a registry host ("host" or
// "host:port"); ecr says the requests are ECR API calls.
func ProfileFor(host string, ecr bool) Profile {
	if ecr {
		return profileECR
	}
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	switch h {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "auth.docker.io", "registry.hub.docker.com":
		return profileDockerHub
	case "ghcr.io":
		return profileGHCR
	}
	return profileGeneric
}

// kindKey marks a request's context with the kind of call it is.
type kindKey struct{}

// ecrTransport marks the ECR API client's requests, so that the Transport
// applies the ECR profile to their host (the API endpoint, or an override).
type ecrTransport struct{ t *Transport }

func (e ecrTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return e.t.RoundTrip(req.WithContext(context.WithValue(req.Context(), kindKey{}, "ecr")))
}

// minRate is the least rate a throttled host is slowed to, in requests per
// second; Retry-After answers can still hold it back longer.
const minRate = 1.0

// hostState is one registry host's adaptive limits and counters, managed
// like TCP's congestion window (AIMD). Until the registry first throttles
// (429, 503, an AWS throttling error), every success widens the
// concurrency window by one (slow start, up to the ceiling); a throttling
// answer halves the window and the rate, and from then on they grow
// additively: the window by one per window of successes, the rate by about
// one request per second each second. There is one halving per window of
// requests, as answers to requests sent before the last halving say
// nothing about the new limits.
type hostState struct {
	profile Profile
	maxConc float64
	maxRate float64 // +Inf: none
	minRate float64

	mu           sync.Mutex
	window       float64
	inflight     int
	changed      chan struct{} // closed when a slot may have become free
	rate         float64       // +Inf: none
	limiter      *rate.Limiter
	lastDecrease time.Time // zero until the first throttling answer: slow start
	bucket       time.Time // start of the current one-second bucket of sends
	sent, prev   int       // sends in the current and the previous bucket

	requests, retries, errors, throttled int64
}

func newHostState(p Profile, l Limits, floor float64) *hostState {
	s := &hostState{profile: p, changed: make(chan struct{}), minRate: floor}
	s.maxConc = float64(p.Concurrency)
	if l.Concurrency > 0 {
		s.maxConc = float64(l.Concurrency)
	}
	s.window = min(float64(max(p.Start, 1)), s.maxConc)
	s.maxRate = math.Inf(1)
	if p.Rate > 0 {
		s.maxRate = p.Rate
	}
	if l.RatePerSecond > 0 {
		s.maxRate = l.RatePerSecond
	}
	s.rate = s.maxRate
	burst := l.Burst
	if burst <= 0 {
		burst = int(s.maxConc)
	}
	s.limiter = rate.NewLimiter(limitOf(s.rate), max(burst, 1))
	return s
}

func limitOf(r float64) rate.Limit {
	if math.IsInf(r, 1) {
		return rate.Inf
	}
	return rate.Limit(r)
}

// acquire waits for a slot in the concurrency window.
func (s *hostState) acquire(ctx context.Context) error {
	for {
		s.mu.Lock()
		if float64(s.inflight) < math.Floor(s.window) {
			s.inflight++
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *hostState) release() {
	s.mu.Lock()
	s.inflight--
	s.signalLocked()
	s.mu.Unlock()
}

func (s *hostState) signalLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// started counts a request sent at now.
func (s *hostState) started(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	switch d := now.Sub(s.bucket); {
	case d >= 2*time.Second:
		s.bucket, s.prev, s.sent = now, 0, 0
	case d >= time.Second:
		s.bucket, s.prev, s.sent = s.bucket.Add(time.Second), s.sent, 0
	}
	s.sent++
}

// succeeded grows the window and the rate after an answer that was not a
// throttling one.
func (s *hostState) succeeded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.window < s.maxConc {
		step := 1 / s.window
		if s.lastDecrease.IsZero() {
			step = 1
		}
		s.window = min(s.maxConc, s.window+step)
		s.signalLocked()
	}
	if s.rate < s.maxRate {
		s.rate = min(s.maxRate, s.rate+1/max(s.rate, 1))
		s.limiter.SetLimit(limitOf(s.rate))
	}
}

// throttledAt shrinks the window and the rate after a throttling answer to a
// request sent at sent.
func (s *hostState) throttledAt(sent, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttled++
	if sent.Before(s.lastDecrease) {
		return
	}
	s.lastDecrease = now
	s.window = max(1, math.Floor(s.window/2))
	observed := float64(max(s.sent, s.prev))
	s.rate = max(s.minRate, min(s.rate, observed)/2)
	s.limiter.SetLimit(limitOf(s.rate))
}

func (s *hostState) stats() HostStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := HostStats{Requests: s.requests, Retries: s.retries, Errors: s.errors, Throttled: s.throttled,
		Kind: s.profile.Kind, Concurrency: int(s.window)}
	if !math.IsInf(s.rate, 1) {
		h.RatePerSecond = math.Round(s.rate*10) / 10
	}
	return h
}
