package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/ferrygitops/ferry/image"
)

// MaxSkipped is the most entries Choice.Skipped lists; Choice.SkippedTotal
// still counts them all.
const MaxSkipped = 20

// key is a tag's ordering key under one strategy; only the field of that
// strategy is set.
type key struct {
	t   time.Time       // date, pushedAt
	sv  *semver.Version // semver
	num decimal         // numerical
	s   string          // alphabetical
}

// selector is a Policy prepared for ordering tags: the parts of a Policy that
// are not compiled at load time (the extract template, the semver range) are
// resolved once per Select or Compare call rather than once per tag.
type selector struct {
	p       *Policy
	kind    StrategyKind
	desc    bool
	tmpl    template
	hasTmpl bool
	cons    *semver.Constraints // semver with a range; nil: any release
	buf     []byte              // expansion of a multi-part template
}

func newSelector(p *Policy, withRange bool) (*selector, error) {
	if p == nil {
		return nil, errors.New("selecting tags: nil policy")
	}
	s := &selector{p: p, kind: p.Strategy.Kind}
	switch p.Strategy.Order {
	case "", "asc":
	case "desc":
		s.desc = true
	default:
		return nil, fmt.Errorf("policy %s: order %q is neither asc nor desc", p.Name, p.Strategy.Order)
	}
	switch s.kind {
	case Date:
		if p.Strategy.Layout == "" {
			return nil, fmt.Errorf("policy %s: date strategy without layout", p.Name)
		}
	case SemVer:
		if withRange && p.Strategy.Range != "" {
			c, err := parseRange(p.Strategy.Range)
			if err != nil {
				return nil, fmt.Errorf("policy %s: semver range %q: %w", p.Name, p.Strategy.Range, err)
			}
			s.cons = c
		}
	case Numerical, Alphabetical, PushedAt:
	default:
		return nil, fmt.Errorf("policy %s: unknown strategy %q", p.Name, s.kind)
	}
	if p.Extract != "" {
		if p.Pattern == nil {
			return nil, fmt.Errorf("policy %s: extract %q without a pattern", p.Name, p.Extract)
		}
		t, err := compileTemplate(p.Pattern, p.Extract)
		if err != nil {
			return nil, fmt.Errorf("policy %s: extract %q: %w", p.Name, p.Extract, err)
		}
		s.tmpl, s.hasTmpl = t, true
	}
	return s, nil
}

// value applies the pattern, the exclusions and the extract template to a
// tag name; ok is false when the tag is filtered out.
func (s *selector) value(name string) (v string, ok bool) {
	re := s.p.Pattern
	var m []int
	switch {
	case re == nil:
	case s.hasTmpl:
		if m = re.FindStringSubmatchIndex(name); m == nil {
			return "", false
		}
	default:
		if !re.MatchString(name) {
			return "", false
		}
	}
	for _, x := range s.p.Exclude {
		if x.MatchString(name) {
			return "", false
		}
	}
	if !s.hasTmpl {
		return name, true
	}
	if g := s.tmpl.single; g >= 0 {
		if m[2*g] < 0 {
			return "", true
		}
		return name[m[2*g]:m[2*g+1]], true
	}
	s.buf = s.tmpl.expand(s.buf[:0], name, m)
	return string(s.buf), true
}

// parse computes the ordering key of an extracted value.
func (s *selector) parse(v string, t *image.Tag) (key, error) {
	var k key
	var err error
	switch s.kind {
	case Date:
		k.t, err = time.Parse(s.p.Strategy.Layout, v)
		if err != nil {
			return k, dateError(v, s.p.Strategy.Layout, err)
		}
	case SemVer:
		if s.p.Strategy.Strict && !strictSemver(v) {
			return k, fmt.Errorf("%q is not a strict semantic version (spec.policy.semver.strict)", v)
		}
		k.sv, err = parseSemver(v)
		if err != nil {
			return k, fmt.Errorf("%q is not a semantic version: %w", v, err)
		}
	case Numerical:
		k.num, err = parseDecimal(v)
		if err != nil {
			return k, fmt.Errorf("%q is not a number: %w", v, err)
		}
	case Alphabetical:
		k.s = v
	case PushedAt:
		if t.PushedAt.IsZero() {
			return k, errors.New("no push time, which the pushedAt strategy orders by")
		}
		k.t = t.PushedAt
	}
	return k, nil
}

// strictSemver reports whether v is a semantic version as written, with
// an optional leading "v".
func strictSemver(v string) bool {
	_, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v"))
	return err == nil
}

func dateError(v, layout string, err error) error {
	var pe *time.ParseError
	if errors.As(err, &pe) {
		if pe.Message != "" {
			return fmt.Errorf("%q is not a date in layout %q%s", v, layout, pe.Message) // Message starts with ": "
		}
		return fmt.Errorf("%q is not a date in layout %q: cannot parse %q as %q", v, layout, pe.ValueElem, pe.LayoutElem)
	}
	return fmt.Errorf("%q is not a date in layout %q: %w", v, layout, err)
}

// inRange reports whether a parsed version satisfies the policy's range.
// Without a range every release matches and no prerelease does, as with
// the range "*".
func (s *selector) inRange(v *semver.Version) bool {
	if s.cons == nil {
		return v.Prerelease() == ""
	}
	return s.cons.Check(v)
}

// compare orders two keys under the strategy, direction included: +1 means
// a wins over b.
func (s *selector) compare(a, b *key) int {
	var c int
	switch s.kind {
	case Date, PushedAt:
		c = a.t.Compare(b.t)
	case SemVer:
		c = a.sv.Compare(b.sv)
	case Numerical:
		c = compareDecimal(&a.num, &b.num)
	case Alphabetical:
		c = strings.Compare(a.s, b.s)
	}
	if s.desc {
		c = -c
	}
	return c
}

