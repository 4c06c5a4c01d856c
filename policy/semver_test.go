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
	strings.Repeat("1", 257), "1.2.3-" + strings.Repeat("a", 250),
}

// TestSemverMatchesMasterminds pins parseSemver to semver.NewVersion: same
// acceptance, same parts.
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
	if got.major != want.Major() || got.minor != want.Minor() || got.patch != want.Patch() || got.pre != want.Prerelease() || got.meta != want.Metadata() {
		t.Fatalf("parseSemver(%q) = %+v, semver.NewVersion = %v", s, got, want)
	}
	canon, err := semver.StrictNewVersion(string(got.appendCanonical(nil)))
	if err != nil || !canon.Equal(want) || canon.Metadata() != want.Metadata() {
		t.Fatalf("canonical form of %q = %v, %v; want %v", s, canon, err, want)
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
	if got, want := compareSemver(&ka, &kb), va.Compare(vb); got != want {
		t.Fatalf("compareSemver(%q, %q) = %d, semver says %d", a, b, got, want)
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
		if got, want := s.inRange(&k), star.Check(semver.MustParse(v)); got != want {
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
