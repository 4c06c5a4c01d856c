package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Schedule says when the next cycle is due: every Interval, or at the times
// of a cron expression, plus a random delay of up to Jitter so that many
// Ferry instances do not hit a registry at the same second.
type Schedule struct {
	Interval time.Duration
	Cron     cron.Schedule // takes precedence over Interval
	Jitter   time.Duration
	// Rand returns a number in [0, 1); default math/rand/v2.
	Rand func() float64
}

// ParseSchedule builds a Schedule from an interval ("5m") or a standard
// five-field cron expression ("*/5 * * * *"); exactly one must be given.
func ParseSchedule(interval time.Duration, cronExpr string, jitter time.Duration) (Schedule, error) {
	s := Schedule{Interval: interval, Jitter: jitter}
	switch {
	case cronExpr != "" && interval > 0:
		return s, errors.New("schedule: give an interval or a cron expression, not both")
	case cronExpr != "":
		c, err := cron.ParseStandard(cronExpr)
		if err != nil {
			return s, fmt.Errorf("schedule: parsing cron expression %q: %w", cronExpr, err)
		}
		s.Cron = c
	case interval <= 0:
		return s, errors.New("schedule: the interval must be positive")
	}
	if jitter < 0 {
		return s, errors.New("schedule: the jitter must not be negative")
	}
	return s, nil
}

// Next returns when the cycle after one that started at now is due.
func (s Schedule) Next(now time.Time) time.Time {
	var next time.Time
	if s.Cron != nil {
		next = s.Cron.Next(now)
	} else {
		next = now.Add(s.Interval)
	}
	if s.Jitter > 0 {
		r := s.Rand
		if r == nil {
			r = rand.Float64
		}
		next = next.Add(time.Duration(r() * float64(s.Jitter)))
	}
	return next
}

// Loop runs a cycle at start, then whenever the schedule says or a trigger
// arrives (a webhook), one cycle at a time. Triggers arriving while a cycle
// runs, or within Debounce of each other, are coalesced into one cycle.
type Loop struct {
	Schedule Schedule
	// Cycle does the work. Its context outlives the Run context by Grace:
	// a cycle in progress when shutdown begins may finish its current step
	// (a push, a pull request) instead of being cut in the middle.
	Cycle    func(ctx context.Context, reason string) error
	Debounce time.Duration // default 2s
	Grace    time.Duration // default 30s
	Log      *slog.Logger
	Now      func() time.Time
	After    func(d time.Duration) <-chan time.Time

	once    sync.Once
	trigger chan string
}

func (l *Loop) init() {
	l.once.Do(func() {
		l.trigger = make(chan string, 1)
		if l.Debounce <= 0 {
			l.Debounce = 2 * time.Second
		}
		if l.Grace <= 0 {
			l.Grace = 30 * time.Second
		}
		if l.Log == nil {
			l.Log = slog.New(slog.DiscardHandler)
		}
		if l.Now == nil {
			l.Now = time.Now
		}
		if l.After == nil {
			l.After = time.After
		}
	})
}

// Trigger asks for a cycle soon. It never blocks; triggers coalesce.
func (l *Loop) Trigger(reason string) {
	l.init()
	select {
	case l.trigger <- reason:
	default: // a cycle is already pending
	}
}

// Run runs cycles until ctx ends. A cycle's error is logged and the loop
// goes on; Run returns nil once ctx ended and the cycle in progress, if
// any, returned.
func (l *Loop) Run(ctx context.Context) error {
	l.init()
	reason := "start"
	for {
		start := l.Now()
		l.runCycle(ctx, reason)
		if ctx.Err() != nil {
			return nil
		}
		next := l.Schedule.Next(start)
		wait := next.Sub(l.Now())
		if wait < 0 {
			wait = 0
		}
		l.Log.Debug("next cycle", "at", next.Format(time.RFC3339), "in", wait.Round(time.Second))
		select {
		case <-ctx.Done():
			return nil
		case <-l.After(wait):
			reason = "schedule"
		case r := <-l.trigger:
			reason = r
			// Let a burst of deliveries (a push event and a merge event
			// for one merge) settle into one cycle.
			select {
			case <-ctx.Done():
				return nil
			case <-l.After(l.Debounce):
			}
			select {
			case <-l.trigger:
			default:
			}
		}
	}
}

func (l *Loop) runCycle(ctx context.Context, reason string) {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-done:
			case <-l.After(l.Grace):
				l.Log.Warn("shutdown grace period over; abandoning the cycle")
				cancel()
			}
		case <-done:
		}
	}()
	defer close(done)
	l.Log.Info("cycle", "reason", reason)
	if err := l.Cycle(cctx, reason); err != nil {
		l.Log.Error("cycle failed", "reason", reason, "error", err)
	}
}