// tieBreak orders two tags with equal keys, independently of their position
// in the list: the later push wins, then the greater name, then the greater
// digest.
func tieBreak(a, b *image.Tag) int {
	if c := a.PushedAt.Compare(b.PushedAt); c != 0 {
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Digest, b.Digest)
}

// Select picks the tag the policy ranks highest among tags, as of now (for
// minAge). It never modifies tags, and its result does not depend on their
// order: equal keys (v1.0.0 and 1.0.0, or equal push times) are broken by
// the later push time, then the greater tag name, then the greater digest.
//
// A tag takes part when it has a name, matches the pattern, matches no exclusion, is old
// enough, parses under the strategy and, for semver, is in range. Tags whose
// value does not parse, and tags that have no push time where one is needed,
// are listed in Choice.Skipped with the reason. An empty Choice.Tag means no
// tag took part; an error means the policy itself is unusable.
func Select(tags []image.Tag, p *Policy, now time.Time) (Choice, error) {
	ch, _, err := selectTags(tags, p, now, false)
	return ch, err
}

// Ranked is Select that also returns every tag that took part, best first
// (the first is Choice.Tag), ordered exactly as Select orders them: for
// callers that walk down to the first acceptable candidate (signature
// verification narrows the candidates, it never widens them).
func Ranked(tags []image.Tag, p *Policy, now time.Time) (Choice, []image.Tag, error) {
	return selectTags(tags, p, now, true)
}

func selectTags(tags []image.Tag, p *Policy, now time.Time, all bool) (Choice, []image.Tag, error) {
	s, err := newSelector(p, true)
	if err != nil {
		return Choice{}, nil, err
	}
	type ranked struct {
		i int
		k key
	}
	var matched []ranked
	ch := Choice{Seen: len(tags)}
	skip := func(name string, reason func() string) {
		ch.SkippedTotal++
		if len(ch.Skipped) < MaxSkipped {
			ch.Skipped = append(ch.Skipped, Skip{Tag: name, Reason: reason()})
		}
	}
	best := -1
	var bestKey key
	for i := range tags {
		t := &tags[i]
		if t.Name == "" {
			continue // not a tag, and a Choice with no Tag means none
		}
		v, ok := s.value(t.Name)
		if !ok {
			continue
		}
		if p.MinAge > 0 {
			if t.PushedAt.IsZero() {
				skip(t.Name, func() string { return "no push time, which minAge needs" })
				continue
			}
			if now.Sub(t.PushedAt) < p.MinAge {
				continue
			}
		}
		k, err := s.parse(v, t)
		if err != nil {
			skip(t.Name, err.Error)
			continue
		}
		if s.kind == SemVer && !s.inRange(k.sv) {
			continue
		}
		ch.Matched++
		if all {
			matched = append(matched, ranked{i, k})
		}
		if best < 0 {
			best, bestKey = i, k
			continue
		}
		c := s.compare(&k, &bestKey)
		if c == 0 {
			c = tieBreak(t, &tags[best])
		}
		if c > 0 {
			best, bestKey = i, k
		}
	}
	if best >= 0 {
		w := &tags[best]
		ch.Tag, ch.Digest, ch.PushedAt = w.Name, w.Digest, w.PushedAt
	}
	if !all {
		return ch, nil, nil
	}
	slices.SortStableFunc(matched, func(a, b ranked) int {
		c := s.compare(&b.k, &a.k)
		if c == 0 {
			c = tieBreak(&tags[b.i], &tags[a.i])
		}
		return c
	})
	out := make([]image.Tag, len(matched))
	for j, m := range matched {
		out[j] = tags[m.i]
	}
	return ch, out, nil
}

// Compare orders two tags under the policy's own strategy and direction,
// after the pattern and the extract template: -1 when a ranks below b
// (older), 0 when they rank equal, +1 when a ranks above b (newer). It
// ignores exclusions, minAge and the semver range, which decide what may be
// selected, not how tags are ordered. It fails when either tag does not
// match the pattern or does not parse under the strategy, or, for pushedAt,
// has no push time: callers treat such a current tag as unmanaged.
func (p *Policy) Compare(a, b image.Tag) (int, error) {
	s, err := newSelector(p, false)
	if err != nil {
		return 0, err
	}
	ka, err := s.key(&a)
	if err != nil {
		return 0, err
	}
	kb, err := s.key(&b)
	if err != nil {
		return 0, err
	}
	return s.compare(&ka, &kb), nil
}

// key computes a single tag's ordering key for Compare.
func (s *selector) key(t *image.Tag) (key, error) {
	var v string
	if re := s.p.Pattern; re != nil {
		m := re.FindStringSubmatchIndex(t.Name)
		if m == nil {
			return key{}, fmt.Errorf("policy %s: tag %q does not match pattern %q", s.p.Name, t.Name, re.String())
		}
		switch {
		case !s.hasTmpl:
			v = t.Name
		case s.tmpl.single >= 0:
			if g := s.tmpl.single; m[2*g] >= 0 {
				v = t.Name[m[2*g]:m[2*g+1]]
			}
		default:
			v = string(s.tmpl.expand(nil, t.Name, m))
		}
	} else {
		v = t.Name
	}
	k, err := s.parse(v, t)
	if err != nil {
		return key{}, fmt.Errorf("policy %s: tag %q: %w", s.p.Name, t.Name, err)
	}
	return k, nil
}
