package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/image"
)

// The kinds of Ferry documents.
const (
	KindImagePolicy = "ImagePolicy"
	KindApp         = "App"
	KindConfig      = "Config"
)

// maxNameLen is the longest metadata.name accepted.
const maxNameLen = 253

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// Parse reads the Ferry documents of one file. file names the file in
// errors. When any document is invalid it returns a nil Set and an Errors
// listing every problem found.
func Parse(file string, data []byte) (*Set, error) {
	l := newLoader()
	l.parseFile(file, data)
	return l.result()
}

// LoadDir reads every *.yaml and *.yml file in dir and its subdirectories,
// in order of path. A dir that does not exist holds no documents. Problems
// with the documents are returned as Errors, after reading every file; a
// file that cannot be read fails the load at once.
func LoadDir(dir string) (*Set, error) {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &Set{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading policies: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("loading policies: %s is not a directory", dir)
	}
	var files []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return nil
			}
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading policies from %s: %w", dir, err)
	}
	slices.Sort(files)
	l := newLoader()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("loading policies: %w", err)
		}
		l.parseFile(f, data)
	}
	return l.result()
}

// loader accumulates documents and problems over one Parse or LoadDir.
type loader struct {
	set   Set
	errs  Errors
	names map[string]Source // policy name -> where metadata.name was first set
}

func newLoader() *loader {
	return &loader{names: map[string]Source{}}
}

func (l *loader) result() (*Set, error) {
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return &l.set, nil
}

// chunk is one document's bytes, starting at line (1-based) of its file.
type chunk struct {
	data []byte
	line int
}

// splitDocuments cuts a YAML stream at its "---" and "..." marker lines, so
// that every document keeps its own bytes and its position in the file. A
// marker is recognised, as YAML does, only at the start of a line and
// followed by a blank or the end of the line; YAML forbids such a line
// inside any scalar, so the cut never falls inside a value.
func splitDocuments(data []byte) []chunk {
	var out []chunk
	start, startLine := 0, 1
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
		if m := documentMarker(text); m != 0 {
			out = append(out, chunk{data: data[start:pos], line: startLine})
			if rest := bytes.TrimSpace(text[3:]); m == '-' && len(rest) > 0 && rest[0] != '#' {
				// "--- {...}" or "--- |": the document starts on the marker line.
				start, startLine = pos, line
			} else {
				start, startLine = next, line+1
			}
		}
		pos = next
	}
	return append(out, chunk{data: data[start:], line: startLine})
}

func documentMarker(text []byte) byte {
	if len(text) < 3 || !(bytes.HasPrefix(text, []byte("---")) || bytes.HasPrefix(text, []byte("..."))) {
		return 0
	}
	if len(text) > 3 && text[3] != ' ' && text[3] != '\t' && text[3] != '\r' {
		return 0
	}
	return text[0]
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

func (l *loader) parseFile(file string, data []byte) {
	first := len(l.errs)
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for _, c := range splitDocuments(data) {
		l.parseChunk(file, c)
	}
	slices.SortStableFunc(l.errs[first:], func(a, b *Error) int { return a.Line - b.Line })
}

func (l *loader) parseChunk(file string, c chunk) {
	if len(bytes.TrimSpace(c.data)) == 0 {
		return
	}
	dec := yaml.NewDecoder(bytes.NewReader(c.data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if !errors.Is(err, io.EOF) {
			l.syntaxError(file, c.line, err)
		}
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			l.syntaxError(file, c.line, err)
		} else {
			l.errs = append(l.errs, &Error{File: file, Line: c.line - 1 + extra.Line, Msg: "unexpected second document; separate documents with a line of ---"})
		}
		return
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return
	}
	d := &doc{l: l, file: file, off: c.line - 1}
	n := root.Content[0]
	if d.rejectAliases(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "a document must be a mapping, got %s", describe(n))
		return
	}
	d.document(n, c.data)
}

func (l *loader) syntaxError(file string, chunkLine int, err error) {
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
	l.errs = append(l.errs, &Error{File: file, Line: line, Msg: "invalid YAML: " + msg})
}

