package forge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ferrygitops/ferry/internal/retry"
)

// Backoff of retried server errors: from backoffBase, doubling, at most
// backoffCap, with jitter.
const (
	backoffBase = time.Second
	backoffCap  = 30 * time.Second
	// secondaryMinWait is the least GitHub asks to wait after a secondary
	// rate limit that names no time: "wait for at least one minute".
	secondaryMinWait = time.Minute
)

// credentials gives the Authorization header of a request.
type credentials interface {
	// header returns the Authorization header value.
	header(ctx context.Context) (string, error)
	// invalidate forgets header's token after a 401, if it can get a new
	// one; it reports whether a retry may succeed.
	invalidate(header string) bool
}

// staticToken is a personal access token or any other fixed token.
type staticToken string

func (t staticToken) header(context.Context) (string, error) { return "Bearer " + string(t), nil }
func (staticToken) invalidate(string) bool                   { return false }

// counters are the transport's statistics.
type counters struct {
	requests, writes, retries atomic.Int64
	waited                    atomic.Int64 // nanoseconds
}

// transport authenticates requests to the API host and retries them as
// GitHub asks (with internal/retry): after a secondary rate limit's
// Retry-After, after the primary rate limit's reset, and after 5xx answers
// with capped exponential backoff and jitter. It replays request bodies. It
// is safe for concurrent use.
type transport struct {
	base       http.RoundTripper
	creds      credentials
	apiHost    string // the only host that gets credentials
	maxRetries int
	maxWait    time.Duration
	sleep      func(ctx context.Context, d time.Duration) error
	now        func() time.Time
	stats      *counters
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// idempotent methods are retried after a transport error; a POST may have
// been applied, so it is not.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	}
	return false
}

// replayable returns a function giving a fresh copy of req's body for each
// attempt (nil if it has none), and closes req's own body.
func replayable(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		req.Body.Close()
		return req.GetBody, nil
	}
	data, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, nil
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	body, err := replayable(req)
	if err != nil {
		return nil, err
	}
	var (
		resp         *http.Response
		rerr         error
		reauthorized bool
	)
	policy := t.policy()
	policy.Notify = func(_ int, wait time.Duration) {
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
		}
		t.stats.retries.Add(1)
		if wait > 0 {
			t.stats.waited.Add(int64(wait))
		}
	}
	derr := policy.Do(ctx, func(int) retry.Verdict {
		resp, rerr = nil, nil
		r := req.Clone(ctx)
		if body != nil {
			if r.Body, rerr = body(); rerr != nil {
				return retry.Stop()
			}
		}
		if t.creds != nil && strings.EqualFold(r.URL.Host, t.apiHost) {
			h, err := t.creds.header(ctx)
			if err != nil {
				rerr = err
				return retry.Stop()
			}
			r.Header.Set("Authorization", h)
		}
		t.stats.requests.Add(1)
		if isWrite(r.Method) {
			t.stats.writes.Add(1)
		}
		resp, rerr = t.base.RoundTrip(r)
		if rerr != nil {
			if ctx.Err() != nil || !idempotent(r.Method) {
				return retry.Stop()
			}
			return retry.Again()
		}
		if resp.StatusCode == http.StatusUnauthorized && !reauthorized && t.creds != nil &&
			t.creds.invalidate(r.Header.Get("Authorization")) {
			// An installation token revoked or expired early: mint a
			// new one, once.
			reauthorized = true
			return retry.Now()
		}
		return t.verdict(resp)
	})
	if derr != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return nil, derr
	}
	return resp, rerr
}

// policy is the transport's retry policy, without Notify.
func (t *transport) policy() retry.Policy {
	return retry.Policy{Base: backoffBase, Cap: backoffCap, MaxRetries: t.maxRetries, Sleep: t.sleep}
}

// verdict decides whether resp is worth retrying and after how long.
// Rate limits are retried only if the wait is at most maxWait: otherwise the
// answer goes back to the caller as the error it is.
func (t *transport) verdict(resp *http.Response) retry.Verdict {
	switch code := resp.StatusCode; {
	case code == http.StatusForbidden || code == http.StatusTooManyRequests:
		var wait time.Duration
		switch {
		case resp.Header.Get("Retry-After") != "":
			// A secondary rate limit.
			d, ok := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), t.now())
			if !ok {
				return retry.Stop()
			}
			wait = d
		case resp.Header.Get("X-RateLimit-Remaining") == "0":
			// The primary rate limit: wait for the reset (a second more,
			// as the reset is rounded to seconds).
			reset, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
			if err != nil {
				return retry.Stop()
			}
			wait = max(time.Unix(reset, 0).Sub(t.now())+time.Second, time.Second)
		case code == http.StatusTooManyRequests || secondaryLimited(resp):
			wait = secondaryMinWait
		default:
			return retry.Stop() // a permission error
		}
		if wait > t.maxWait {
			return retry.Stop()
		}
		return retry.AtLeast(wait)
	case code == http.StatusInternalServerError || code == http.StatusBadGateway ||
		code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout:
		d, _ := retry.ParseRetryAfter(resp.Header.Get("Retry-After"), t.now())
		if d > t.maxWait {
			return retry.Stop()
		}
		return retry.AtLeast(d)
	}
	return retry.Stop()
}

// secondaryLimited reports whether a 403 is a secondary rate limit that came
// without Retry-After, by its message. It leaves resp's body readable.
func secondaryLimited(resp *http.Response) bool {
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return false
	}
	msg := strings.ToLower(string(data))
	return strings.Contains(msg, "secondary rate limit") || strings.Contains(msg, "abuse detection")
}
