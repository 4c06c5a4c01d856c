package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ferrygitops/ferry/internal/retry"
)

// Limits configure the Transport. The zero value of a field means its
// default.
type Limits struct {
	// RatePerSecond caps the requests per second to each registry host;
	// 0 leaves the host's profile ceiling (see ProfileFor), which the
	// adaptive rate never exceeds.
	RatePerSecond float64
	// Burst is the rate limiter's burst; default the concurrency ceiling.
	Burst int
	// Concurrency caps the requests in flight to each registry host; 0
	// leaves the host's profile ceiling.
	Concurrency int
	Timeout     time.Duration // per attempt; default 30s
	// MaxRetries bounds the retries of one request after failures other
	// than 429 (5xx, 503 included, AWS throttling errors, timeouts);
	// default 5; negative: none.
	MaxRetries  int
	BaseBackoff time.Duration // default 200ms
	MaxBackoff  time.Duration // cap of one wait, Retry-After included; default 30s
	// ThrottleBudget bounds the time one request waits on 429 answers
	// before failing (default 2m): a 429 storm slows the scan down and
	// loses nothing, however many answers it takes, while a registry that
	// never lets up still ends the request.
	ThrottleBudget time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.Timeout <= 0 {
		l.Timeout = 30 * time.Second
	}
	if l.MaxRetries == 0 {
		l.MaxRetries = 5
	} else if l.MaxRetries < 0 {
		l.MaxRetries = 0
	}
	if l.BaseBackoff <= 0 {
		l.BaseBackoff = 200 * time.Millisecond
	}
	if l.MaxBackoff <= 0 {
		l.MaxBackoff = 30 * time.Second
	}
	if l.ThrottleBudget <= 0 {
		l.ThrottleBudget = 2 * time.Minute
	}
	return l
}

// Stats counts what a Transport did, per registry host.
type Stats struct {
	Hosts map[string]HostStats `json:"hosts"`
}

// HostStats are the counters of one registry host, and its adaptive limits
// as they stand.
type HostStats struct {
	Requests  int64 `json:"requests"` // HTTP requests sent, retries included
	Retries   int64 `json:"retries"`
	Errors    int64 `json:"errors"`              // requests that finally failed (error or non-2xx/3xx)
	Throttled int64 `json:"throttled,omitempty"` // answers that asked to slow down (429, 503, AWS throttling)
	// Kind is the host's profile (see ProfileFor); Concurrency and
	// RatePerSecond its current window and rate (0: no rate limit).
	Kind          string  `json:"kind,omitempty"`
	Concurrency   int     `json:"concurrency,omitempty"`
	RatePerSecond float64 `json:"ratePerSecond,omitempty"`
}

// Total sums the counters of every host.
func (s Stats) Total() HostStats {
	var t HostStats
	for _, h := range s.Hosts {
		t.Requests += h.Requests
		t.Retries += h.Retries
		t.Errors += h.Errors
		t.Throttled += h.Throttled
	}
	return t
}

// Transport is the one place every registry request goes through. It is safe
// for concurrent use; one Transport is meant to serve a whole process.
//
// Per registry host, it keeps requests within an adaptive concurrency
// window and rate (see hostState and ProfileFor), holding a request's slot
// while it waits to retry, so that a Retry-After holds back the host's
// other requests too; it retries transient failures with internal/retry
// (capped exponential backoff with jitter, Retry-After honoured up to
// MaxBackoff), and counts the calls made.
//
// It retries any method, POST included, on transient failures: that is
// right for registry reads (tags/list, manifests HEAD, the ECR API's
// Describe/List calls), the only calls Ferry makes through it. Do not route
// non-idempotent writes through it.
type Transport struct {
	inner  http.RoundTripper
	limits Limits
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	// minRate is the floor of an adaptive rate (minRate; tests raise it
	// so that a storm of injected faults does not take minutes).
	minRate float64

	mu    sync.Mutex
	hosts map[string]*hostState
	// OnRequest, if set, is called after every attempt (for metrics).
	OnRequest func(host string, status int, err error)
	// plainHTTP, if set, names hosts served over plain HTTP: go-containerregistry
	// probes them over HTTPS too, and those probes are passed through
	// uncounted, unlimited and never retried.
	plainHTTP func(host string) bool
}

// NewTransport wraps inner (nil: a clone of http.DefaultTransport).
func NewTransport(inner http.RoundTripper, limits Limits) *Transport {
	if inner == nil {
		inner = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Transport{
		inner:   inner,
		limits:  limits.withDefaults(),
		sleep:   retry.Sleep,
		now:     time.Now,
		minRate: minRate,
		hosts:   map[string]*hostState{},
	}
}

func (t *Transport) host(h string, ecr bool) *hostState {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.hosts[h]
	if !ok {
		s = newHostState(ProfileFor(h, ecr), t.limits, t.minRate)
		t.hosts[h] = s
	}
	return s
}

// Stats returns a snapshot of the counters.
func (t *Transport) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := Stats{Hosts: make(map[string]HostStats, len(t.hosts))}
	for h, s := range t.hosts {
		out.Hosts[h] = s.stats()
	}
	return out
}

