package policy

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/image"
)

var now = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// mkPolicy builds a Policy as Parse would, for a pattern (may be empty), an
// extract template and a strategy.
func mkPolicy(pattern, extract string, s Strategy) *Policy {
	p := &Policy{Name: "test", Extract: extract, Strategy: s}
	if pattern != "" {
		p.Pattern = regexp.MustCompile(pattern)
	}
	if (s.Kind == Numerical || s.Kind == Alphabetical) && s.Order == "" {
		p.Strategy.Order = "asc"
	}
	return p
}

func names(ns ...string) []image.Tag {
	out := make([]image.Tag, len(ns))
	for i, n := range ns {
		out[i] = image.Tag{Name: n, Digest: "sha256:" + strings.Repeat("0", 63) + fmt.Sprint(i%10)}
	}
	return out
}

func pushed(name string, ago time.Duration) image.Tag {
	return image.Tag{Name: name, PushedAt: now.Add(-ago)}
}

const releasePattern = `^release\.(?P<stamp>\d{8})$`

var (
	dateStrategy = Strategy{Kind: Date, Layout: "20060102"}
	anySemver    = Strategy{Kind: SemVer}
)

type selectCase struct {
	name    string
	policy  *Policy
	tags    []image.Tag
	want    string // winning tag; "" for none
	matched int
	skipped []Skip // compared when not nil
	total   int    // SkippedTotal, compared when skipped is not nil
}

