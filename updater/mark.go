package updater

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Mark asks for a $imagepolicy marker comment after one value: the scalar
// at KeyPath (mapping keys from a document's root, e.g. image, tag; a key
// "[name=X]" picks the list element named X) in the first document of File
// that has it.
type Mark struct {
	File    string   `json:"file"` // slash-separated, relative to the root
	KeyPath []string `json:"keyPath"`
	Marker  string   `json:"marker"` // the marker's value: "POLICY", "POLICY:tag", ...
}

// MarkError is a mark that cannot be written.
type MarkError struct {
	Mark Mark
	Err  error
}

func (e *MarkError) Error() string {
	return fmt.Sprintf("%s: %s: %v", e.Mark.File, strings.Join(e.Mark.KeyPath, "."), e.Err)
}

func (e *MarkError) Unwrap() error { return e.Err }

// AddMarkers writes the marker comment of each mark after its value
// (`tag: 1.2.3 # {"$imagepolicy": "web:tag"}`), changing no other byte,
// into the repository at root, with Apply's guarantees: all files or none,
// atomically, paths confined to root. A value that already carries the
// same marker is left alone (so a second run writes nothing). A key path
// that names nothing, a value that is not a one-line scalar, or one whose
// line already has another comment, is a *MarkError and nothing is
// written. With dryRun, nothing is written and the unified diff is
// returned instead of the files.
func AddMarkers(ctx context.Context, root string, marks []Mark, dryRun bool) (written []string, diff string, err error) {
	byFile := map[string][]Mark{}
	var files []string
	for _, m := range marks {
		if _, ok := byFile[m.File]; !ok {
			files = append(files, m.File)
		}
		byFile[m.File] = append(byFile[m.File], m)
	}
	edits, err := prepareFiles(ctx, root, files, !dryRun, func(file, p string) (*edit, error) {
		return markFile(file, p, byFile[file])
	})
	if err != nil {
		return nil, "", err
	}
	if dryRun {
		diff, err = diffEdits(edits)
		return nil, diff, err
	}
	written, err = commit(ctx, edits)
	return written, "", err
}

func markFile(file, p string, marks []Mark) (*edit, error) {
	e, err := readForEdit(file, p)
	if err != nil {
		return nil, fmt.Errorf("adding markers to %s: %w", file, err)
	}
	var docs []*yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(e.old))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("adding markers to %s: %w", file, err)
		}
		docs = append(docs, &doc)
	}
	lc := newLocator(e.old)
	type insertion struct {
		at   int
		text string
	}
	var ins []insertion
	for _, m := range marks {
		fail := func(format string, args ...any) error {
			return &MarkError{Mark: m, Err: fmt.Errorf(format, args...)}
		}
		var n *yaml.Node
		for _, d := range docs {
			if n = lookupPath(d, m.KeyPath); n != nil {
				break
			}
		}
		if n == nil {
			return nil, fail("no such key")
		}
		if n.Kind != yaml.ScalarNode {
			return nil, fail("not a single value")
		}
		loc := locate(lc, n)
		if loc.bad != "" {
			return nil, fail("cannot mark %s", loc.bad)
		}
		end := loc.span.end
		if loc.quote != 0 {
			end++
		}
		if c, ok := trailingComment(e.old, end); ok {
			if v, ok := commentMarker(c); ok && v == m.Marker {
				continue
			}
			return nil, fail("line %d already has a comment (#%s); put the marker %s there by hand", loc.line, c, markerComment(m.Marker))
		}
		if lineEnd(e.old, end) != end {
			return nil, fail("line %d goes on after the value", loc.line)
		}
		ins = append(ins, insertion{at: end, text: " # " + markerComment(m.Marker)})
	}
	if len(ins) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	last := 0
	slices.SortFunc(ins, func(a, b insertion) int { return a.at - b.at })
	for _, in := range ins {
		buf.Write(e.old[last:in.at])
		buf.WriteString(in.text)
		last = in.at
	}
	buf.Write(e.old[last:])
	e.new = buf.Bytes()
	// The comments must not have changed what the file says.
	var before, after []any
	if err := decodeAll(e.old, &before); err != nil {
		return nil, fmt.Errorf("adding markers to %s: %w", file, err)
	}
	if err := decodeAll(e.new, &after); err != nil || !jsonEqual(before, after) {
		return nil, fmt.Errorf("adding markers to %s: the comments would change the file's values", file)
	}
	return e, nil
}

// markerComment renders a marker comment's text.
func markerComment(v string) string {
	b, _ := json.Marshal(map[string]string{"$imagepolicy": v})
	return strings.Replace(string(b), ":", ": ", 1)
}

// HasKey reports whether a document of data (YAML, possibly several
// documents) holds a scalar at keys (as Mark.KeyPath).
func HasKey(data []byte, keys []string) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			return false
		}
		if n := lookupPath(&doc, keys); n != nil && n.Kind == yaml.ScalarNode {
			return true
		}
	}
}

// lookupPath follows mapping keys from a document node; a key
// "[name=X]" selects the element of a list whose name is X (as the
// updater's field paths write it).
func lookupPath(doc *yaml.Node, keys []string) *yaml.Node {
	n := doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, k := range keys {
		if sel, ok := strings.CutPrefix(k, "[name="); ok && strings.HasSuffix(sel, "]") {
			if n.Kind != yaml.SequenceNode {
				return nil
			}
			sel = strings.TrimSuffix(sel, "]")
			var next *yaml.Node
			for _, e := range n.Content {
				if name := lookupPath(e, []string{"name"}); name != nil && name.Kind == yaml.ScalarNode && name.Value == sel {
					next = e
				}
			}
			if next == nil {
				return nil
			}
			n = next
			continue
		}
		if n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func decodeAll(data []byte, out *[]any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		*out = append(*out, v)
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
