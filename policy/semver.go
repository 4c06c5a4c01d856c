package policy

import (
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
)

// parseSemver parses a semver strategy value exactly as semver.NewVersion
// does, with its default coercion (a leading "v", a missing minor or patch,
// leading zeros in the numbers).
//
// It tries the library's strict parser first, on the value without its
// leading "v": where StrictNewVersion accepts that, NewVersion gives the same
// version (TestSemverMatchesMasterminds and FuzzSemverParse pin it), and it
// costs a third as much. NewVersion alone runs a regular expression per tag:
// on BenchmarkSelect100k that is 121 ms per 100,000 tags, above the 100 ms
// target in BENCHMARKS.md; with the strict parser first it meets it. Tags
// the strict parser refuses (coerced forms, and non-versions) go to
// NewVersion, which accepts or refuses them itself.
//
// This is the choice Flux's image-reflector-controller makes on the cases
// where parsers disagree most: a "v" prefix is accepted, build metadata is
// accepted and ignored in ordering, and prereleases take part only when the
// range names one (Masterminds' Constraints.Check, which Flux uses too).
// Flux refuses the coerced forms ("1.2", "01.02.03") that Ferry accepts.
func parseSemver(s string) (*semver.Version, error) {
	if len(s) <= semver.MaxVersionLen {
		if v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v")); err == nil {
			return v, nil
		}
	}
	v, err := semver.NewVersion(s)
	if err != nil {
		return nil, semverReason(err)
	}
	return v, nil
}

// semverReason words semver.NewVersion's refusal the way skipped tags are
// explained (see Choice.Skipped).
func semverReason(err error) error {
	switch {
	case errors.Is(err, semver.ErrVersionTooLong):
		return errors.New("version longer than 256 bytes")
	case errors.Is(err, strconv.ErrRange):
		return errors.New("version number out of range")
	case errors.Is(err, semver.ErrSegmentStartsZero):
		// The coercing parser accepts leading zeros in the numbers, so
		// this is a prerelease identifier.
		return errors.New("numeric prerelease identifier has a leading zero")
	}
	return errors.New("not a semantic version")
}

// constraintCache keeps the parsed semver ranges by their text: Policy has
// no room for compiled state (it is compared and copied as a plain value by
// its users), and semver.Constraints is safe for concurrent Check calls.
var constraintCache sync.Map // string -> *semver.Constraints

const constraintCacheMax = 1024

var constraintCacheLen int64
var constraintCacheMu sync.Mutex

// parseRange parses a semver range; "" means any release version (like "*",
// which excludes prereleases).
func parseRange(r string) (*semver.Constraints, error) {
	if r == "" {
		r = "*"
	}
	if c, ok := constraintCache.Load(r); ok {
		return c.(*semver.Constraints), nil
	}
	c, err := semver.NewConstraint(r)
	if err != nil {
		return nil, err
	}
	constraintCacheMu.Lock()
	if constraintCacheLen < constraintCacheMax {
		if _, loaded := constraintCache.LoadOrStore(r, c); !loaded {
			constraintCacheLen++
		}
	}
	constraintCacheMu.Unlock()
	return c, nil
}
