package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limits configure the Transport. The zero value of a field means its default.
type Limits struct {
	RatePerSecond float64       // requests per second per registry host; default 20
	Burst         int           // default 10
	Concurrency   int           // in-flight requests per registry host; default 8
	Timeout       time.Duration // per attempt; default 30s
	MaxRetries    int           // retries after the first attempt; default 5; negative: none
	BaseBackoff   time.Duration // default 200ms
	MaxBackoff    time.Duration // cap of one wait, Retry-After included; default 30s
}

func (l Limits) withDefaults() Limits {
	if l.RatePerSecond <= 0 {
		l.RatePerSecond = 20
	}
	if l.Burst <= 0 {
		l.Burst = 10
	}
	if l.Concurrency <= 0 {
		l.Concurrency = 8
	}
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
	return l
}

// Stats counts what a Transport did, per registry host.
type Stats struct {
	Hosts map[string]HostStats `json:"hosts"`
}

// HostStats are the counters of one registry host.
type HostStats struct {
	Requests int64 `json:"requests"` // HTTP requests sent, retries included
	Retries  int64 `json:"retries"`
	Errors   int64 `json:"errors"` // requests that finally failed (error or non-2xx/3xx)
}

// Total sums the counters of every host.
func (s Stats) Total() HostStats {
	var t HostStats
	for _, h := range s.Hosts {
		t.Requests += h.Requests
		t.Retries += h.Retries
		t.Errors += h.Errors
	}
	return t
}

// Transport is the one place every registry request goes through. It is safe
// for concurrent use; one Transport is meant to serve a whole process.
//
// It retries any method, POST included, on transient failures: that is
// right for registry reads (tags/list, manifests HEAD, the ECR API's
// Describe/List calls), the only calls Ferry makes through it. Do not route
// non-idempotent writes through it.
type Transport struct {
	inner  http.RoundTripper
	limits Limits
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func() float64

	mu    sync.Mutex
	hosts map[string]*hostState
	// OnRequest, if set, is called after every attempt (for metrics).
	OnRequest func(host string, status int, err error)
	// plainHTTP, if set, names hosts served over plain HTTP: go-containerregistry
	// probes them over HTTPS too, and those probes are passed through
	// uncounted, unlimited and never retried.
	plainHTTP func(host string) bool
}

type hostState struct {
	limiter  *rate.Limiter
	sem      chan struct{}
	requests atomic.Int64
	retries  atomic.Int64
	errors   atomic.Int64
}

// NewTransport wraps inner (nil: a clone of http.DefaultTransport).
func NewTransport(inner http.RoundTripper, limits Limits) *Transport {
	if inner == nil {
		inner = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Transport{
		inner:  inner,
		limits: limits.withDefaults(),
		sleep:  sleepCtx,
		jitter: rand.Float64,
		hosts:  map[string]*hostState{},
	}
}

func (t *Transport) host(h string) *hostState {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.hosts[h]
	if !ok {
		s = &hostState{
			limiter: rate.NewLimiter(rate.Limit(t.limits.RatePerSecond), t.limits.Burst),
			sem:     make(chan struct{}, t.limits.Concurrency),
		}
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
		out.Hosts[h] = HostStats{Requests: s.requests.Load(), Retries: s.retries.Load(), Errors: s.errors.Load()}
	}
	return out
}

// RoundTrip sends req, waiting for the host's rate limit and concurrency
// slot, and retries it when the failure is transient.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if req.URL.Scheme == "https" && t.plainHTTP != nil && t.plainHTTP(req.URL.Host) {
		return t.inner.RoundTrip(req)
	}
	hs := t.host(strings.ToLower(req.URL.Host))

	body, err := replayableBody(req)
	if err != nil {
		return nil, fmt.Errorf("buffering request body for %s: %w", req.URL.Host, err)
	}

	for attempt := 0; ; attempt++ {
		if err := hs.limiter.Wait(ctx); err != nil {
			hs.errors.Add(1)
			return nil, err
		}
		resp, err := t.attempt(ctx, hs, req, body)
		retry, wait := t.classify(resp, err, attempt)
		if !retry || attempt >= t.limits.MaxRetries || ctx.Err() != nil {
			if err != nil || resp.StatusCode >= 400 {
				hs.errors.Add(1)
			}
			return resp, err
		}
		if resp != nil {
			// Drain a little so the connection can be reused, then drop it.
			_, _ = io.CopyN(io.Discard, resp.Body, 4096)
			resp.Body.Close()
		}
		hs.retries.Add(1)
		if err := t.sleep(ctx, wait); err != nil {
			hs.errors.Add(1)
			return nil, err
		}
	}
}

func (t *Transport) attempt(ctx context.Context, hs *hostState, req *http.Request, body []byte) (*http.Response, error) {
	select {
	case hs.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	actx, cancel := context.WithTimeout(ctx, t.limits.Timeout)
	r := req.Clone(actx)
	if body != nil {
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	hs.requests.Add(1)
	resp, err := t.inner.RoundTrip(r)
	<-hs.sem
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

// classify says whether an attempt's outcome is worth retrying and how long
// to wait first.
func (t *Transport) classify(resp *http.Response, err error, attempt int) (bool, time.Duration) {
	backoff := t.backoff(attempt)
	if err != nil {
		var nerr net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout() ||
			errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isConnReset(err) {
			return true, backoff
		}
		return false, 0
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented && resp.StatusCode != http.StatusHTTPVersionNotSupported:
	case resp.StatusCode == http.StatusBadRequest && isAWSThrottle(resp):
	default:
		return false, 0
	}
	if ra, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
		return true, min(ra, t.limits.MaxBackoff)
	}
	return true, backoff
}

// backoff is capped exponential backoff with full jitter: a random wait in
// [base*2^attempt / 2, base*2^attempt], capped at MaxBackoff.
func (t *Transport) backoff(attempt int) time.Duration {
	d := t.limits.BaseBackoff << min(attempt, 20)
	if d <= 0 || d > t.limits.MaxBackoff {
		d = t.limits.MaxBackoff
	}
	half := d / 2
	return half + time.Duration(t.jitter()*float64(d-half))
}

func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if when, err := http.ParseTime(v); err == nil {
		d := time.Until(when)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
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

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
