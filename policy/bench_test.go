package policy

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/image"
)

const benchTags = 100_000

// releaseTags returns n tags release.YYYYMMDD, one per day, with a few
// signature and junk tags mixed in.
func releaseTags(n int) []image.Tag {
	tags := make([]image.Tag, n)
	day := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range tags {
		name := "release." + day.AddDate(0, 0, i).Format("20060102")
		switch i % 1000 {
		case 1:
			name += ".sig"
		case 2:
			name = fmt.Sprintf("sha-%07x", i)
		}
		tags[i] = image.Tag{Name: name, Digest: "sha256:0123", PushedAt: day.AddDate(0, 0, i)}
	}
	return tags
}

// semverTags returns n tags vMAJOR.MINOR.PATCH with some prereleases.
func semverTags(n int) []image.Tag {
	tags := make([]image.Tag, n)
	for i := range tags {
		name := fmt.Sprintf("v%d.%d.%d", i/10000, i/100%100, i%100)
		if i%50 == 0 {
			name += "-rc.1"
		}
		tags[i] = image.Tag{Name: name}
	}
	return tags
}

func BenchmarkSelect100k(b *testing.B) {
	date := &Policy{
		Name:     "date",
		Pattern:  regexp.MustCompile(`^release\.(?P<stamp>\d{8})$`),
		Extract:  "$stamp",
		Exclude:  []*regexp.Regexp{regexp.MustCompile(`\.sig$`)},
		Strategy: Strategy{Kind: Date, Layout: "20060102"},
	}
	semverAny := &Policy{Name: "semver", Pattern: regexp.MustCompile(`^v`), Strategy: Strategy{Kind: SemVer}}
	semverRange := &Policy{Name: "semver-range", Pattern: regexp.MustCompile(`^v`), Strategy: Strategy{Kind: SemVer, Range: ">=1.0.0 <9.0.0"}}
	cases := []struct {
		name   string
		policy *Policy
		tags   []image.Tag
		want   string
	}{
		{"date", date, releaseTags(benchTags), ""},
		{"semver", semverAny, semverTags(benchTags), "v9.99.99"},
		{"semver-range", semverRange, semverTags(benchTags), "v8.99.99"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			got, err := Select(c.tags, c.policy, now)
			if err != nil || got.Tag == "" || c.want != "" && got.Tag != c.want {
				b.Fatalf("Select = %+v, %v", got.Tag, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Select(c.tags, c.policy, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
