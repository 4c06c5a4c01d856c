package document

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Doc is one mapping document being read: its root node, where it is, and
// the problems found so far. Its methods read fields strictly and record
// every problem with the file line of the offending node.
type Doc struct {
	File string
	Root *yaml.Node // the document's top-level mapping
	Raw  []byte     // the document's own bytes
	off  int        // lines of the file before the document's chunk
	errs *Errors
}

// Field is a key and its value in a mapping.
type Field struct {
	Key, Val *yaml.Node
}

// Present reports whether the field was given a non-null value.
func (f Field) Present() bool { return f.Key != nil && !IsNull(f.Val) }

// Source is where the document starts.
func (d *Doc) Source() Source { return Source{File: d.File, Line: d.Line(d.Root)} }

// Line returns the file line of n.
func (d *Doc) Line(n *yaml.Node) int { return d.off + n.Line }

// Failed reports whether any problem was recorded since mark (a value of
// Mark).
func (d *Doc) Failed(mark int) bool { return len(*d.errs) > mark }

// Mark returns the number of problems recorded so far.
func (d *Doc) Mark() int { return len(*d.errs) }

// Errorf records a problem at n's line (the document's line when n is nil).
func (d *Doc) Errorf(n *yaml.Node, field, format string, args ...any) {
	if n == nil {
		n = d.Root
	}
	*d.errs = append(*d.errs, &Error{File: d.File, Line: d.Line(n), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Missing records a required field that is absent, at parent's line.
func (d *Doc) Missing(parent *yaml.Node, field string) {
	d.Errorf(parent, field, "required field is missing")
}

// Join appends key to a field path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends a list index to a field path.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// Fields checks that n is a mapping with string keys, no duplicate keys and
// only the known ones, reporting every problem (an unknown field's message
// lists the allowed ones), and returns the known fields found. A null n is
// an empty mapping.
func (d *Doc) Fields(n *yaml.Node, path string, known ...string) map[string]Field {
	out := map[string]Field{}
	if IsNull(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping, got %s", Describe(n))
		return out
	}
	seen := map[string]*yaml.Node{}
	for k, v := range d.entries(n, path, "field names") {
		fp := Join(path, k.Value)
		if prev, dup := seen[k.Value]; dup {
			d.Errorf(k, fp, "duplicate field (first set at line %d)", d.Line(prev))
			continue
		}
		seen[k.Value] = k
		if !slices.Contains(known, k.Value) {
			if len(known) == 0 {
				d.Errorf(k, fp, "unknown field %q (%s takes no fields)", k.Value, cmpOr(path, "the document"))
			} else {
				d.Errorf(k, fp, "unknown field %q (allowed: %s)", k.Value, strings.Join(known, ", "))
			}
			continue
		}
		out[k.Value] = Field{Key: k, Val: v}
	}
	return out
}

// entries yields the keys and values of mapping n in file order, skipping
// and reporting the keys that are not strings (what names them in the
// error: "field names", "keys").
func (d *Doc) entries(n *yaml.Node, path, what string) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(*yaml.Node, *yaml.Node) bool) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.Errorf(k, path, "%s must be strings, got %s", what, Describe(k))
				continue
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// IsNull reports whether n is absent or an explicit null.
func IsNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Describe names a node's type for error messages.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch t := n.ShortTag(); t {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "null"
	case "!!timestamp":
		return "a timestamp"
	default:
		return "a value tagged " + t
	}
}

// OrKey returns f's key when the field was present (with a null value),
// and n otherwise: the line to report a missing value at.
func OrKey(n *yaml.Node, f Field) *yaml.Node {
	if f.Key != nil {
		return f.Key
	}
	return n
}

// Lookup returns the value of key in mapping n, or nil.
func Lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// Str returns a scalar's text as written. Numbers and timestamps are taken
// as the text they are written as (a layout of 20060102 needs no quotes);
// booleans, lists and mappings are type errors. ok is false for an absent
// or null field, and after reporting a type error.
func (d *Doc) Str(f Field, path string) (string, bool) {
	n := f.Val
	if f.Key == nil || IsNull(n) {
		return "", false
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!timestamp":
			return n.Value, true
		}
	}
	d.Errorf(n, path, "must be a string, got %s", Describe(n))
	return "", false
}

// Required returns a required string field of the mapping fs (read with
// Fields from the node parent at path), reporting it when missing.
func (d *Doc) Required(fs map[string]Field, name string, parent *yaml.Node, path string) (string, *yaml.Node, bool) {
	f, ok := d.RequiredField(fs, name, parent, path)
	if !ok {
		return "", nil, false
	}
	s, ok := d.Str(f, Join(path, name))
	return s, f.Val, ok
}

// RequiredField returns a required field of any kind of the mapping fs
// (read with Fields from the node parent at path), reporting it when it is
// absent or null: at its key when present with a null value, else at
// parent.
func (d *Doc) RequiredField(fs map[string]Field, name string, parent *yaml.Node, path string) (Field, bool) {
	f, ok := fs[name]
	if !ok || IsNull(f.Val) {
		d.Missing(OrKey(parent, f), Join(path, name))
		return Field{}, false
	}
	return f, true
}