func selectCases() []selectCase {
	withExclude := mkPolicy(`^v`, "", Strategy{Kind: Alphabetical})
	withExclude.Exclude = []*regexp.Regexp{regexp.MustCompile(`\.sig$`), regexp.MustCompile(`-debug`)}
	minAge := mkPolicy(releasePattern, "$stamp", dateStrategy)
	minAge.MinAge = 30 * time.Minute
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf("release.%d%02d31", 2000+i/12, i%12+1) // some months have no 31st
	}
	return []selectCase{
		{
			name:    "date: leap day and an impossible date",
			policy:  mkPolicy(releasePattern, "$stamp", dateStrategy),
			tags:    names("release.20240229", "release.20240301", "release.20240231", "release.2024030", "latest", "release.20231231"),
			want:    "release.20240301",
			matched: 3,
			skipped: []Skip{{Tag: "release.20240231", Reason: `"20240231" is not a date in layout "20060102": day out of range`}},
			total:   1,
		},
		{
			name:    "date: value that matches the pattern but not the layout",
			policy:  mkPolicy(`^release\.(\d+)$`, "$1", dateStrategy),
			tags:    names("release.20240101", "release.123", "release.20241301"),
			want:    "release.20240101",
			matched: 1,
			skipped: []Skip{
				{Tag: "release.123", Reason: `"123" is not a date in layout "20060102": cannot parse "123" as "2006"`},
				{Tag: "release.20241301", Reason: `"20241301" is not a date in layout "20060102": month out of range`},
			},
			total: 2,
		},
		{
			name:    "date: whole tag without extract",
			policy:  mkPolicy(`^\d{4}-\d{2}-\d{2}$`, "", Strategy{Kind: Date, Layout: "2006-01-02"}),
			tags:    names("2024-02-29", "2023-12-31", "2024-03-01"),
			want:    "2024-03-01",
			matched: 3,
		},
		{
			name:    "date: extract assembled from several groups",
			policy:  mkPolicy(`^(?P<d>\d{2})\.(?P<m>\d{2})\.(?P<y>\d{4})-`, "$y$m$d", dateStrategy),
			tags:    names("01.03.2024-a", "29.02.2024-b", "31.12.2023-c"),
			want:    "01.03.2024-a",
			matched: 3,
		},
		{
			name:    "date: unanchored pattern matches anywhere, whole tag is the value",
			policy:  mkPolicy(`\d{8}`, "", Strategy{Kind: Date, Layout: "release.20060102"}),
			tags:    names("release.20240101", "release.20240102", "x20240103"),
			want:    "release.20240102",
			matched: 2,
			skipped: []Skip{{Tag: "x20240103", Reason: `"x20240103" is not a date in layout "release.20060102": cannot parse "x20240103" as "release."`}},
			total:   1,
		},
		{
			name:    "date: $0 is only the matched part",
			policy:  mkPolicy(`\d{8}`, "$0", dateStrategy),
			tags:    names("release.20240101", "x20240103", "release.20240102"),
			want:    "x20240103",
			matched: 3,
		},
		{
			name:    "semver: v1.10.0 is above v1.9.0",
			policy:  mkPolicy(`^v`, "", anySemver),
			tags:    names("v1.9.0", "v1.10.0", "v1.2.3", "v1.10.0-rc.1"),
			want:    "v1.10.0",
			matched: 3,
		},
		{
			name:    "semver: calendar versions with leading zeros",
			policy:  mkPolicy("", "", anySemver),
			tags:    names("2024.1.30", "2024.09.01", "2024.08.31"),
			want:    "2024.09.01",
			matched: 3,
		},
		{
			name:    "semver: out of range is not matched and not skipped",
			policy:  mkPolicy("", "", Strategy{Kind: SemVer, Range: ">=1.2.0 <2.0.0"}),
			tags:    names("1.1.0", "1.5.0", "1.9.9", "2.0.0", "2.1.0"),
			want:    "1.9.9",
			matched: 2,
			skipped: []Skip{},
		},
		{
			name:    "semver: prerelease excluded when the range has none",
			policy:  mkPolicy("", "", Strategy{Kind: SemVer, Range: ">=1.0.0 <2.0.0"}),
			tags:    names("1.5.0", "1.6.0-rc.1", "1.6.0-rc.2"),
			want:    "1.5.0",
			matched: 1,
		},
		{
			name:    "semver: prerelease included when the range names one",
			policy:  mkPolicy("", "", Strategy{Kind: SemVer, Range: ">=1.6.0-0 <2.0.0-0"}),
			tags:    names("1.5.0", "1.6.0-rc.1", "1.6.0-rc.10", "1.6.0-rc.2", "2.0.0-rc.1", "1.5.9-rc.1"),
			want:    "1.6.0-rc.10",
			matched: 3,
		},
		{
			// Masterminds' rule, as npm's is not: once a range admits
			// prereleases, "<2.0.0" admits those of 2.0.0 too.
			name:    "semver: prerelease range with <2.0.0 admits 2.0.0 prereleases",
			policy:  mkPolicy("", "", Strategy{Kind: SemVer, Range: ">=1.6.0-0 <2.0.0"}),
			tags:    names("1.6.0-rc.1", "2.0.0-rc.1", "2.0.0"),
			want:    "2.0.0-rc.1",
			matched: 2,
		},
		{
			name:    "semver: release above its prereleases",
			policy:  mkPolicy("", "", Strategy{Kind: SemVer, Range: ">=1.6.0-0"}),
			tags:    names("1.6.0-rc.2", "1.6.0", "1.6.0-beta"),
			want:    "1.6.0",
			matched: 3,
		},
		{
			name:    "semver: no range means every release and no prerelease",
			policy:  mkPolicy("", "", anySemver),
			tags:    names("1.0.0", "2.0.0-rc.1", "0.9.0"),
			want:    "1.0.0",
			matched: 2,
		},
		{
			name:    "semver: extract a version from a prefixed tag",
			policy:  mkPolicy(`^app-(?P<v>.+)$`, "${v}", anySemver),
			tags:    names("app-1.2.3", "app-1.10.0", "app-latest", "other-9.0.0"),
			want:    "app-1.10.0",
			matched: 2,
			skipped: []Skip{{Tag: "app-latest", Reason: `"latest" is not a semantic version: not a semantic version`}},
			total:   1,
		},
		{
			name:    "semver: invalid versions are skipped",
			policy:  mkPolicy("", "", anySemver),
			tags:    names("1.2.3.4", "1.2.3-01", "1.2.3"),
			want:    "1.2.3",
			matched: 1,
			skipped: []Skip{
				{Tag: "1.2.3.4", Reason: `"1.2.3.4" is not a semantic version: not a semantic version`},
				{Tag: "1.2.3-01", Reason: `"1.2.3-01" is not a semantic version: numeric prerelease identifier has a leading zero`},
			},
			total: 2,
		},
		{
			name:    "numerical: numbers, not strings",
			policy:  mkPolicy(`^build-(\d+)$`, "$1", Strategy{Kind: Numerical}),
			tags:    names("build-9", "build-100", "build-10", "build-x"),
			want:    "build-100",
			matched: 3,
		},
		{
			name:    "numerical: desc picks the lowest",
			policy:  mkPolicy(`^build-(\d+)$`, "$1", Strategy{Kind: Numerical, Order: "desc"}),
			tags:    names("build-9", "build-100", "build-10"),
			want:    "build-9",
			matched: 3,
		},
		{
			name:    "numerical: integers beyond float precision",
			policy:  mkPolicy("", "", Strategy{Kind: Numerical}),
			tags:    names("12345678901234567891", "12345678901234567890", "000012345678901234567892", "9999999999999999999"),
			want:    "000012345678901234567892",
			matched: 4,
		},
		{
			name:    "numerical: decimals and signs",
			policy:  mkPolicy("", "", Strategy{Kind: Numerical}),
			tags:    names("1.5", "1.25", "1.10", "-3", "1e0", "0x10", "Inf", "NaN"),
			want:    "1.5",
			matched: 5,
			skipped: []Skip{
				{Tag: "0x10", Reason: `"0x10" is not a number: not a decimal number`},
				{Tag: "Inf", Reason: `"Inf" is not a number: not a decimal number`},
				{Tag: "NaN", Reason: `"NaN" is not a number: not a decimal number`},
			},
			total: 3,
		},
		{
			name:    "numerical: calendar version from zero-padded parts",
			policy:  mkPolicy(`^(?P<y>\d{4})\.(?P<m>\d{2})\.(?P<d>\d{2})$`, "$y$m$d", Strategy{Kind: Numerical}),
			tags:    names("2024.08.31", "2024.09.01", "2024.1.30"),
			want:    "2024.09.01",
			matched: 2,
		},
		{
			name:    "alphabetical: asc picks the last",
			policy:  mkPolicy(`^main-`, "", Strategy{Kind: Alphabetical}),
			tags:    names("main-aaa", "main-b", "main-ab", "dev-z"),
			want:    "main-b",
			matched: 3,
		},
		{
			name:    "alphabetical: desc picks the first",
			policy:  mkPolicy(`^main-`, "", Strategy{Kind: Alphabetical, Order: "desc"}),
			tags:    names("main-b", "main-aaa", "main-ab"),
			want:    "main-aaa",
			matched: 3,
		},
		{
			name:    "alphabetical: byte order, uppercase first",
			policy:  mkPolicy("", "", Strategy{Kind: Alphabetical}),
			tags:    names("Zeta", "alpha"),
			want:    "alpha",
			matched: 2,
		},
		{
			name:   "pushedAt: newest push wins, no push time is skipped",
			policy: mkPolicy(`^sha-`, "", Strategy{Kind: PushedAt}),
			tags: []image.Tag{
				pushed("sha-aaa", 3*time.Hour), pushed("sha-bbb", time.Hour), pushed("sha-ccc", 2*time.Hour),
				{Name: "sha-ddd"},
			},
			want:    "sha-bbb",
			matched: 3,
			skipped: []Skip{{Tag: "sha-ddd", Reason: "no push time, which the pushedAt strategy orders by"}},
			total:   1,
		},
		{
			name:    "exclude drops tags before ordering",
			policy:  withExclude,
			tags:    names("v1", "v2.sig", "v3-debug", "v2"),
			want:    "v2",
			matched: 2,
		},
		{
			name:   "minAge: too young is ignored, no push time is skipped",
			policy: minAge,
			tags: []image.Tag{
				pushed("release.20240301", 10*time.Minute),
				pushed("release.20240229", 2*time.Hour),
				{Name: "release.20240228"},
				pushed("release.20240227", 30*time.Minute),
				pushed("release.20240302", -time.Hour), // pushed in the future
			},
			want:    "release.20240229",
			matched: 2,
			skipped: []Skip{{Tag: "release.20240228", Reason: "no push time, which minAge needs"}},
			total:   1,
		},
		{
			name:   "tie: equal versions go to the later push",
			policy: mkPolicy("", "", anySemver),
			tags: []image.Tag{
				pushed("v1.0.0", 2*time.Hour), pushed("1.0.0", time.Hour), pushed("1.0", 3*time.Hour),
			},
			want:    "1.0.0",
			matched: 3,
		},
		{
			name:    "tie: equal versions and push times go to the greater name",
			policy:  mkPolicy("", "", anySemver),
			tags:    []image.Tag{pushed("1.0.0", time.Hour), pushed("v1.0.0", time.Hour), pushed("1.0.0+b", time.Hour)},
			want:    "v1.0.0",
			matched: 3,
		},
		{
			name:    "tie: equal push times under pushedAt",
			policy:  mkPolicy("", "", Strategy{Kind: PushedAt}),
			tags:    []image.Tag{pushed("b", time.Hour), pushed("c", time.Hour), pushed("a", time.Hour)},
			want:    "c",
			matched: 3,
		},
		{
			name:    "tie: equal dates from different layouts of the same day",
			policy:  mkPolicy(`^(?:r(\d{8})|s(\d{8}))$`, "$1$2", dateStrategy),
			tags:    names("r20240101", "s20240101"),
			want:    "s20240101",
			matched: 2,
		},
		{
			name:    "unmatched optional group extracts an empty value",
			policy:  mkPolicy(`^v(\d+)?x$`, "$1", Strategy{Kind: Numerical}),
			tags:    names("vx", "v2x"),
			want:    "v2x",
			matched: 1,
			skipped: []Skip{{Tag: "vx", Reason: `"" is not a number: not a decimal number`}},
			total:   1,
		},
		{
			name:    "nothing matches",
			policy:  mkPolicy(releasePattern, "$stamp", dateStrategy),
			tags:    names("latest", "v1"),
			want:    "",
			matched: 0,
			skipped: []Skip{},
		},
		{
			name:    "no tags",
			policy:  mkPolicy("", "", anySemver),
			want:    "",
			skipped: []Skip{},
		},
		{
			name:    "skipped list is capped but counted",
			policy:  mkPolicy(releasePattern, "$stamp", dateStrategy),
			tags:    names(many...),
			want:    "release.20020531",
			matched: 30 - 13, // 31 Feb, Apr, Jun, Sep and Nov do not exist
		},
	}
}

