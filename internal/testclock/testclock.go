// Package testclock is the tests' one fake clock: a settable time, a
// sleep that records its waits and moves the time instead of sleeping, and
// timers the test fires by hand.
package testclock

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock, safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	t      time.Time
	waits  []time.Duration
	timers []chan time.Time
	added  chan struct{}
}

// New returns a Clock set to t.
func New(t time.Time) *Clock {
	return &Clock{t: t, added: make(chan struct{}, 1024)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sleep records d and advances the clock by it instead of sleeping; it
// returns ctx's error, as a sleep ended by ctx would.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// Waits returns the waits Sleep recorded, in order.
func (c *Clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// After returns a timer channel that fires only when the test calls
// FireAll; each call is announced on Added.
func (c *Clock) After(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.mu.Lock()
	c.timers = append(c.timers, ch)
	c.mu.Unlock()
	c.added <- struct{}{}
	return ch
}

// Added receives once per After call.
func (c *Clock) Added() <-chan struct{} { return c.added }

// FireAll fires every pending timer with the clock's time.
func (c *Clock) FireAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.timers {
		select {
		case ch <- c.t:
		default:
		}
	}
	c.timers = nil
}
