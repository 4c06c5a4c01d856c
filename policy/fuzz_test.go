package policy

import (
	"hash/fnv"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/image"
)

var fuzzKinds = []StrategyKind{Date, SemVer, Numerical, Alphabetical, PushedAt}

// fuzzTags turns a newline-separated list into tags whose digest and push
// time depend only on the name, so that reordering the list reorders the
// same tags.
func fuzzTags(blob string) []image.Tag {
	var tags []image.Tag
	for name := range strings.SplitSeq(blob, "\n") {
		if len(tags) == 64 {
			break
		}
		h := fnv.New64a()
		h.Write([]byte(name))
		sum := h.Sum64()
		t := image.Tag{Name: name, Digest: "sha256:" + strings.Repeat("ab", 16)[:int(sum%8)]}
		if sum%5 != 0 {
			t.PushedAt = now.Add(-time.Duration(sum%7200) * time.Second)
		}
		tags = append(tags, t)
	}
	return tags
}

func FuzzSelect(f *testing.F) {
	f.Add(`^release\.(?P<stamp>\d{8})$`, "$stamp", "release.20240301\nrelease.20240229\nrelease.20240231\nlatest", uint8(0), "")
	f.Add("", "", "v1.9.0\nv1.10.0\n1.10.0\n2024.09.01\n2024.1.30\n1.0.0-rc.1", uint8(1), ">=1.0.0 <2.0.0")
	f.Add("", "", "1.0.0\nv1.0.0\n1.0", uint8(1), "")
	f.Add(`^(\d+)\.(\d+)$`, "$1$2", "1.5\n1.25\n12345678901234567891.0\n-3", uint8(2|8), "")
	f.Add(`^main-`, "", "main-b\nmain-a\nmain-b", uint8(3), "")
	f.Add(`.`, "", "a\nb\nc", uint8(4|16), "")
	f.Add(`(x)?y`, "$1", "y\nxy\nxxy", uint8(2), "")
	f.Fuzz(func(t *testing.T, pattern, extract, blob string, flags uint8, rng string) {
		p := &Policy{Name: "fuzz", Strategy: Strategy{Kind: fuzzKinds[int(flags&7)%len(fuzzKinds)]}}
		if pattern != "" {
			re, err := regexp.Compile(pattern)
			if err != nil {
				return
			}
			p.Pattern = re
		}
		if extract != "" {
			if p.Pattern == nil {
				return
			}
			if _, err := compileTemplate(p.Pattern, extract); err != nil {
				return
			}
			p.Extract = extract
		}
		switch p.Strategy.Kind {
		case Date:
			p.Strategy.Layout = []string{"20060102", "2006.01.02", "2006-01-02T15:04:05Z07:00", "Jan 2"}[int(flags>>3)%4]
		case SemVer:
			if _, err := parseRange(rng); err != nil {
				return
			}
			p.Strategy.Range = rng
		case Numerical, Alphabetical:
			p.Strategy.Order = "asc"
			if flags&8 != 0 {
				p.Strategy.Order = "desc"
			}
		}
		if flags&16 != 0 {
			p.MinAge = 30 * time.Minute
		}
		tags := fuzzTags(blob)
		orig := slices.Clone(tags)

		got, err := Select(tags, p, now)
		if err != nil {
			t.Fatalf("Select: %v", err)
		}
		if !slices.Equal(orig, tags) {
			t.Fatalf("Select modified its input")
		}
		if got.Tag != "" {
			i := slices.IndexFunc(tags, func(x image.Tag) bool {
				return x.Name == got.Tag && x.Digest == got.Digest && x.PushedAt.Equal(got.PushedAt)
			})
			if i < 0 {
				t.Fatalf("Select chose %+v, which is not one of the tags", got)
			}
			if c, err := p.Compare(tags[i], tags[i]); c != 0 && err == nil {
				t.Fatalf("Compare(%q, itself) = %d", got.Tag, c)
			}
		} else if got.Matched != 0 {
			t.Fatalf("Matched = %d with no tag chosen", got.Matched)
		}
		if got.Seen != len(tags) || got.Matched+got.SkippedTotal > got.Seen || len(got.Skipped) > MaxSkipped {
			t.Fatalf("counts: %+v for %d tags", got, len(tags))
		}

		for _, reorder := range []func([]image.Tag){
			slices.Reverse[[]image.Tag],
			func(ts []image.Tag) { // rotate by one
				if len(ts) > 1 {
					first := ts[0]
					copy(ts, ts[1:])
					ts[len(ts)-1] = first
				}
			},
			func(ts []image.Tag) {
				slices.SortFunc(ts, func(a, b image.Tag) int { return strings.Compare(a.Digest+a.Name, b.Digest+b.Name) })
			},
		} {
			other := slices.Clone(tags)
			reorder(other)
			again, err := Select(other, p, now)
			if err != nil {
				t.Fatal(err)
			}
			if again.Tag != got.Tag || again.Digest != got.Digest || !again.PushedAt.Equal(got.PushedAt) || again.Matched != got.Matched || again.SkippedTotal != got.SkippedTotal {
				t.Fatalf("result depends on order:\n%+v\n%+v", got, again)
			}
		}
	})
}