// doc validates one document.
type doc struct {
	l    *loader
	file string
	off  int // lines of the file before the document's chunk
}

func (d *doc) line(n *yaml.Node) int { return d.off + n.Line }

func (d *doc) errorf(n *yaml.Node, field, format string, args ...any) {
	d.l.errs = append(d.l.errs, &Error{File: d.file, Line: d.line(n), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (d *doc) missing(parent *yaml.Node, field string) {
	d.errorf(parent, field, "required field is missing")
}

// rejectAliases reports every alias in the document: an alias can expand a
// small file into a huge tree, and policy files have no use for them.
func (d *doc) rejectAliases(n *yaml.Node) bool {
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
		d.errorf(first, "", "YAML aliases (*%s) are not allowed in policy files", first.Value)
	case count > 1:
		d.errorf(first, "", "YAML aliases (*%s, and %d more) are not allowed in policy files", first.Value, count-1)
	}
	return count > 0
}

// field is a key and its value in a mapping.
type field struct {
	key, val *yaml.Node
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields checks that n is a mapping with string keys, no duplicate keys and
// only the known ones, reporting every problem, and returns the known fields
// found. A null n is an empty mapping.
func (d *doc) fields(n *yaml.Node, path string, known ...string) map[string]field {
	out := map[string]field{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, got %s", describe(n))
		return out
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "field names must be strings, got %s", describe(k))
			continue
		}
		fp := join(path, k.Value)
		if prev, dup := seen[k.Value]; dup {
			d.errorf(k, fp, "duplicate field (first set at line %d)", d.line(prev))
			continue
		}
		seen[k.Value] = k
		if !slices.Contains(known, k.Value) {
			if len(known) == 0 {
				d.errorf(k, fp, "unknown field %q (%s takes no fields)", k.Value, path)
			} else {
				d.errorf(k, fp, "unknown field %q (allowed: %s)", k.Value, strings.Join(known, ", "))
			}
			continue
		}
		out[k.Value] = field{key: k, val: v}
	}
	return out
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type for error messages.
func describe(n *yaml.Node) string {
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

// str returns a scalar's text as written. Numbers and timestamps are taken
// as the text they are written as (a layout of 20060102 needs no quotes);
// booleans, lists and mappings are type errors. ok is false for an absent or
// null field, and after reporting a type error.
func (d *doc) str(f field, path string) (string, bool) {
	n := f.val
	if f.key == nil || isNull(n) {
		return "", false
	}
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!timestamp":
			return n.Value, true
		}
	}
	d.errorf(n, path, "must be a string, got %s", describe(n))
	return "", false
}

// required returns a required string field, reporting it when missing.
func (d *doc) required(fs map[string]field, name string, parent *yaml.Node, path string) (string, *yaml.Node, bool) {
	fp := join(path, name)
	f, ok := fs[name]
	if !ok || isNull(f.val) {
		if ok {
			parent = f.key
		}
		d.missing(parent, fp)
		return "", nil, false
	}
	s, ok := d.str(f, fp)
	return s, f.val, ok
}

func (d *doc) boolean(f field, path string) bool {
	n := f.val
	if f.key == nil || isNull(n) {
		return false
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		return strings.EqualFold(n.Value, "true")
	}
	d.errorf(n, path, "must be true or false, got %s", describe(n))
	return false
}

// strings returns a list of strings; each element is reported under its
// index. The nodes are returned alongside for further checks.
func (d *doc) strList(f field, path string) ([]string, []*yaml.Node) {
	n := f.val
	if f.key == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list of strings, got %s", describe(n))
		return nil, nil
	}
	var out []string
	var nodes []*yaml.Node
	for i, e := range n.Content {
		ep := path + "[" + strconv.Itoa(i) + "]"
		if isNull(e) {
			d.errorf(e, ep, "must be a string, got null")
			continue
		}
		if s, ok := d.str(field{key: f.key, val: e}, ep); ok {
			out = append(out, s)
			nodes = append(nodes, e)
		}
	}
	return out, nodes
}