// RoundTrip sends req within the host's window and rate, and retries it
// when the failure is transient.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.URL.Scheme == "https" && t.plainHTTP != nil && t.plainHTTP(req.URL.Host) {
		return t.inner.RoundTrip(req)
	}
	hs := t.host(strings.ToLower(req.URL.Host), ctx.Value(kindKey{}) == "ecr")

	body, err := replayableBody(req)
	if err != nil {
		return nil, fmt.Errorf("buffering request body for %s: %w", req.URL.Host, err)
	}
	if err := hs.acquire(ctx); err != nil {
		hs.count(func() { hs.errors++ })
		return nil, err
	}
	defer hs.release()

	var (
		resp     *http.Response
		rerr     error
		tooMany  bool          // the last answer was a 429
		failures int           // retried failures other than 429
		waited   time.Duration // waits after 429 answers
	)
	policy := retry.Policy{Base: t.limits.BaseBackoff, Cap: t.limits.MaxBackoff, MaxRetries: -1,
		Sleep: t.sleep,
		Notify: func(_ int, d time.Duration) {
			if resp != nil {
				// Drain a little so the connection can be reused, then drop it.
				_, _ = io.CopyN(io.Discard, resp.Body, 4096)
				resp.Body.Close()
			}
			if tooMany {
				waited += d
			}
			hs.count(func() { hs.retries++ })
		}}
	derr := policy.Do(ctx, func(int) retry.Verdict {
		if rerr = hs.limiter.Wait(ctx); rerr != nil {
			resp = nil
			return retry.Stop()
		}
		sent := t.now()
		resp, rerr = t.attempt(ctx, hs, req, body)
		v, throttled := t.verdict(resp, rerr)
		if throttled {
			hs.throttledAt(sent, t.now())
		} else if rerr == nil {
			hs.succeeded()
		}
		tooMany = resp != nil && resp.StatusCode == http.StatusTooManyRequests
		switch {
		case !v.Retry():
		case tooMany:
			if waited >= t.limits.ThrottleBudget {
				return retry.Stop()
			}
		default:
			if failures++; failures > t.limits.MaxRetries {
				return retry.Stop()
			}
		}
		return v
	})
	if derr != nil {
		if resp != nil {
			resp.Body.Close()
		}
		resp, rerr = nil, derr
	}
	if rerr != nil || resp.StatusCode >= 400 {
		hs.count(func() { hs.errors++ })
	}
	return resp, rerr
}

// count updates a counter under the host's lock.
func (s *hostState) count(f func()) {
	s.mu.Lock()
	f()
	s.mu.Unlock()
}

func (t *Transport) attempt(ctx context.Context, hs *hostState, req *http.Request, body []byte) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.limits.Timeout)
	r := req.Clone(actx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	hs.started(t.now())
	resp, err := t.inner.RoundTrip(r)
	if t.OnRequest != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.OnRequest(req.URL.Host, status, err)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	// The attempt's context must live as long as the body is read.
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// verdict says whether an attempt's outcome is worth retrying and how long
// to wait at least, and whether the registry asked to slow down.
func (t *Transport) verdict(resp *http.Response, err error) (v retry.Verdict, throttled bool) {
	if err != nil {
		var nerr net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout() ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isConnReset(err) {
			return retry.Again(), false
		}
		return retry.Stop(), false
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusServiceUnavailable:
		throttled = true
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented && resp.StatusCode != http.StatusHTTPVersionNotSupported:
	case resp.StatusCode == http.StatusBadRequest && isAWSThrottle(resp):
		throttled = true
	default:
		return retry.Stop(), false
	}
	d, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), t.now())
	return retry.AtLeast(min(d, t.limits.MaxBackoff)), throttled
}

// isAWSThrottle reports whether a 400 response is an AWS JSON-protocol
// throttling error, judged by its error code (the X-Amzn-ErrorType header,
// else the body's __type or code); the body is restored for the caller.
func isAWSThrottle(resp *http.Response) bool {
	if v := resp.Header.Get("X-Amzn-Errortype"); v != "" {
		return throttleCode(v)
	}
	if !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		return false
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	rest := resp.Body
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(data), rest), rest}
	if err != nil {
		return false
	}
	var body struct {
		Type string `json:"__type"`
		Code string `json:"code"`
	}
	if json.Unmarshal(data, &body) != nil {
		return false
	}
	if body.Type == "" {
		body.Type = body.Code
	}
	return throttleCode(body.Type)
}

// awsThrottleCodes are the error codes the AWS SDKs treat as throttling.
var awsThrottleCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottledException": true, "TooManyRequestsException": true,
	"ProvisionedThroughputExceededException": true,
	"RequestLimitExceeded":                   true, "BandwidthLimitExceeded": true,
	"RequestThrottled": true, "SlowDown": true, "PriorRequestNotComplete": true,
	"EC2ThrottledException": true,
}

// throttleCode reports whether an AWS error type names a throttling error.
// The type may carry a namespace ("aws.protocols#ThrottlingException") or a
// suffix after ':' (the X-Amzn-ErrorType header form).
func throttleCode(t string) bool {
	t, _, _ = strings.Cut(t, ":")
	if i := strings.LastIndexByte(t, '#'); i >= 0 {
		t = t[i+1:]
	}
	return awsThrottleCodes[strings.TrimSpace(t)]
}

func isConnReset(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe")
}

func replayableBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
