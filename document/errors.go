package document

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Source is where a document or a field was read from.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// String returns "FILE:LINE", or "FILE" when the line is not known.
func (s Source) String() string {
	if s.Line <= 0 {
		return s.File
	}
	return s.File + ":" + strconv.Itoa(s.Line)
}

// Error is one problem, located to the line of the offending field. Its
// message reads "FILE:LINE: FIELD: MESSAGE".
type Error struct {
	File  string
	Line  int
	Field string // e.g. "spec.filterTags.pattern"; "" for document-level problems
	Msg   string
}

// Error returns "FILE:LINE: FIELD: MESSAGE", without "FIELD: " when the
// problem concerns the whole document, and without ":LINE" when it
// concerns the whole file (Line 0).
func (e *Error) Error() string {
	var b strings.Builder
	b.Grow(len(e.File) + len(e.Field) + len(e.Msg) + 16)
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found. The CLI maps it to the exit code of a
// configuration error.
type Errors []*Error

// Error joins every problem's message with newlines.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the problems one by one, so that errors.As can find a
// single *Error in an Errors.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Sort orders the problems by file, then line, keeping the order of
// problems on one line.
func (es Errors) Sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(strings.Compare(a.File, b.File), a.Line-b.Line)
	})
}

// Err returns es as an error, or nil when it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// NotFoundError is a repository, directory or file that is not there: a
// mistake in the command or its configuration, not a run-time failure.
type NotFoundError struct {
	What, Path string
	Err        error
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.What, e.Path, e.Err)
}

func (e *NotFoundError) Unwrap() error { return e.Err }