// document dispatches a mapping document on its kind.
func (d *doc) document(n *yaml.Node, raw []byte) {
	var apiVersion, kind *field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		f := field{key: k, val: n.Content[i+1]}
		switch {
		case k.Value == "apiVersion" && apiVersion == nil:
			apiVersion = &f
		case k.Value == "kind" && kind == nil:
			kind = &f
		}
	}
	versionOK := false
	switch {
	case apiVersion == nil || isNull(apiVersion.val):
		d.missing(n, "apiVersion")
	default:
		if v, ok := d.str(*apiVersion, "apiVersion"); ok {
			if v == APIVersion {
				versionOK = true
			} else {
				d.errorf(apiVersion.val, "apiVersion", "must be %q, got %q", APIVersion, v)
			}
		}
	}
	if kind == nil || isNull(kind.val) {
		d.missing(n, "kind")
		return
	}
	k, ok := d.str(*kind, "kind")
	if !ok {
		return
	}
	switch k {
	case KindImagePolicy:
		d.imagePolicy(n)
	case KindApp, KindConfig:
		if !versionOK {
			return
		}
		doc := Document{Kind: k, Source: Source{File: d.file, Line: d.line(n)}, YAML: bytes.Clone(raw)}
		if m := lookup(n, "metadata"); m != nil {
			if name := lookup(m, "name"); name != nil && name.Kind == yaml.ScalarNode && !isNull(name) {
				doc.Name = name.Value
			}
		}
		d.l.set.Others = append(d.l.set.Others, doc)
	default:
		d.errorf(kind.val, "kind", "unknown kind %q (want %s, %s or %s)", k, KindImagePolicy, KindApp, KindConfig)
	}
}

// lookup returns the value of key in mapping n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
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

// strategyNames lists spec.policy's fields in the order errors name them.
var strategyNames = []string{string(Date), string(SemVer), string(Numerical), string(Alphabetical), string(PushedAt)}

// imagePolicy validates an ImagePolicy document and, when it has no
// problem, adds it to the Set.
func (d *doc) imagePolicy(n *yaml.Node) {
	before := len(d.l.errs)
	p := &Policy{Source: Source{File: d.file, Line: d.line(n)}}
	top := d.fields(n, "", "apiVersion", "kind", "metadata", "spec")

	// metadata
	if mf, ok := top["metadata"]; !ok || isNull(mf.val) {
		d.missing(orKey(n, mf), "metadata.name")
	} else {
		meta := d.fields(mf.val, "metadata", "name")
		if name, nn, ok := d.required(meta, "name", mf.key, "metadata"); ok {
			d.policyName(p, name, nn)
		}
	}

	// spec
	sf, ok := top["spec"]
	if !ok || isNull(sf.val) {
		d.missing(orKey(n, sf), "spec")
	} else {
		d.spec(p, sf)
	}

	if len(d.l.errs) == before {
		d.l.set.Policies = append(d.l.set.Policies, p)
	}
}

// orKey returns f's key when the field was present (with a null value), and
// n otherwise: the line to report a missing value at.
func orKey(n *yaml.Node, f field) *yaml.Node {
	if f.key != nil {
		return f.key
	}
	return n
}

func (d *doc) policyName(p *Policy, name string, n *yaml.Node) {
	switch {
	case name == "":
		d.errorf(n, "metadata.name", "must not be empty")
		return
	case len(name) > maxNameLen:
		d.errorf(n, "metadata.name", "longer than %d characters", maxNameLen)
		return
	case !nameRE.MatchString(name):
		d.errorf(n, "metadata.name", "%q is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", name)
		return
	}
	p.Name = name
	if first, dup := d.l.names[name]; dup {
		d.errorf(n, "metadata.name", "duplicate policy name %q (first defined at %s:%d)", name, first.File, first.Line)
		return
	}
	d.l.names[name] = Source{File: d.file, Line: d.line(n)}
}