func TestSelect(t *testing.T) {
	for _, tc := range selectCases() {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.tags)
			got, err := Select(tc.tags, tc.policy, now)
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if diff := cmp.Diff(orig, tc.tags); diff != "" {
				t.Errorf("Select modified its input (-before +after):\n%s", diff)
			}
			if got.Tag != tc.want {
				t.Errorf("Tag = %q, want %q", got.Tag, tc.want)
			}
			if got.Seen != len(tc.tags) {
				t.Errorf("Seen = %d, want %d", got.Seen, len(tc.tags))
			}
			if got.Matched != tc.matched {
				t.Errorf("Matched = %d, want %d", got.Matched, tc.matched)
			}
			if tc.skipped != nil {
				if diff := cmp.Diff(tc.skipped, got.Skipped, cmpEmpty); diff != "" {
					t.Errorf("Skipped (-want +got):\n%s", diff)
				}
				if got.SkippedTotal != tc.total {
					t.Errorf("SkippedTotal = %d, want %d", got.SkippedTotal, tc.total)
				}
			}
			if len(got.Skipped) > MaxSkipped || got.SkippedTotal < len(got.Skipped) {
				t.Errorf("Skipped has %d entries, SkippedTotal %d", len(got.Skipped), got.SkippedTotal)
			}
			if got.Seen != len(tc.tags) || got.Matched+got.SkippedTotal > got.Seen {
				t.Errorf("counts: seen %d, matched %d, skipped %d", got.Seen, got.Matched, got.SkippedTotal)
			}
			if tc.want != "" {
				i := slices.IndexFunc(tc.tags, func(x image.Tag) bool { return x.Name == tc.want })
				if got.Digest != tc.tags[i].Digest || !got.PushedAt.Equal(tc.tags[i].PushedAt) {
					t.Errorf("Choice digest/pushedAt = %q/%v, want those of %+v", got.Digest, got.PushedAt, tc.tags[i])
				}
			}
		})
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []Skip) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return slices.Equal(a, b)
})

