package policy

import (
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

var semverSamples = []string{
	"", "v", "1", "v1", "1.2", "v1.2", "1.2.3", "v1.2.3", "V1.2.3", "1.2.3.4", "01.02.03", "2024.09.01", "2024.1.30",
	"1.2.3-rc.1", "1.2.3-rc.01", "1.2.3-01", "1.2.3-0", "1.2.3-0a", "1.2.3-rc-1", "1.2.3--", "1.2.3-", "1.2.3-a..b",
	"1.2.3+build.5", "1.2.3+", "1.2.3+b+c", "1.2.3-rc.1+build", "1.2-rc.1", "1-rc.1", "1.2.3-rc.1+b.01",
	"1.", "1..2", ".1", "1.2.", "1.2.3 ", " 1.2.3", "1.2.x", "1.x", "x", "1.2.3-ü", "18446744073709551615.0.0",
	"18446744073709551616.0.0", "0.0.0", "v0", "1.2.3-alpha.beta", "1.2.3-alpha.1.2", "1.0.0-x.7.z.92",
	strings.Repeat("1", 257), "1.2.3-" + strings.Repeat("a", 250), "v" + "1.2.3-" + strings.Repeat("a", 250), "vv1.2.3", "v1.2.3-v", "1.2.3+v", "v01.2.3", "v1.02.3",
}

// TestSemverMatchesMasterminds pins parseSemver (the strict parser first) to
// semver.NewVersion: same acceptance, same parts.
func TestSemverMatchesMasterminds(t *testing.T) {
	for _, s := range semverSamples {
		checkSemverEquivalent(t, s)
	}
}

func checkSemverEquivalent(t *testing.T, s string) {
	t.Helper()
	want, werr := semver.NewVersion(s)
	got, gerr := parseSemver(s)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("parseSemver(%q) error = %v, semver.NewVersion error = %v", s, gerr, werr)
	}
	if werr != nil {
		return
	}
	if got.Major() != want.Major() || got.Minor() != want.Minor() || got.Patch() != want.Patch() || got.Prerelease() != want.Prerelease() || got.Metadata() != want.Metadata() {
		t.Fatalf("parseSemver(%q) = %v, semver.NewVersion = %v", s, got, want)
	}
	if !got.Equal(want) {
		t.Fatalf("parseSemver(%q) = %v, not equal to semver.NewVersion's %v", s, got, want)
	}
}

func TestCompareSemverMatchesMasterminds(t *testing.T) {
	vs := []string{"1.0.0", "v1.0.0", "1.0.0-rc.1", "1.0.0-rc.2", "1.0.0-rc.10", "1.0.0-rc", "1.0.0-rc.1.1", "1.0.0-1",
		"1.0.0-2", "1.0.0-10", "1.0.0-a", "1.0.0-A", "1.0.0-alpha.beta", "1.0.0+build", "1.10.0", "1.9.0", "2024.09.01",
		"2024.1.30", "0.0.1", "1.0.0-18446744073709551616", "1.0.0-18446744073709551615"}
	for _, a := range vs {
		for _, b := range vs {
			checkCompareEquivalent(t, a, b)
		}
	}
}

func checkCompareEquivalent(t *testing.T, a, b string) {
	t.Helper()
	va, erra := semver.NewVersion(a)
	vb, errb := semver.NewVersion(b)
	if erra != nil || errb != nil {
		return
	}
	ka, _ := parseSemver(a)
	kb, _ := parseSemver(b)
	if got, want := ka.Compare(kb), va.Compare(vb); got != want {
		t.Fatalf("parseSemver(%q).Compare(parseSemver(%q)) = %d, semver.NewVersion's say %d", a, b, got, want)
	}
}

// TestEmptyRangeIsStar checks the shortcut Select takes without a range: it
// must agree with the range "*".
func TestEmptyRangeIsStar(t *testing.T) {
	star, err := semver.NewConstraint("*")
	if err != nil {
		t.Fatal(err)
	}
	s := &selector{}
	for _, v := range semverSamples {
		k, err := parseSemver(v)
		if err != nil {
			continue
		}
		if got, want := s.inRange(k), star.Check(semver.MustParse(v)); got != want {
			t.Errorf("empty range accepts %q: %v; \"*\" does: %v", v, got, want)
		}
	}
}

func FuzzSemverParse(f *testing.F) {
	for _, s := range semverSamples {
		f.Add(s, "1.0.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		checkSemverEquivalent(t, a)
		checkCompareEquivalent(t, a, b)
	})
}
