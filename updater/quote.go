package updater

import (
	"fmt"
	"regexp"
	"strings"
)

// encode returns the text that replaces a scalar's value, given its quote
// character (0 for a plain scalar), and where the value starts in that text. A
// plain value that YAML would not read back as the same string is written
// double-quoted.
func encode(v string, quote byte) (string, int, error) {
	switch quote {
	case '"':
		if strings.ContainsAny(v, "\"\\") || hasControl(v) {
			return "", 0, fmt.Errorf("cannot write %q inside double quotes without escapes", v)
		}
		return v, 0, nil
	case '\'':
		if strings.ContainsRune(v, '\'') || hasControl(v) {
			return "", 0, fmt.Errorf("cannot write %q inside single quotes without escapes", v)
		}
		return v, 0, nil
	}
	if !plainNeedsQuotes(v) {
		return v, 0, nil
	}
	if strings.ContainsAny(v, "\"\\") || hasControl(v) {
		return "", 0, fmt.Errorf("cannot write %q as a YAML value without escapes", v)
	}
	return `"` + v + `"`, 1, nil
}

// hasControl reports whether v holds a control character or a line break.
func hasControl(v string) bool {
	for _, r := range v {
		if r < 0x20 || r == 0x7F || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xFEFF {
			return true
		}
	}
	return false
}

var (
	// Scalars YAML 1.1 or 1.2 read as something other than a string.
	nonStringWords = map[string]bool{
		"~": true, "null": true, "Null": true, "NULL": true,
		"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
		"y": true, "Y": true, "yes": true, "Yes": true, "YES": true,
		"n": true, "N": true, "no": true, "No": true, "NO": true,
		"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true,
		".inf": true, ".Inf": true, ".INF": true, "+.inf": true, "+.Inf": true, "+.INF": true,
		"-.inf": true, "-.Inf": true, "-.INF": true, ".nan": true, ".NaN": true, ".NAN": true,
	}
	numberRE = regexp.MustCompile(`^[-+]?(?:[0-9][0-9_]*(?::[0-5]?[0-9])*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?0(?:x[0-9a-fA-F_]+|o[0-7_]+|b[01_]+)$`)
)

// plainNeedsQuotes reports whether v cannot be written as a plain scalar
// that reads back as the string v in any context (block or flow, YAML 1.1
// or 1.2).
func plainNeedsQuotes(v string) bool {
	if v == "" || nonStringWords[v] || numberRE.MatchString(v) {
		return true
	}
	if strings.ContainsAny(v[:1], "-?:,[]{}#&*!|>'\"%@`") {
		return true
	}
	if strings.ContainsAny(v, ",[]{}\t") || strings.Contains(v, ": ") || strings.Contains(v, " #") ||
		strings.HasSuffix(v, ":") || strings.HasPrefix(v, " ") || strings.HasSuffix(v, " ") {
		return true
	}
	return hasControl(v)
}