func TestSelectSkippedCap(t *testing.T) {
	tags := make([]string, 35)
	for i := range tags {
		tags[i] = fmt.Sprintf("release.2024023%d", i%2) // 30 and 31 Feb
	}
	got, err := Select(names(tags...), mkPolicy(releasePattern, "$stamp", dateStrategy), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Skipped) != MaxSkipped || got.SkippedTotal != 35 || got.Matched != 0 || got.Tag != "" {
		t.Errorf("got %d skipped listed, %d in total, %d matched, tag %q; want %d, 35, 0, none", len(got.Skipped), got.SkippedTotal, got.Matched, got.Tag, MaxSkipped)
	}
	if got.Skipped[0].Tag != tags[0] || got.Skipped[19].Tag != tags[19] {
		t.Errorf("Skipped does not list the first tags in input order: %v", got.Skipped)
	}
}

// TestSelectOrderIndependent runs every case on shuffled and reversed copies
// of its tags: the choice must not change.
func TestSelectOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range selectCases() {
		t.Run(tc.name, func(t *testing.T) {
			want, err := Select(tc.tags, tc.policy, now)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 20 {
				tags := slices.Clone(tc.tags)
				if i == 0 {
					slices.Reverse(tags)
				} else {
					rng.Shuffle(len(tags), func(a, b int) { tags[a], tags[b] = tags[b], tags[a] })
				}
				got, err := Select(tags, tc.policy, now)
				if err != nil {
					t.Fatal(err)
				}
				if got.Tag != want.Tag || got.Digest != want.Digest || !got.PushedAt.Equal(want.PushedAt) || got.Matched != want.Matched || got.SkippedTotal != want.SkippedTotal {
					t.Fatalf("order %v: got %+v, want %+v", names2(tags), got, want)
				}
			}
		})
	}
}

