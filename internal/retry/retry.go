package retry

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Policy says how often and how long to retry. The wait before retry n
// (counted from 0) is drawn uniformly from [d/2, d], where
// d = min(Base·2ⁿ, Cap), or is the server's wait when that is longer.
type Policy struct {
	Base time.Duration // the first backoff's upper bound; must be positive
	Cap  time.Duration // the longest backoff; must be positive
	// MaxRetries bounds the retries after the first attempt: 0 means
	// none, negative means no bound other than MaxElapsed and ctx.
	MaxRetries int
	// MaxElapsed, if positive, ends the retries when the next wait would
	// end past it, counted from the first attempt.
	MaxElapsed time.Duration
	// Sleep waits d or until ctx ends (nil: a timer). Tests replace it to
	// record the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Notify, if set, is called before each wait, with the number of the
	// retry about to happen (1 for the first) and the wait.
	Notify func(retry int, wait time.Duration)
	// Now is the clock of MaxElapsed (nil: time.Now).
	Now func() time.Time
}

// Verdict is an operation's answer: done, or worth another attempt and when.
type Verdict struct {
	retry   bool
	now     bool
	atLeast time.Duration
}

// Stop ends the loop: the operation succeeded or failed for good.
func Stop() Verdict { return Verdict{} }

// Again asks for another attempt after the backoff.
func Again() Verdict { return Verdict{retry: true} }

// AtLeast asks for another attempt after d or the backoff, whichever is
// longer: d is what the server asked for (Retry-After, a rate limit reset).
func AtLeast(d time.Duration) Verdict { return Verdict{retry: true, atLeast: max(d, 0)} }

// Now asks for another attempt at once (after renewing a credential, say).
// It still counts as a retry.
func Now() Verdict { return Verdict{retry: true, now: true} }

// Retry reports whether the verdict asks for another attempt.
func (v Verdict) Retry() bool { return v.retry }

// Do calls op until it returns Stop, the retries or MaxElapsed run out, or
// ctx ends. op gets the attempt number, 0 first, and keeps its own results:
// when the loop ends for any reason but ctx, the last attempt's outcome is
// the caller's answer. Do returns ctx's error when ctx ended before or
// during a wait, else nil.
func (p Policy) Do(ctx context.Context, op func(attempt int) Verdict) error {
	now := p.Now
	if now == nil {
		now = time.Now
	}
	sleep := p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	var start time.Time
	if p.MaxElapsed > 0 {
		start = now()
	}
	b := p.backoff()
	for attempt := 0; ; attempt++ {
		v := op(attempt)
		if !v.retry || p.MaxRetries >= 0 && attempt >= p.MaxRetries {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		d := b.Step()
		switch {
		case v.now:
			d = 0
		case v.atLeast > d:
			d = v.atLeast
		}
		if p.MaxElapsed > 0 && now().Add(d).Sub(start) > p.MaxElapsed {
			return nil
		}
		if p.Notify != nil {
			p.Notify(attempt+1, d)
		}
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

// backoff is the schedule: wait.Backoff's jitter adds up to one whole step,
// so steps of half the bound give waits in [d/2, d].
func (p Policy) backoff() wait.Backoff {
	base := min(p.Base, p.Cap)
	return wait.Backoff{Duration: base / 2, Factor: 2, Jitter: 1, Steps: math.MaxInt32, Cap: p.Cap / 2}
}

// Sleep waits d or until ctx ends, and returns ctx's error in that case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds or an
// HTTP-date (RFC 9110, section 10.2.3), relative to now; a date in the past
// means no wait. ok is false when v is empty or neither form.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > math.MaxInt64/int64(time.Second) {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}