func (d *doc) spec(p *Policy, sf field) {
	spec := d.fields(sf.val, "spec", "image", "filterTags", "policy", "minAge", "digest", "update", "pullRequest")

	if img, nn, ok := d.required(spec, "image", sf.key, "spec"); ok {
		d.image(p, img, nn)
	}

	if f, ok := spec["filterTags"]; ok {
		d.filterTags(p, f)
	}

	if f, ok := spec["policy"]; !ok || isNull(f.val) {
		d.errorf(orKey(sf.key, f), "spec.policy", "required field is missing (one of %s)", strings.Join(strategyNames, ", "))
	} else {
		d.strategy(p, f)
	}

	if f, ok := spec["minAge"]; ok {
		if s, ok := d.str(f, "spec.minAge"); ok {
			dur, err := time.ParseDuration(s)
			switch {
			case err != nil:
				d.errorf(f.val, "spec.minAge", "invalid duration %q (use units such as 30m or 2h)", s)
			case dur < 0:
				d.errorf(f.val, "spec.minAge", "must not be negative, got %s", s)
			default:
				p.MinAge = dur
			}
		}
	}

	if f, ok := spec["digest"]; ok {
		p.Digest = d.boolean(f, "spec.digest")
	}

	if f, ok := spec["update"]; ok {
		upd := d.fields(f.val, "spec.update", "paths")
		if pf, ok := upd["paths"]; ok {
			globs, nodes := d.strList(pf, "spec.update.paths")
			for i, g := range globs {
				if err := checkGlob(g); err != nil {
					d.errorf(nodes[i], "spec.update.paths["+strconv.Itoa(slices.Index(pf.val.Content, nodes[i]))+"]", "invalid glob: %v", err)
					continue
				}
				p.UpdatePaths = append(p.UpdatePaths, g)
			}
		}
	}

	if f, ok := spec["pullRequest"]; ok {
		d.pullRequest(p, f)
	}
}

func (d *doc) image(p *Policy, img string, n *yaml.Node) {
	const fp = "spec.image"
	p.Written = img
	if img == "" {
		d.errorf(n, fp, "must not be empty")
		return
	}
	name, tag, digest := image.Split(img)
	switch {
	case digest != "" || strings.Contains(img, "@"):
		d.errorf(n, fp, "must be a repository without a digest, got %q", img)
		return
	case tag != "" || strings.HasSuffix(name, ":"):
		d.errorf(n, fp, "must be a repository without a tag, got %q (the policy chooses the tag)", img)
		return
	}
	repo, err := image.NormalizeRepository(img)
	if err != nil {
		d.errorf(n, fp, "invalid repository: %v", err)
		return
	}
	p.Image = repo
}

func (d *doc) filterTags(p *Policy, f field) {
	ft := d.fields(f.val, "spec.filterTags", "pattern", "extract", "exclude")
	patternOK, hasPattern := false, false
	if pf, ok := ft["pattern"]; ok && !isNull(pf.val) {
		s, ok := d.str(pf, "spec.filterTags.pattern")
		switch {
		case !ok:
			hasPattern = true // a type error, already reported
		case s == "": // no filter
		default:
			hasPattern = true
			re, err := regexp.Compile(s)
			if err != nil {
				d.errorf(pf.val, "spec.filterTags.pattern", "invalid regular expression: %v", err)
			} else {
				p.Pattern, patternOK = re, true
			}
		}
	}
	if ef, ok := ft["extract"]; ok {
		if s, ok := d.str(ef, "spec.filterTags.extract"); ok && s != "" {
			switch {
			case patternOK:
				if _, err := compileTemplate(p.Pattern, s); err != nil {
					d.errorf(ef.val, "spec.filterTags.extract", "%v", err)
				} else {
					p.Extract = s
				}
			case !hasPattern:
				d.errorf(ef.val, "spec.filterTags.extract", "extract needs a pattern with the groups it names (spec.filterTags.pattern)")
			}
		}
	}
	if xf, ok := ft["exclude"]; ok {
		list, nodes := d.strList(xf, "spec.filterTags.exclude")
		for i, s := range list {
			fp := "spec.filterTags.exclude[" + strconv.Itoa(slices.Index(xf.val.Content, nodes[i])) + "]"
			if s == "" {
				d.errorf(nodes[i], fp, "must not be empty (an empty expression excludes every tag)")
				continue
			}
			re, err := regexp.Compile(s)
			if err != nil {
				d.errorf(nodes[i], fp, "invalid regular expression: %v", err)
				continue
			}
			p.Exclude = append(p.Exclude, re)
		}
	}
}