// Bool returns a boolean field; false when absent or null.
func (d *Doc) Bool(f Field, path string) bool {
	n := f.Val
	if f.Key == nil || IsNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			// YAML 1.1 spellings the parser tags !!bool.
			b = strings.EqualFold(n.Value, "yes") || strings.EqualFold(n.Value, "on")
		}
		return b
	}
	d.Errorf(n, path, "must be true or false, got %s", Describe(n))
	return false
}

// Int returns an integer field; ok is false when absent, null or invalid.
func (d *Doc) Int(f Field, path string) (int64, bool) {
	n := f.Val
	if f.Key == nil || IsNull(n) {
		return 0, false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return v, true
		}
	}
	d.Errorf(n, path, "must be an integer, got %s", Describe(n))
	return 0, false
}

// Float returns a number field; ok is false when absent, null or invalid.
func (d *Doc) Float(f Field, path string) (float64, bool) {
	n := f.Val
	if f.Key == nil || IsNull(n) {
		return 0, false
	}
	if n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") {
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
			return v, true
		}
	}
	d.Errorf(n, path, "must be a number, got %s", Describe(n))
	return 0, false
}

// Duration returns a duration field written as Go writes durations (30s,
// 5m, 1h30m); ok is false when absent, null or invalid.
func (d *Doc) Duration(f Field, path string) (time.Duration, bool) {
	s, ok := d.Str(f, path)
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Errorf(f.Val, path, "invalid duration %q (use units such as 30s, 5m or 2h)", s)
		return 0, false
	}
	return v, true
}

// StrList returns a list of strings; each element is reported under its
// index. The nodes are returned alongside for further checks.
func (d *Doc) StrList(f Field, path string) ([]string, []*yaml.Node) {
	n := f.Val
	if f.Key == nil || IsNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(n, path, "must be a list of strings, got %s", Describe(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for i, e := range n.Content {
		ep := Index(path, i)
		if IsNull(e) {
			d.Errorf(e, ep, "must be a string, got null")
			continue
		}
		if s, ok := d.Str(Field{Key: f.Key, Val: e}, ep); ok {
			out = append(out, s)
			nodes = append(nodes, e)
		}
	}
	return out, nodes
}

// StrMap returns a mapping of strings to strings (labels, annotations,
// variables), in file order of keys.
func (d *Doc) StrMap(f Field, path string) map[string]string {
	n := f.Val
	if f.Key == nil || IsNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "must be a mapping of strings, got %s", Describe(n))
		return nil
	}
	out := map[string]string{}
	for k, v := range d.entries(n, path, "field names") {
		fp := Join(path, k.Value)
		if _, dup := out[k.Value]; dup {
			d.Errorf(k, fp, "duplicate field")
			continue
		}
		s, ok := d.Str(Field{Key: k, Val: v}, fp)
		if !ok && !IsNull(v) {
			continue
		}
		out[k.Value] = s
	}
	return out
}

// Header returns the document's apiVersion and kind fields (zero Fields
// when absent), without checking anything else.
func (d *Doc) Header() (apiVersion, kind Field) {
	n := d.Root
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		f := Field{Key: k, Val: n.Content[i+1]}
		switch {
		case k.Value == "apiVersion" && apiVersion.Key == nil:
			apiVersion = f
		case k.Value == "kind" && kind.Key == nil:
			kind = f
		}
	}
	return apiVersion, kind
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// ReadFile reads every document of a file: each empty document is skipped,
// each mapping document is handed to fn, and every other problem (invalid
// YAML, aliases, a document that is not a mapping) is added to errs. Problems
// fn adds go to errs too; those of one file are sorted by line.
func ReadFile(file string, data []byte, errs *Errors, fn func(d *Doc)) {
	first := len(*errs)
	for _, c := range Split(data) {
		readChunk(file, c, errs, fn)
	}
	slices.SortStableFunc((*errs)[first:], func(a, b *Error) int { return a.Line - b.Line })
}

func readChunk(file string, c Chunk, errs *Errors, fn func(d *Doc)) {
	dec := yaml.NewDecoder(bytes.NewReader(c.Data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if !errors.Is(err, io.EOF) {
			*errs = append(*errs, syntaxError(file, c.Line, err))
		}
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			*errs = append(*errs, syntaxError(file, c.Line, err))
		} else {
			*errs = append(*errs, &Error{File: file, Line: c.Line - 1 + extra.Line, Msg: "unexpected second document; separate documents with a line of ---"})
		}
		return
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return
	}
	n := root.Content[0]
	d := &Doc{File: file, Root: n, Raw: c.Data, off: c.Line - 1, errs: errs}
	if d.rejectAliases(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		if IsNull(n) {
			return
		}
		d.Errorf(n, "", "a document must be a mapping, got %s", Describe(n))
		return
	}
	fn(d)
}

func syntaxError(file string, chunkLine int, err error) *Error {
	line := chunkLine
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			line = chunkLine - 1 + n
		}
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// rejectAliases reports every alias in the document: an alias can expand a
// small file into a huge tree, and Ferry's documents have no use for them.
func (d *Doc) rejectAliases(n *yaml.Node) bool {
	var first *yaml.Node
	count := 0
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.AliasNode {
			if first == nil {
				first = n
			}
			count++
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	switch {
	case count == 1:
		d.Errorf(first, "", "YAML aliases (*%s) are not allowed in Ferry's documents", first.Value)
	case count > 1:
		d.Errorf(first, "", "YAML aliases (*%s, and %d more) are not allowed in Ferry's documents", first.Value, count-1)
	}
	return count > 0
}
