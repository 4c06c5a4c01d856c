package updater

import (
	"bytes"
	"sort"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// The YAML parser reports node positions as 1-based lines and columns, the
// column counted in characters. lineIndex turns them into byte offsets the
// way the parser counts: a line ends at LF, CR LF, a lone CR, NEL, LS or PS,
// and a leading UTF-8 byte order mark is not part of the first line.

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// lineIndex holds the byte offset at which each line starts; index 0 is
// line 1.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	first := 0
	if bytes.HasPrefix(data, utf8BOM) {
		first = len(utf8BOM)
	}
	idx := make(lineIndex, 1, bytes.Count(data, []byte{'\n'})+2)
	idx[0] = first
	for i := first; i < len(data); i++ {
		switch data[i] {
		case '\n':
			idx = append(idx, i+1)
		case '\r':
			if i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			idx = append(idx, i+1)
		case 0xC2, 0xE2:
			if w := breakWidth(data, i); w > 0 {
				i += w - 1
				idx = append(idx, i+1)
			}
		}
	}
	return idx
}

// breakWidth returns the length of the line break starting at data[i], or 0.
func breakWidth(data []byte, i int) int {
	switch data[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < len(data) && data[i+1] == '\n' {
			return 2
		}
		return 1
	case 0xC2: // NEL
		if i+1 < len(data) && data[i+1] == 0x85 {
			return 2
		}
	case 0xE2: // LS, PS
		if i+2 < len(data) && data[i+1] == 0x80 && (data[i+2] == 0xA8 || data[i+2] == 0xA9) {
			return 3
		}
	}
	return 0
}

// lineOf returns the 1-based line holding the byte offset.
func (x lineIndex) lineOf(off int) int {
	return max(1, sort.Search(len(x), func(i int) bool { return x[i] > off }))
}

// locator converts between parser positions and byte offsets in one file.
// It remembers the last position converted so that converting positions in
// document order costs time linear in the size of the file, even when it is
// one long line.
type locator struct {
	data  []byte
	lines lineIndex
	// the last conversion: line and column at byte offset off
	line, col, off int
}

func newLocator(data []byte) *locator {
	return &locator{data: data, lines: newLineIndex(data)}
}

// offset returns the byte offset of the 1-based line and character column.
func (l *locator) offset(line, col int) (int, bool) {
	if line < 1 || line > len(l.lines) || col < 1 {
		return 0, false
	}
	off, c := l.lines[line-1], 1
	if line == l.line && col >= l.col {
		off, c = l.off, l.col
	}
	data := l.data
	for ; c < col; c++ {
		if off >= len(data) || breakWidth(data, off) > 0 {
			return 0, false
		}
		if data[off] < utf8.RuneSelf {
			off++
			continue
		}
		_, w := utf8.DecodeRune(data[off:])
		off += w
	}
	l.line, l.col, l.off = line, col, off
	return off, true
}

// position returns the 1-based line and character column of a byte offset.
func (l *locator) position(off int) (line, col int) {
	line = l.lines.lineOf(off)
	from, col := l.lines[line-1], 1
	if line == l.line && off >= l.off {
		from, col = l.off, l.col
	}
	if off > from {
		col += utf8.RuneCount(l.data[from:off])
	}
	l.line, l.col, l.off = line, col, off
	return line, col
}

// lineEnd returns the offset of the line break (or end of data) of the line
// holding off.
func lineEnd(data []byte, off int) int {
	for i := off; i < len(data); i++ {
		if c := data[i]; (c == '\n' || c == '\r' || c == 0xC2 || c == 0xE2) && breakWidth(data, i) > 0 {
			return i
		}
	}
	return len(data)
}

// scalarLoc is where a scalar's value lies in the file.
type scalarLoc struct {
	span      span
	quote     byte
	line, col int    // of the value's first character (inside the quotes)
	bad       string // why the value cannot be rewritten in place
}

// locate finds the bytes of scalar node n's value. The node's position is
// that of its first property (anchor or tag) when it has any, so those are
// skipped. The bytes found must spell the value exactly, or the scalar is
// marked as not rewritable: block scalars, multi-line scalars and quoted
// scalars with escapes are.
func locate(l *locator, n *yaml.Node) scalarLoc {
	data := l.data
	loc := scalarLoc{line: n.Line, col: n.Column}
	off, ok := l.offset(n.Line, n.Column)
	if !ok {
		loc.bad = "cannot locate the value"
		return loc
	}
	for i := 0; i < 4 && off < len(data) && (data[off] == '&' || data[off] == '!'); i++ {
		for off < len(data) && data[off] != ' ' && data[off] != '\t' && breakWidth(data, off) == 0 {
			off++
		}
		off = skipSeparation(data, off)
	}
	v := n.Value
	switch n.Style &^ (yaml.TaggedStyle | yaml.FlowStyle) {
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		q := byte('"')
		if n.Style&yaml.SingleQuotedStyle != 0 {
			q = '\''
		}
		start, end := off+1, off+1+len(v)
		if off >= len(data) || data[off] != q || end >= len(data) || data[end] != q || string(data[start:end]) != v {
			loc.bad = "a quoted value with escapes or line breaks"
			return loc
		}
		loc.span, loc.quote = span{start, end}, q
	case 0:
		end := off + len(v)
		if v == "" {
			loc.bad = "an empty value"
			return loc
		}
		if end > len(data) || string(data[off:end]) != v {
			loc.bad = "a value spanning several lines"
			return loc
		}
		loc.span = span{off, end}
	default:
		loc.bad = "a block scalar"
		return loc
	}
	loc.line, loc.col = l.position(loc.span.start)
	return loc
}

// skipSeparation skips blanks, line breaks and comments.
func skipSeparation(data []byte, off int) int {
	for off < len(data) {
		switch c := data[off]; {
		case c == ' ' || c == '\t':
			off++
		case c == '#':
			off = lineEnd(data, off)
		default:
			w := breakWidth(data, off)
			if w == 0 {
				return off
			}
			off += w
		}
	}
	return off
}

// trailingComment returns the comment that follows a value ending at off on
// the same line (a closing quote included), without its '#', or false.
func trailingComment(data []byte, off int) ([]byte, bool) {
	i := off
	for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	if i == off || i >= len(data) || data[i] != '#' {
		return nil, false
	}
	return data[i+1 : lineEnd(data, i)], true
}
