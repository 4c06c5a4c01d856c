package retry

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testclock"
)

func TestBackoffScheduleIsCappedWithJitter(t *testing.T) {
	clock := testclock.New(time.Unix(0, 0))
	p := Policy{Base: 100 * time.Millisecond, Cap: time.Second, MaxRetries: 8, Sleep: clock.Sleep}
	calls := 0
	if err := p.Do(context.Background(), func(int) Verdict { calls++; return Again() }); err != nil {
		t.Fatal(err)
	}
	if calls != 9 {
		t.Fatalf("%d attempts, want 9 (one and 8 retries)", calls)
	}
	w := clock.Waits()
	for n, d := range w {
		upper := min(100*time.Millisecond<<n, time.Second)
		if d < upper/2 || d > upper {
			t.Errorf("wait %d = %v, want within [%v, %v]", n, d, upper/2, upper)
		}
	}
}

func TestServerWaitIsALowerBound(t *testing.T) {
	clock := testclock.New(time.Unix(0, 0))
	p := Policy{Base: 10 * time.Millisecond, Cap: time.Second, MaxRetries: 3, Sleep: clock.Sleep}
	verdicts := []Verdict{AtLeast(3 * time.Second), AtLeast(time.Millisecond), Now(), Stop()}
	var attempts []int
	_ = p.Do(context.Background(), func(a int) Verdict { attempts = append(attempts, a); return verdicts[a] })
	w := clock.Waits()
	if len(w) != 3 || w[0] != 3*time.Second || w[1] < 10*time.Millisecond || w[1] > 20*time.Millisecond || w[2] != 0 {
		t.Fatalf("waits %v, want [3s, the backoff of 10-20ms, 0]", w)
	}
	if len(attempts) != 4 || attempts[3] != 3 {
		t.Fatalf("attempts %v", attempts)
	}
}

func TestMaxRetriesAndMaxElapsed(t *testing.T) {
	clock := testclock.New(time.Unix(0, 0))
	calls := 0
	p := Policy{Base: time.Second, Cap: time.Second, MaxRetries: 0, Sleep: clock.Sleep}
	_ = p.Do(context.Background(), func(int) Verdict { calls++; return Again() })
	if calls != 1 {
		t.Fatalf("MaxRetries 0: %d attempts", calls)
	}

	calls = 0
	var notified []int
	p = Policy{Base: time.Second, Cap: time.Second, MaxRetries: -1, MaxElapsed: 10 * time.Second,
		Sleep: clock.Sleep, Now: clock.Now, Notify: func(r int, _ time.Duration) { notified = append(notified, r) }}
	_ = p.Do(context.Background(), func(int) Verdict { calls++; return Again() })
	// Waits of 0.5-1s each: the retries stop before 10s have passed.
	if calls < 11 || calls > 21 {
		t.Fatalf("MaxElapsed 10s with waits of at most 1s: %d attempts", calls)
	}
	var total time.Duration
	for _, d := range clock.Waits()[0:] {
		total += d
	}
	if total > 10*time.Second {
		t.Fatalf("waited %v in all, past MaxElapsed", total)
	}
	if len(notified) != calls-1 || notified[0] != 1 {
		t.Fatalf("notified %v for %d attempts", notified, calls)
	}
}

func TestContextEndsTheLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	p := Policy{Base: time.Hour, Cap: time.Hour, MaxRetries: 5}
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	err := p.Do(ctx, func(int) Verdict { calls++; return Again() })
	if err != context.Canceled || calls != 1 {
		t.Fatalf("err %v after %d attempts, want context.Canceled after 1", err, calls)
	}
	if err := p.Do(ctx, func(int) Verdict { return Again() }); err != context.Canceled {
		t.Fatalf("ended context: %v", err)
	}
	if err := p.Do(ctx, func(int) Verdict { return Stop() }); err != nil {
		t.Fatalf("a success under an ended context: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Friday, 02-Jan-26 03:05:05 GMT", time.Minute, true}, // RFC 850, still accepted by HTTP-date
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
