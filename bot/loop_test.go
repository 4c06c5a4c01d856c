package bot

import (
	"context"
	"github.com/ferrygitops/ferry/internal/testclock"
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	now := time.Date(2024, 3, 1, 10, 2, 30, 0, time.UTC)
	s, err := ParseSchedule(5*time.Minute, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s.Rand = func() float64 { return 0.5 }
	if got, want := s.Next(now), now.Add(5*time.Minute+30*time.Second); !got.Equal(want) {
		t.Errorf("interval: Next = %v, want %v", got, want)
	}
	c, err := ParseSchedule(0, "*/15 * * * *", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Next(now), time.Date(2024, 3, 1, 10, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("cron: Next = %v, want %v", got, want)
	}
	for _, bad := range []struct {
		i    time.Duration
		cron string
		j    time.Duration
	}{{0, "", 0}, {time.Minute, "* * * * *", 0}, {0, "not cron", 0}, {time.Minute, "", -time.Second}} {
		if _, err := ParseSchedule(bad.i, bad.cron, bad.j); err == nil {
			t.Errorf("ParseSchedule(%v, %q, %v): want an error", bad.i, bad.cron, bad.j)
		}
	}
}

func TestLoopRunsOnStartScheduleAndTriggers(t *testing.T) {
	clock := testclock.New(time.Now())
	reasons := make(chan string, 10)
	l := &Loop{
		Schedule: Schedule{Interval: time.Hour},
		Cycle: func(ctx context.Context, reason string) error {
			reasons <- reason
			return nil
		},
		After: clock.After,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()

	if r := <-reasons; r != "start" {
		t.Fatalf("first cycle reason %q", r)
	}
	<-clock.Added() // waiting for the schedule
	l.Trigger("webhook: ecr")
	l.Trigger("webhook: github") // coalesced with the first
	<-clock.Added()              // the debounce timer
	clock.FireAll()
	if r := <-reasons; r != "webhook: ecr" {
		t.Fatalf("triggered cycle reason %q", r)
	}
	<-clock.Added()
	clock.FireAll() // the schedule
	if r := <-reasons; r != "schedule" {
		t.Fatalf("scheduled cycle reason %q", r)
	}
	select {
	case r := <-reasons:
		t.Fatalf("an extra cycle ran: %q", r)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestLoopLetsACycleFinishOnShutdown(t *testing.T) {
	started, finished := make(chan struct{}), make(chan error, 1)
	l := &Loop{
		Schedule: Schedule{Interval: time.Hour},
		Grace:    time.Minute,
		Cycle: func(ctx context.Context, reason string) error {
			close(started)
			time.Sleep(50 * time.Millisecond) // a push in progress
			finished <- ctx.Err()
			return nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- l.Run(ctx) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-finished; err != nil {
		t.Errorf("the cycle's context was cancelled before the grace period: %v", err)
	}
}
