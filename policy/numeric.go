package policy

import (
	"cmp"
	"errors"
)

// decimal is an exactly compared decimal number, so that integers longer
// than a float64 holds (build numbers, timestamps in nanoseconds) still
// order correctly. Its value is sign × 0.D × 10^exp, where the digit string
// D = hi+lo has neither leading nor trailing zeros (both empty for zero). hi
// and lo are substrings of the parsed text, so parsing does not allocate.
type decimal struct {
	neg    bool
	hi, lo string
	exp    int64
}

var (
	errNumberSyntax = errors.New("not a decimal number")
	errNumberRange  = errors.New("exponent out of range")
)

// maxExponent bounds the exponent of numbers written in scientific form.
const maxExponent = 1 << 40

// parseDecimal parses [+-]digits[.digits][(e|E)[+-]digits], with at least
// one digit before the exponent. That is the decimal syntax of
// strconv.ParseFloat without hexadecimal, underscores, Inf and NaN.
func parseDecimal(s string) (decimal, error) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		d.neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[intStart:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac = s[fs:i]
	}
	if intPart == "" && frac == "" {
		return decimal{}, errNumberSyntax
	}
	var e int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && isDigit(s[i]) {
			e = e*10 + int64(s[i]-'0')
			if e > maxExponent {
				return decimal{}, errNumberRange
			}
			i++
		}
		if i == es {
			return decimal{}, errNumberSyntax
		}
		if eneg {
			e = -e
		}
	}
	if i != len(s) {
		return decimal{}, errNumberSyntax
	}

	// Normalise: strip leading zeros (moving the point), then trailing ones.
	exp := int64(len(intPart))
	hi, lo := intPart, frac
	for hi != "" && hi[0] == '0' {
		hi = hi[1:]
		exp--
	}
	if hi == "" {
		for lo != "" && lo[0] == '0' {
			lo = lo[1:]
			exp--
		}
	}
	for lo != "" && lo[len(lo)-1] == '0' {
		lo = lo[:len(lo)-1]
	}
	if lo == "" {
		for hi != "" && hi[len(hi)-1] == '0' {
			hi = hi[:len(hi)-1]
		}
	}
	if hi == "" && lo == "" {
		return decimal{}, nil // zero, whatever its sign
	}
	d.hi, d.lo, d.exp = hi, lo, exp+e
	return d, nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (d *decimal) zero() bool { return d.hi == "" && d.lo == "" }

func (d *decimal) digit(i int) byte {
	if i < len(d.hi) {
		return d.hi[i]
	}
	return d.lo[i-len(d.hi)]
}

func (d *decimal) ndigits() int { return len(d.hi) + len(d.lo) }

// compareDecimal returns -1, 0 or +1 as a is less than, equal to or greater
// than b.
func compareDecimal(a, b *decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		return cmp.Compare(sa, sb)
	}
	if sa == 0 {
		return 0
	}
	c := compareMagnitude(a, b)
	if sa < 0 {
		return -c
	}
	return c
}

func (d *decimal) sign() int {
	switch {
	case d.zero():
		return 0
	case d.neg:
		return -1
	}
	return 1
}

func compareMagnitude(a, b *decimal) int {
	if a.exp != b.exp {
		if a.exp < b.exp {
			return -1
		}
		return 1
	}
	na, nb := a.ndigits(), b.ndigits()
	for i := 0; i < na && i < nb; i++ {
		if ca, cb := a.digit(i), b.digit(i); ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
	}
	return cmp.Compare(na, nb)
}
