package updater

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// scalars returns the scalar nodes of every document of data.
func scalars(t testing.TB, data []byte) []*yaml.Node {
	t.Helper()
	out, err := scalarNodes(data)
	if err != nil {
		t.Fatalf("parsing: %v", err)
	}
	return out
}

func TestLocate(t *testing.T) {
	tests := []struct {
		name, src string
		value     string // the scalar to locate
		want      string // the text around the span: value in brackets
		bad       string
	}{
		{"plain", "a: b\n", "b", "a: [b]\n", ""},
		{"double", "a: \"b c\"\n", "b c", "a: \"[b c]\"\n", ""},
		{"single", "a: 'b'\n", "b", "a: '[b]'\n", ""},
		{"anchor", "a: &x b\nc: *x\n", "b", "a: &x [b]\nc: *x\n", ""},
		{"tag", "a: !!str  b\n", "b", "a: !!str  [b]\n", ""},
		{"anchor and tag on the line before", "a: &x !!str\n  b\n", "b", "a: &x !!str\n  [b]\n", ""},
		{"crlf", "x: 1\r\na: b\r\n", "b", "x: 1\r\na: [b]\r\n", ""},
		{"lone cr", "x: 1\ra: b\r", "b", "x: 1\ra: [b]\r", ""},
		{"nel", "x: 1\u0085a: b\n", "b", "x: 1\u0085a: [b]\n", ""},
		{"non-ascii before", "{é: 1, ☕: 2, a: b}\n", "b", "{é: 1, ☕: 2, a: [b]}\n", ""},
		{"bom", "\ufeffa: b\n", "b", "\ufeffa: [b]\n", ""},
		{"tabs", "a:\tb\t# c\n", "b", "a:\t[b]\t# c\n", ""},
		{"no final newline", "a: b", "b", "a: [b]", ""},
		{"empty quoted", "a: \"\"\n", "", "a: \"[]\"\n", ""},
		{"escaped", "a: \"b\\tc\"\n", "b\tc", "", "escapes"},
		{"doubled quote", "a: 'it''s'\n", "it's", "", "escapes"},
		{"multi-line plain", "a: b\n  c\n", "b c", "", "several lines"},
		{"multi-line quoted", "a: \"b\n  c\"\n", "b c", "", "escapes or line breaks"},
		{"literal", "a: |\n  b\n", "b\n", "", "block scalar"},
		{"folded", "a: >-\n  b\n", "b", "", "block scalar"},
		{"empty plain", "a:\n", "", "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.src)
			var n *yaml.Node
			for _, s := range scalars(t, data) {
				if s.Value == tt.value && s.Value != "a" {
					n = s
				}
			}
			if n == nil {
				t.Fatalf("no scalar %q", tt.value)
			}
			loc := locate(newLocator(data), n)
			if tt.bad != "" {
				if !strings.Contains(loc.bad, tt.bad) {
					t.Errorf("bad = %q, want %q", loc.bad, tt.bad)
				}
				return
			}
			if loc.bad != "" {
				t.Fatalf("bad: %s", loc.bad)
			}
			got := tt.src[:loc.span.start] + "[" + tt.src[loc.span.start:loc.span.end] + "]" + tt.src[loc.span.end:]
			if got != tt.want {
				t.Errorf("span marks %q, want %q", got, tt.want)
			}
			// Line and column are the value's, in characters.
			lineStart := 0
			if i := strings.LastIndexAny(tt.src[:loc.span.start], "\n\r\u0085"); i >= 0 {
				_, w := utf8.DecodeRuneInString(tt.src[i:])
				lineStart = i + w
			}
			if tt.name == "bom" {
				lineStart = 3
			}
			if want := len([]rune(tt.src[lineStart:loc.span.start])) + 1; loc.col != want {
				t.Errorf("column %d, want %d", loc.col, want)
			}
		})
	}
}