func names2(tags []image.Tag) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = t.Name
	}
	return out
}

func TestSelectDuplicateNamesDifferentDigests(t *testing.T) {
	a := image.Tag{Name: "1.0.0", Digest: "sha256:aaaa"}
	b := image.Tag{Name: "1.0.0", Digest: "sha256:bbbb"}
	p := mkPolicy("", "", anySemver)
	for _, tags := range [][]image.Tag{{a, b}, {b, a}} {
		got, err := Select(tags, p, now)
		if err != nil {
			t.Fatal(err)
		}
		if got.Digest != "sha256:bbbb" {
			t.Errorf("Select(%v) digest = %q, want the greater, sha256:bbbb", tags, got.Digest)
		}
	}
}

func TestSelectImpossiblePolicy(t *testing.T) {
	tests := []struct {
		name   string
		policy *Policy
		want   string
	}{
		{"nil", nil, "selecting tags: nil policy"},
		{"unknown strategy", &Policy{Name: "p", Strategy: Strategy{Kind: "newest"}}, `policy p: unknown strategy "newest"`},
		{"date without layout", &Policy{Name: "p", Strategy: Strategy{Kind: Date}}, "policy p: date strategy without layout"},
		{"bad order", &Policy{Name: "p", Strategy: Strategy{Kind: Numerical, Order: "up"}}, `policy p: order "up" is neither asc nor desc`},
		{"extract without pattern", &Policy{Name: "p", Extract: "$1", Strategy: Strategy{Kind: Alphabetical}}, `policy p: extract "$1" without a pattern`},
		{"extract of a missing group", mkPolicy(`^(a)$`, "$2", Strategy{Kind: Alphabetical}), `policy test: extract "$2": group 2 does not exist: the pattern has 1 groups`},
		{"bad range", &Policy{Name: "p", Strategy: Strategy{Kind: SemVer, Range: ">>1"}}, `policy p: semver range ">>1": `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Select(names("1.0.0"), tc.policy, now)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Select error = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

// TestSelectHandBuiltPolicy checks that a Policy built in code, not by
// Parse, works: nothing needs compiling beyond the regular expressions.
func TestSelectHandBuiltPolicy(t *testing.T) {
	p := &Policy{Name: "p", Strategy: Strategy{Kind: Numerical}} // Order left empty: asc
	got, err := Select(names("1", "3", "2"), p, now)
	if err != nil || got.Tag != "3" {
		t.Errorf("Select = %+v, %v; want 3", got, err)
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name    string
		policy  *Policy
		a, b    image.Tag
		want    int
		wantErr string
	}{
		{"date newer", mkPolicy(releasePattern, "$stamp", dateStrategy), tag("release.20240301"), tag("release.20240229"), 1, ""},
		{"date older", mkPolicy(releasePattern, "$stamp", dateStrategy), tag("release.20240229"), tag("release.20240301"), -1, ""},
		{"date equal", mkPolicy(releasePattern, "$stamp", dateStrategy), tag("release.20240229"), tag("release.20240229"), 0, ""},
		{"date impossible", mkPolicy(releasePattern, "$stamp", dateStrategy), tag("release.20240231"), tag("release.20240229"), 0,
			`policy test: tag "release.20240231": "20240231" is not a date in layout "20060102": day out of range`},
		{"pattern mismatch", mkPolicy(releasePattern, "$stamp", dateStrategy), tag("release.20240229"), tag("latest"), 0,
			`policy test: tag "latest" does not match pattern "^release\\.(?P<stamp>\\d{8})$"`},
		{"semver", mkPolicy("", "", anySemver), tag("v1.10.0"), tag("v1.9.0"), 1, ""},
		{"semver calver", mkPolicy("", "", anySemver), tag("2024.1.30"), tag("2024.09.01"), -1, ""},
		{"semver v prefix is equal", mkPolicy("", "", anySemver), tag("v1.0.0"), tag("1.0.0"), 0, ""},
		{"semver ignores range", mkPolicy("", "", Strategy{Kind: SemVer, Range: "<2.0.0"}), tag("2.0.0"), tag("1.0.0"), 1, ""},
		{"semver prerelease below release", mkPolicy("", "", anySemver), tag("1.0.0-rc.1"), tag("1.0.0"), -1, ""},
		{"semver unparsable", mkPolicy("", "", anySemver), tag("1.0.0"), tag("latest"), 0,
			`policy test: tag "latest": "latest" is not a semantic version: not a semantic version`},
		{"numerical desc inverts", mkPolicy("", "", Strategy{Kind: Numerical, Order: "desc"}), tag("10"), tag("9"), -1, ""},
		{"numerical multi-part extract", mkPolicy(`^(\d+)\.(\d+)$`, "$1$2", Strategy{Kind: Numerical}), tag("20.24"), tag("20.23"), 1, ""},
		{"alphabetical", mkPolicy("", "", Strategy{Kind: Alphabetical}), tag("b"), tag("a"), 1, ""},
		{"pushedAt", mkPolicy("", "", Strategy{Kind: PushedAt}), pushed("a", time.Hour), pushed("b", 2*time.Hour), 1, ""},
		{"pushedAt without time", mkPolicy("", "", Strategy{Kind: PushedAt}), pushed("a", time.Hour), tag("b"), 0,
			`policy test: tag "b": no push time, which the pushedAt strategy orders by`},
		{"nil policy", nil, tag("a"), tag("b"), 0, "selecting tags: nil policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.policy.Compare(tc.a, tc.b)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Compare error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if got != tc.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tc.a.Name, tc.b.Name, got, tc.want)
			}
			if rev, err := tc.policy.Compare(tc.b, tc.a); err != nil || rev != -tc.want {
				t.Errorf("Compare(%q, %q) = %d, %v; want %d", tc.b.Name, tc.a.Name, rev, err, -tc.want)
			}
		})
	}
}

func tag(name string) image.Tag { return image.Tag{Name: name} }

// TestCompareAgreesWithSelect checks that the winner of Select is never
// below any other matched tag under Compare.
func TestCompareAgreesWithSelect(t *testing.T) {
	for _, tc := range selectCases() {
		if tc.want == "" || tc.policy.MinAge > 0 || len(tc.policy.Exclude) > 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			w := tc.tags[slices.IndexFunc(tc.tags, func(x image.Tag) bool { return x.Name == tc.want })]
			for _, o := range tc.tags {
				c, err := tc.policy.Compare(w, o)
				if err != nil {
					continue // unmanaged
				}
				if c < 0 && inRange(tc.policy, o) {
					t.Errorf("winner %q ranks below %q", w.Name, o.Name)
				}
			}
		})
	}
}

func inRange(p *Policy, t image.Tag) bool {
	got, _ := Select([]image.Tag{t}, p, now)
	return got.Tag != ""
}
