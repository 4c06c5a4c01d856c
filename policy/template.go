package policy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is one part of a compiled extract template: a literal, or the text
// of capture group group when group >= 0.
type piece struct {
	lit   string
	group int
}

// template is a compiled spec.filterTags.extract. It expands exactly like
// regexp.Expand, with every group reference resolved once at compile time.
type template struct {
	pieces []piece
	single int // the group index when the template is one bare reference, else -1
}

// compileTemplate resolves the group references of an extract template
// against re. Unlike regexp.Expand, which silently expands an unknown group
// or a malformed "$" to nothing or to itself, it reports both: they are
// mistakes in a policy file.
func compileTemplate(re *regexp.Regexp, tmpl string) (template, error) {
	t := template{single: -1}
	names := re.SubexpNames()
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.pieces = append(t.pieces, piece{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	refs := 0
	rest := tmpl
	for len(rest) > 0 {
		before, after, ok := strings.Cut(rest, "$")
		lit.WriteString(before)
		if !ok {
			break
		}
		rest = after
		if rest != "" && rest[0] == '$' {
			lit.WriteByte('$')
			rest = rest[1:]
			continue
		}
		name, num, tail, ok := extractRef(rest)
		if !ok {
			return template{}, fmt.Errorf("malformed group reference at %q (use $name, ${name} or $$ for a literal $)", "$"+rest)
		}
		rest = tail
		group := -1
		if num >= 0 {
			if num > re.NumSubexp() {
				return template{}, fmt.Errorf("group %d does not exist: the pattern has %d groups", num, re.NumSubexp())
			}
			group = num
		} else {
			for i, n := range names {
				if i > 0 && n == name {
					group = i
					break
				}
			}
			if group < 0 {
				msg := fmt.Sprintf("the pattern has no group named %q", name)
				if name[0] >= '0' && name[0] <= '9' {
					msg += fmt.Sprintf(" (for a numbered group followed by text write ${%s})", leadingDigits(name))
				}
				return template{}, fmt.Errorf("%s", msg)
			}
		}
		flush()
		t.pieces = append(t.pieces, piece{group: group})
		refs++
	}
	flush()
	if refs == 0 {
		return template{}, fmt.Errorf("template %q references no group, so every tag would extract the same value", tmpl)
	}
	if len(t.pieces) == 1 {
		t.single = t.pieces[0].group
	}
	return t, nil
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// extractRef parses the name after a "$" exactly as regexp.Expand does.
func extractRef(str string) (name string, num int, rest string, ok bool) {
	if str == "" {
		return "", 0, "", false
	}
	brace := false
	if str[0] == '{' {
		brace = true
		str = str[1:]
	}
	i := 0
	for i < len(str) {
		r, size := utf8.DecodeRuneInString(str[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
			break
		}
		i += size
	}
	if i == 0 {
		return "", 0, "", false
	}
	name = str[:i]
	if brace {
		if i >= len(str) || str[i] != '}' {
			return "", 0, "", false
		}
		i++
	}
	num = 0
	for j := 0; j < len(name); j++ {
		if name[j] < '0' || '9' < name[j] || num >= 1e8 {
			num = -1
			break
		}
		num = num*10 + int(name[j]) - '0'
	}
	if name[0] == '0' && len(name) > 1 {
		num = -1
	}
	return name, num, str[i:], true
}

// expand appends the template's expansion for the submatch indices m of s
// to dst.
func (t *template) expand(dst []byte, s string, m []int) []byte {
	for _, p := range t.pieces {
		if p.group < 0 {
			dst = append(dst, p.lit...)
			continue
		}
		if 2*p.group+1 < len(m) && m[2*p.group] >= 0 {
			dst = append(dst, s[m[2*p.group]:m[2*p.group+1]]...)
		}
	}
	return dst
}