// TestLocateGoldenScalars: every single-line scalar of the golden originals
// is located at bytes that spell it.
func TestLocateGoldenScalars(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/original/*.*")
	files2, _ := filepath.Glob("testdata/*/original/*/*/*.yaml")
	for _, f := range append(files, files2...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(f, "templates") || strings.HasSuffix(f, ".tpl") {
			continue
		}
		lc := newLocator(data)
		for _, n := range scalars(t, data) {
			loc := locate(lc, n)
			if loc.bad != "" {
				if n.Value != "" {
					t.Errorf("%s:%d:%d: %q: %s", f, n.Line, n.Column, n.Value, loc.bad)
				}
				continue
			}
			if got := string(data[loc.span.start:loc.span.end]); got != n.Value {
				t.Errorf("%s:%d: span holds %q, value %q", f, n.Line, got, n.Value)
			}
		}
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		v     string
		quote byte
		want  string
		err   bool
	}{
		{"1.2.3", 0, "1.2.3", false},
		{"v1.2", 0, "v1.2", false},
		{"release.20240101", 0, "release.20240101", false},
		{"nginx:1.25@sha256:abc", 0, "nginx:1.25@sha256:abc", false},
		{"1.10", 0, `"1.10"`, false},
		{"20240101", 0, `"20240101"`, false},
		{"1e5", 0, `"1e5"`, false},
		{"0x1F", 0, `"0x1F"`, false},
		{"1:20", 0, `"1:20"`, false},
		{"on", 0, `"on"`, false},
		{"null", 0, `"null"`, false},
		{"", 0, `""`, false},
		{"-x", 0, `"-x"`, false},
		{"a: b", 0, `"a: b"`, false},
		{"a\nb", 0, "", true},
		{`a"b`, 0, `a"b`, false},
		{`"a`, 0, "", true},
		{"1.10", '"', "1.10", false},
		{`a"b`, '"', "", true},
		{`a\b`, '"', "", true},
		{"it's", '\'', "", true},
		{`a"b`, '\'', `a"b`, false},
	}
	for _, tt := range tests {
		got, shift, err := encode(tt.v, tt.quote)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("encode(%q, %q) = %q, %v; want %q, error %v", tt.v, tt.quote, got, err, tt.want, tt.err)
		}
		if err == nil && got[shift:shift+len(tt.v)] != tt.v {
			t.Errorf("encode(%q): shift %d", tt.v, shift)
		}
		// What is written plain reads back as the same string.
		if err == nil && tt.quote == 0 {
			var s any
			if err := yaml.Unmarshal([]byte("k: "+got), &s); err != nil {
				t.Errorf("%q: %v", got, err)
			} else if v := s.(map[string]any)["k"]; v != tt.v {
				t.Errorf("%q reads back as %#v", got, v)
			}
		}
	}
}

func TestParseMarker(t *testing.T) {
	tests := []struct {
		in   string
		name string
		form Form
		ok   bool
	}{
		{"app", "app", FormImage, true},
		{"app:tag", "app", FormTag, true},
		{"app:name", "app", FormName, true},
		{"app:digest", "app", FormDigest, true},
		{"flux-system:app", "app", FormImage, true},
		{"flux-system:app:tag", "app", FormTag, true},
		{"flux-system:app:bogus", "", "", false},
		{"a:b:c:d", "", "", false},
		{"", "", "", false},
		{"ns:", "", "", false},
	}
	for _, tt := range tests {
		name, form, ok := parseMarker(tt.in)
		if name != tt.name || form != tt.form || ok != tt.ok {
			t.Errorf("parseMarker(%q) = %q, %q, %v; want %q, %q, %v", tt.in, name, form, ok, tt.name, tt.form, tt.ok)
		}
	}
	for in, want := range map[string]string{
		` {"$imagepolicy": "app:tag"}`:    "app:tag",
		`{"$imagepolicy":"app"} trailing`: "app",
		` $imagepolicy: app`:              "",
		` {"$imagepolicy": 3}`:            "",
		` {"other": "x"} $imagepolicy`:    "",
	} {
		got, ok := commentMarker([]byte(in))
		if got != want || ok != (want != "") {
			t.Errorf("commentMarker(%q) = %q, %v", in, got, ok)
		}
	}
}