func (d *doc) strategy(p *Policy, f field) {
	const path = "spec.policy"
	strat := d.fields(f.val, path, strategyNames...)
	if len(strat) == 0 {
		if f.val.Kind == yaml.MappingNode {
			d.errorf(f.key, path, "one of %s is required", strings.Join(strategyNames, ", "))
		}
		return
	}
	// Report extra strategies in file order, after the first one.
	var present []field
	for _, name := range strategyNames {
		if sf, ok := strat[name]; ok {
			present = append(present, sf)
		}
	}
	slices.SortFunc(present, func(a, b field) int { return a.key.Line - b.key.Line })
	for i, sf := range present {
		s := d.strategyOptions(sf)
		if i == 0 {
			p.Strategy = s
			continue
		}
		d.errorf(sf.key, path, "only one strategy may be set, got %q and %q", present[0].key.Value, sf.key.Value)
	}
}

func (d *doc) strategyOptions(sf field) Strategy {
	kind := StrategyKind(sf.key.Value)
	path := "spec.policy." + sf.key.Value
	s := Strategy{Kind: kind}
	switch kind {
	case Date:
		opts := d.fields(sf.val, path, "layout")
		layout, ln, ok := d.required(opts, "layout", sf.key, path)
		switch {
		case !ok:
		case layout == "":
			d.errorf(ln, path+".layout", "must not be empty")
		case layoutless(layout):
			d.errorf(ln, path+".layout", "%q has no date or time elements (see Go's time.Layout, e.g. 20060102)", layout)
		default:
			s.Layout = layout
		}
	case SemVer:
		opts := d.fields(sf.val, path, "range")
		if rf, ok := opts["range"]; ok {
			if r, ok := d.str(rf, path+".range"); ok {
				if _, err := parseRange(r); err != nil {
					d.errorf(rf.val, path+".range", "invalid semver range %q: %v", r, err)
				} else {
					s.Range = r
				}
			}
		}
	case Numerical, Alphabetical:
		opts := d.fields(sf.val, path, "order")
		s.Order = "asc"
		if of, ok := opts["order"]; ok {
			if o, ok := d.str(of, path+".order"); ok {
				if o != "asc" && o != "desc" {
					d.errorf(of.val, path+".order", "must be asc or desc, got %q", o)
				} else {
					s.Order = o
				}
			}
		}
	case PushedAt:
		d.fields(sf.val, path)
	}
	return s
}

// layoutless reports whether a time layout has no element at all, so that
// every value would parse to the same instant or fail.
func layoutless(layout string) bool {
	ref := time.Date(2001, 11, 12, 13, 14, 15, 161718192, time.FixedZone("ZZZ", 3600*7))
	return ref.Format(layout) == layout
}

func (d *doc) pullRequest(p *Policy, f field) {
	const path = "spec.pullRequest"
	pr := d.fields(f.val, path, "group", "labels", "reviewers", "teamReviewers", "assignees", "draft")
	if gf, ok := pr["group"]; ok {
		p.PullRequest.Group, _ = d.str(gf, path+".group")
	}
	list := func(name string) []string {
		lf, ok := pr[name]
		if !ok {
			return nil
		}
		values, nodes := d.strList(lf, path+"."+name)
		var out []string
		for i, v := range values {
			if strings.TrimSpace(v) == "" {
				d.errorf(nodes[i], path+"."+name+"["+strconv.Itoa(slices.Index(lf.val.Content, nodes[i]))+"]", "must not be empty")
				continue
			}
			out = append(out, v)
		}
		return out
	}
	p.PullRequest.Labels = list("labels")
	p.PullRequest.Reviewers = list("reviewers")
	p.PullRequest.TeamReviewers = list("teamReviewers")
	p.PullRequest.Assignees = list("assignees")
	if df, ok := pr["draft"]; ok {
		p.PullRequest.Draft = d.boolean(df, path+".draft")
	}
}
