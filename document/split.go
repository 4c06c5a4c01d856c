package document

import "bytes"

// Chunk is one document's bytes and the line (1-based) of its file where
// they start.
type Chunk struct {
	Data []byte
	Line int
}

// Split cuts a YAML stream at its "---" and "..." marker lines, so that
// every document keeps its own bytes and its position in the file. A
// marker is recognised, as YAML does, only at the start of a line and
// followed by a blank or the end of the line; YAML forbids such a line
// inside any scalar, so the cut never falls inside a value. A document
// that starts on its marker line ("--- {...}", "--- |") keeps that line.
// Leading blank and comment lines are dropped from each chunk, so Line is
// the document's first line of content, and chunks left empty are
// skipped. A leading byte order mark is dropped.
func Split(data []byte) []Chunk {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var out []Chunk
	start, startLine := 0, 1
	flush := func(end int) {
		if c, ok := trimChunk(Chunk{Data: data[start:end], Line: startLine}); ok {
			out = append(out, c)
		}
	}
	line := 1
	for pos := 0; pos < len(data); line++ {
		end := bytes.IndexByte(data[pos:], '\n')
		next := len(data)
		if end < 0 {
			end = len(data)
		} else {
			end += pos
			next = end + 1
		}
		text := data[pos:end]
		if m := marker(text); m != 0 {
			flush(pos)
			if rest := bytes.TrimSpace(text[3:]); m == '-' && len(rest) > 0 && rest[0] != '#' {
				start, startLine = pos, line
			} else {
				start, startLine = next, line+1
			}
		}
		pos = next
	}
	flush(len(data))
	return out
}

// trimChunk drops a chunk's leading blank and comment lines; ok is false
// when nothing is left.
func trimChunk(c Chunk) (Chunk, bool) {
	for len(c.Data) > 0 {
		end := bytes.IndexByte(c.Data, '\n')
		l := c.Data
		if end >= 0 {
			l = c.Data[:end+1]
		}
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' {
			return c, true
		}
		c.Data = c.Data[len(l):]
		c.Line++
	}
	return c, false
}

// marker returns '-' or '.' for a document marker line, else 0.
func marker(text []byte) byte {
	if len(text) < 3 || !(bytes.HasPrefix(text, []byte("---")) || bytes.HasPrefix(text, []byte("..."))) {
		return 0
	}
	if len(text) > 3 && text[3] != ' ' && text[3] != '\t' && text[3] != '\r' {
		return 0
	}
	return text[0]
}
