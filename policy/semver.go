package policy

import (
	"cmp"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
)

// semverKey is a version parsed the way semver.NewVersion parses it (with
// its default coercion: "v" prefix, missing minor or patch, and leading
// zeros in the numbers are accepted), without the regular expression and
// the allocations, so that Select stays fast on long tag lists. pre and meta
// are substrings of the parsed value. TestSemverMatchesMasterminds and
// FuzzSemverParse pin the equivalence.
type semverKey struct {
	major, minor, patch uint64
	pre, meta           string
}

var (
	errSemverSyntax = errors.New("not a semantic version")
	errSemverRange  = errors.New("version number out of range")
	errSemverZero   = errors.New("numeric prerelease identifier has a leading zero")
	errSemverLong   = errors.New("version longer than 256 bytes")
)

// parseSemver accepts exactly what semver.NewVersion accepts.
func parseSemver(s string) (semverKey, error) {
	var k semverKey
	if len(s) > semver.MaxVersionLen {
		return k, errSemverLong
	}
	i := 0
	if i < len(s) && s[i] == 'v' {
		i++
	}
	var nums [3]string
	for n := 0; n < 3; n++ {
		if n > 0 {
			if i >= len(s) || s[i] != '.' {
				break
			}
			i++
		}
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return k, errSemverSyntax
		}
		nums[n] = s[i:j]
		i = j
	}
	if i < len(s) && s[i] == '-' {
		j := i + 1
		for j < len(s) && s[j] != '+' {
			j++
		}
		k.pre = s[i+1 : j]
		if !validIdents(k.pre, true) {
			if validIdents(k.pre, false) {
				return k, errSemverZero
			}
			return k, errSemverSyntax
		}
		i = j
	}
	if i < len(s) && s[i] == '+' {
		k.meta = s[i+1:]
		if !validIdents(k.meta, false) {
			return k, errSemverSyntax
		}
		i = len(s)
	}
	if i != len(s) {
		return k, errSemverSyntax
	}
	var err error
	if k.major, err = strconv.ParseUint(nums[0], 10, 64); err != nil {
		return k, errSemverRange
	}
	if nums[1] != "" {
		if k.minor, err = strconv.ParseUint(nums[1], 10, 64); err != nil {
			return k, errSemverRange
		}
	}
	if nums[2] != "" {
		if k.patch, err = strconv.ParseUint(nums[2], 10, 64); err != nil {
			return k, errSemverRange
		}
	}
	return k, nil
}

// validIdents reports whether s is a non-empty dot-separated list of
// non-empty [0-9A-Za-z-] identifiers; with pre, purely numeric identifiers
// must not have leading zeros.
func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
			continue
		}
		id := s[start:i]
		if id == "" {
			return false
		}
		if pre && len(id) > 1 && id[0] == '0' && allDigits(id) {
			return false
		}
		start = i + 1
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// compareSemver orders versions exactly like (*semver.Version).Compare:
// by major, minor, patch, then a version without prerelease above one with,
// then prerelease identifiers; build metadata is ignored.
func compareSemver(a, b *semverKey) int {
	if c := cmp.Compare(a.major, b.major); c != 0 {
		return c
	}
	if c := cmp.Compare(a.minor, b.minor); c != 0 {
		return c
	}
	if c := cmp.Compare(a.patch, b.patch); c != 0 {
		return c
	}
	switch {
	case a.pre == "" && b.pre == "":
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	sa, sb := a.pre, b.pre
	for sa != "" || sb != "" {
		var pa, pb string
		pa, sa, _ = strings.Cut(sa, ".")
		pb, sb, _ = strings.Cut(sb, ".")
		if c := comparePrePart(pa, pb); c != 0 {
			return c
		}
	}
	return 0
}

// comparePrePart mirrors semver's comparison of two prerelease identifiers,
// where a missing identifier sorts first and numbers sort before words.
func comparePrePart(s, o string) int {
	if s == o {
		return 0
	}
	if s == "" {
		return -1
	}
	if o == "" {
		return 1
	}
	si, serr := strconv.ParseUint(s, 10, 64)
	oi, oerr := strconv.ParseUint(o, 10, 64)
	switch {
	case serr != nil && oerr != nil:
		return strings.Compare(s, o)
	case oerr != nil:
		return -1
	case serr != nil:
		return 1
	}
	return cmp.Compare(si, oi)
}

// appendCanonical appends the version in canonical form ("1.2.3-pre+meta"),
// which semver.StrictNewVersion parses to an equal version.
func (k *semverKey) appendCanonical(dst []byte) []byte {
	dst = strconv.AppendUint(dst, k.major, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, k.minor, 10)
	dst = append(dst, '.')
	dst = strconv.AppendUint(dst, k.patch, 10)
	if k.pre != "" {
		dst = append(dst, '-')
		dst = append(dst, k.pre...)
	}
	if k.meta != "" {
		dst = append(dst, '+')
		dst = append(dst, k.meta...)
	}
	return dst
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
