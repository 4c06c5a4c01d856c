package policy

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// template is a compiled spec.filterTags.extract: the template text, checked
// against the pattern's groups, and expanded by regexp.Regexp.ExpandString.
type template struct {
	re     *regexp.Regexp
	text   string
	single int // the group index when the template is one bare reference, else -1
}

// compileTemplate checks the group references of an extract template
// against re. Unlike regexp.Expand, which silently expands an unknown group
// or a malformed "$" to nothing or to itself, it reports both: they are
// mistakes in a policy file. A template that is one bare reference is
// marked, so that Select takes the group's text without expanding.
func compileTemplate(re *regexp.Regexp, tmpl string) (template, error) {
	t := template{re: re, text: tmpl, single: -1}
	names := re.SubexpNames()
	refs, literal := 0, false
	rest := tmpl
	for len(rest) > 0 {
		before, after, ok := strings.Cut(rest, "$")
		literal = literal || before != ""
		if !ok {
			break
		}
		rest = after
		if rest != "" && rest[0] == '$' {
			literal = true
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
		refs++
		t.single = group
	}
	if refs == 0 {
		return template{}, fmt.Errorf("template %q references no group, so every tag would extract the same value", tmpl)
	}
	if refs > 1 || literal {
		t.single = -1
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

// extractRef parses the name after a "$" exactly as regexp.Expand does
// (regexp has no API that reports an unknown or malformed reference).
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
	return t.re.ExpandString(dst, t.text, s, m)
}
