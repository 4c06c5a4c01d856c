package githubapi

import (
	"time"

	"github.com/ferrygitops/ferry/internal/testclock"
)

func newFakeClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}
