package policy

import (
	"math/big"
	"regexp"
	"strings"
	"testing"
)

func TestCompareDecimal(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"9", "10", -1},
		{"10", "10", 0},
		{"010", "10", 0},
		{"1.50", "1.5", 0},
		{"1.5", "1.25", 1},
		{"1.10", "1.9", -1},
		{"-1", "1", -1},
		{"-2", "-1", -1},
		{"-0", "0", 0},
		{"0.000", "-0.0", 0},
		{".5", "0.5", 0},
		{"5.", "5", 0},
		{"1e3", "1000", 0},
		{"1E-3", "0.001", 0},
		{"+7", "7", 0},
		{"12345678901234567891", "12345678901234567890", 1},
		{"100000000000000000000000000001", "100000000000000000000000000000", 1},
		{"0.1", "0.09", 1},
		{"0.01", "0.1", -1},
		{"100", "99.999", 1},
		{"1e1000000", "9", 1},
		{"-1e-1000000", "0", -1},
	}
	for _, tc := range tests {
		a, err := parseDecimal(tc.a)
		if err != nil {
			t.Fatalf("parseDecimal(%q): %v", tc.a, err)
		}
		b, err := parseDecimal(tc.b)
		if err != nil {
			t.Fatalf("parseDecimal(%q): %v", tc.b, err)
		}
		if got := compareDecimal(&a, &b); got != tc.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := compareDecimal(&b, &a); got != -tc.want {
			t.Errorf("compare(%s, %s) = %d, want %d", tc.b, tc.a, got, -tc.want)
		}
	}
	for _, bad := range []string{"", "-", "+", ".", "e3", "1e", "1e+", "0x10", "Inf", "NaN", "1_000", "1.2.3", " 1", "1 ", "1e99999999999999"} {
		if _, err := parseDecimal(bad); err == nil {
			t.Errorf("parseDecimal(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzDecimal(f *testing.F) {
	f.Add("1.5", "-2e3")
	f.Add("0001", "1.000")
	f.Fuzz(func(t *testing.T, a, b string) {
		da, erra := parseDecimal(a)
		db, errb := parseDecimal(b)
		if erra != nil || errb != nil || len(a) > 60 || len(b) > 60 || strings.ContainsAny(a+b, "eE") {
			return
		}
		ra, ok1 := new(big.Rat).SetString(a)
		rb, ok2 := new(big.Rat).SetString(b)
		if !ok1 || !ok2 {
			t.Fatalf("big.Rat cannot parse %q or %q", a, b)
		}
		if got, want := compareDecimal(&da, &db), ra.Cmp(rb); got != want {
			t.Fatalf("compare(%q, %q) = %d, big.Rat says %d", a, b, got, want)
		}
	})
}

func TestGoverns(t *testing.T) {
	tests := []struct {
		name  string
		globs []string
		file  string
		want  bool
	}{
		{"no paths governs all", nil, "anything/at/all.yaml", true},
		{"double star below", []string{"overlays/staging/**"}, "overlays/staging/app/deploy.yaml", true},
		{"double star direct child", []string{"overlays/staging/**"}, "overlays/staging/kustomization.yaml", true},
		{"double star zero segments", []string{"overlays/staging/**"}, "overlays/staging", true},
		{"sibling directory", []string{"overlays/staging/**"}, "overlays/production/kustomization.yaml", false},
		{"prefix is not a directory", []string{"overlays/staging/**"}, "overlays/staging-eu/x.yaml", false},
		{"middle double star", []string{"apps/**/values.yaml"}, "apps/a/b/c/values.yaml", true},
		{"middle double star zero", []string{"apps/**/values.yaml"}, "apps/values.yaml", true},
		{"middle double star wrong file", []string{"apps/**/values.yaml"}, "apps/a/other.yaml", false},
		{"leading double star", []string{"**/kustomization.yaml"}, "a/b/kustomization.yaml", true},
		{"leading double star top", []string{"**/kustomization.yaml"}, "kustomization.yaml", true},
		{"star is one segment", []string{"overlays/*/kustomization.yaml"}, "overlays/a/b/kustomization.yaml", false},
		{"star matches", []string{"overlays/*/kustomization.yaml"}, "overlays/a/kustomization.yaml", true},
		{"class", []string{"env-[ab]/*.yaml"}, "env-b/x.yaml", true},
		{"exact file", []string{"deploy.yaml"}, "deploy.yaml", true},
		{"exact file deeper", []string{"deploy.yaml"}, "x/deploy.yaml", false},
		{"second glob", []string{"a/**", "b/**"}, "b/x.yaml", true},
		{"dot slash file", []string{"a/**"}, "./a/x.yaml", true},
		{"unclean file", []string{"a/*.yaml"}, "a//x.yaml", true},
		{"trailing slash is a directory", []string{"overlays/"}, "overlays/a/b.yaml", true},
		{"repeated double star", []string{"a/**/**/z"}, "a/b/z", true},
		{"double star then star", []string{"**/*.yaml"}, "a/b.yml", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &Policy{UpdatePaths: tc.globs}
			if got := p.Governs(tc.file); got != tc.want {
				t.Errorf("Governs(%q) with %q = %v, want %v", tc.file, tc.globs, got, tc.want)
			}
		})
	}
}

func TestCheckGlob(t *testing.T) {
	for _, good := range []string{"a/**", "**", "**/x.yaml", "a/*/b", "a/[bc]/d", "a/**/b/**"} {
		if err := checkGlob(good); err != nil {
			t.Errorf("checkGlob(%q) = %v, want nil", good, err)
		}
	}
	for bad, want := range map[string]string{
		"":          "empty glob",
		"/abs/**":   `glob "/abs/**" must be relative to the repository root`,
		"a/[b":      `glob "a/[b": syntax error in pattern`,
		"a/**.yaml": `glob "a/**.yaml": ** must be a whole path segment`,
		`a/\`:       `glob "a/\\": syntax error in pattern`,
	} {
		if err := checkGlob(bad); err == nil || err.Error() != want {
			t.Errorf("checkGlob(%q) = %v, want %q", bad, err, want)
		}
	}
}

func TestCompileTemplate(t *testing.T) {
	re := regexp.MustCompile(`^(?P<year>\d{4})(?P<rest>.*)-(\d+)$`)
	tests := []struct {
		tmpl    string
		want    string // expansion of "2024abc-7"
		wantErr string
	}{
		{tmpl: "$year", want: "2024"},
		{tmpl: "${year}x", want: "2024x"},
		{tmpl: "$3", want: "7"},
		{tmpl: "$0", want: "2024abc-7"},
		{tmpl: "$year.$3", want: "2024.7"},
		{tmpl: "$$$year", want: "$2024"},
		{tmpl: "${3}0", want: "70"},
		{tmpl: "$4", wantErr: "group 4 does not exist: the pattern has 3 groups"},
		{tmpl: "$yr", wantErr: `the pattern has no group named "yr"`},
		{tmpl: "$3x", wantErr: `the pattern has no group named "3x" (for a numbered group followed by text write ${3})`},
		{tmpl: "$01", wantErr: `the pattern has no group named "01" (for a numbered group followed by text write ${01})`},
		{tmpl: "a$", wantErr: `malformed group reference at "$" (use $name, ${name} or $$ for a literal $)`},
		{tmpl: "${year", wantErr: `malformed group reference at "${year"`},
		{tmpl: "${}", wantErr: `malformed group reference at "${}"`},
		{tmpl: "fixed", wantErr: `template "fixed" references no group, so every tag would extract the same value`},
		{tmpl: "$$", wantErr: `template "$$" references no group`},
	}
	for _, tc := range tests {
		tmpl, err := compileTemplate(re, tc.tmpl)
		if tc.wantErr != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("compileTemplate(%q) error = %v, want prefix %q", tc.tmpl, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("compileTemplate(%q): %v", tc.tmpl, err)
			continue
		}
		src := "2024abc-7"
		m := re.FindStringSubmatchIndex(src)
		got := string(tmpl.expand(nil, src, m))
		if got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
		if std := string(re.ExpandString(nil, tc.tmpl, src, m)); got != std {
			t.Errorf("expand(%q) = %q, regexp.Expand = %q", tc.tmpl, got, std)
		}
	}
}
