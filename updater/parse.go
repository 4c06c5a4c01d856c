package updater

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

const (
	maxAliases = 100 // aliases one document may hold
	maxNesting = 8   // Lists inside Lists
)

// podSpecPaths maps each workload kind to the path of its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

var containerFields = [...]string{"initContainers", "containers", "ephemeralContainers"}

// fileScan finds the references in one file.
type fileScan struct {
	file          string
	data          []byte
	loc           *locator                  // made on the first reference
	pols          []*policy.Policy          // policies that govern the file and whose needle occurs in it
	named         map[string]*policy.Policy // policies that govern the file, by name, for markers
	known         map[string]bool           // every policy's name, to tell a typo from a path rule
	badMarkers    []MarkerProblem           // markers naming no policy that governs the file
	kustomization bool                      // the file's name is a kustomization's
	markerLines   map[int]bool              // lines holding "$imagepolicy"
	refs          []Reference
	byNode        map[*yaml.Node]int // index in refs of each scalar already referenced
	groups        map[*yaml.Node]int
}

// parseError is a file that does not parse, or that is refused.
type parseError struct {
	line int
	err  error
}

func (e *parseError) Error() string { return e.err.Error() }
func (e *parseError) Unwrap() error { return e.err }

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

func (s *fileScan) run() error {
	if len(s.data) >= 2 && (s.data[0] == 0xFE && s.data[1] == 0xFF || s.data[0] == 0xFF && s.data[1] == 0xFE) {
		return &parseError{1, errors.New("UTF-16 files are not supported")}
	}
	if bytes.Contains(s.data, markerKey) {
		s.markerLines = make(map[int]bool)
		lines := s.locator().lines
		for i := 0; ; {
			j := bytes.Index(s.data[i:], markerKey)
			if j < 0 {
				break
			}
			i += j
			s.markerLines[lines.lineOf(i)] = true
			i += len(markerKey)
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(s.data))
	for n := 1; ; n++ {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			pe := &parseError{err: err}
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				pe.line, _ = strconv.Atoi(m[1])
				pe.err = errors.New(strings.TrimPrefix(err.Error(), m[0]))
			}
			pe.err = fmt.Errorf("parsing YAML: %w", pe.err)
			return pe
		}
		if aliases := countAliases(&doc, 0); aliases > maxAliases {
			return &parseError{doc.Line, fmt.Errorf("document %d holds more than %d aliases: refusing it as a possible alias bomb", n, maxAliases)}
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if len(s.pols) > 0 {
			s.object(root, "", "", 0, true)
		}
		if s.markerLines != nil {
			s.markers(root, nil, nil, "")
		}
	}
}

func (s *fileScan) locator() *locator {
	if s.loc == nil {
		s.loc = newLocator(s.data)
	}
	return s.loc
}

// countAliases counts the alias nodes under n, without following them, and
// stops counting past the limit.
func countAliases(n *yaml.Node, count int) int {
	if n.Kind == yaml.AliasNode {
		return count + 1
	}
	for _, c := range n.Content {
		if count = countAliases(c, count); count > maxAliases {
			break
		}
	}
	return count
}

// deref resolves an alias to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}

// str returns the value of a scalar, or "".
func str(n *yaml.Node) string {
	if n = deref(n); n != nil && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func objectName(m *yaml.Node, kind string) string {
	md := deref(document.Lookup(m, "metadata"))
	return kind + "/" + str(document.Lookup(md, "namespace")) + "/" + str(document.Lookup(md, "name"))
}

// match returns the first policy governing the normalised repository.
func (s *fileScan) match(repo string) *policy.Policy {
	for _, p := range s.pols {
		if p.Image == repo {
			return p
		}
	}
	return nil
}

func (s *fileScan) groupOf(n *yaml.Node) int {
	if s.groups == nil {
		s.groups = make(map[*yaml.Node]int)
	}
	g, ok := s.groups[n]
	if !ok {
		g = len(s.groups) + 1
		s.groups[n] = g
	}
	return g
}

// add records a reference to scalar n; a marker replaces a reference found
// otherwise, and a scalar is referenced once.
func (s *fileScan) add(n *yaml.Node, loc *scalarLoc, ref Reference) {
	if s.byNode == nil {
		s.byNode = make(map[*yaml.Node]int)
	}
	i, seen := s.byNode[n]
	if seen && (ref.Source != SourceMarker || s.refs[i].Source == SourceMarker) {
		return
	}
	if loc == nil {
		l := locate(s.locator(), n)
		loc = &l
	}
	ref.File = s.file
	ref.Line, ref.Column = loc.line, loc.col
	ref.span, ref.quote, ref.bad = loc.span, loc.quote, loc.bad
	if seen {
		s.refs[i] = ref
		return
	}
	s.byNode[n] = len(s.refs)
	s.refs = append(s.refs, ref)
}

// object finds the references of one Kubernetes object (or List).
func (s *fileScan) object(n *yaml.Node, prefix, defaultKind string, depth int, top bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > maxNesting {
		return
	}
	kind := str(document.Lookup(n, "kind"))
	if kind == "" {
		kind = defaultKind
	}
	switch {
	case strings.HasSuffix(kind, "List"):
		items := deref(document.Lookup(n, "items"))
		if items == nil || items.Kind != yaml.SequenceNode {
			return
		}
		itemKind := strings.TrimSuffix(kind, "List")
		for i, it := range items.Content {
			s.object(it, prefix+"items["+strconv.Itoa(i)+"].", itemKind, depth+1, false)
		}
	case podSpecPaths[kind] != nil:
		spec := n
		for _, k := range podSpecPaths[kind] {
			if spec = deref(document.Lookup(spec, k)); spec == nil {
				return
			}
		}
		s.podSpec(spec, prefix+strings.Join(podSpecPaths[kind], "."), objectName(n, kind))
	case kind == "Kustomization",
		kind == "Component" && strings.HasPrefix(str(document.Lookup(n, "apiVersion")), "kustomize.config.k8s.io/"),
		kind == "" && top && s.kustomization:
		if kind == "" {
			kind = "Kustomization"
		}
		s.kustomize(n, prefix, objectName(n, kind))
	}
}

func (s *fileScan) podSpec(spec *yaml.Node, prefix, obj string) {
	for _, f := range containerFields {
		seq := deref(document.Lookup(spec, f))
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		for i, c := range seq.Content {
			c = deref(c)
			img := deref(document.Lookup(c, "image"))
			if img == nil || img.Kind != yaml.ScalarNode {
				continue
			}
			v := img.Value
			if strings.TrimSpace(v) != v {
				continue
			}
			ref, err := image.Parse(v)
			if err != nil {
				continue
			}
			p := s.match(ref.Repository)
			if p == nil {
				continue
			}
			sel := "[" + strconv.Itoa(i) + "]"
			if name := str(document.Lookup(c, "name")); name != "" {
				sel = "[name=" + name + "]"
			}
			s.add(img, nil, Reference{
				Object:    obj,
				FieldPath: prefix + "." + f + sel + ".image",
				Form:      FormImage,
				Source:    SourceContainer,
				Policy:    p.Name,
				Current:   v,
				Image:     ref,
			})
		}
	}
}

func (s *fileScan) kustomize(k *yaml.Node, prefix, obj string) {
	images := deref(document.Lookup(k, "images"))
	if images == nil || images.Kind != yaml.SequenceNode {
		return
	}
	repoOf := func(n *yaml.Node) (*policy.Policy, bool) {
		if n == nil || n.Kind != yaml.ScalarNode {
			return nil, false
		}
		r, err := image.Parse(n.Value)
		if err != nil || r.Tag != "" || r.Digest != "" {
			return nil, true
		}
		return s.match(r.Repository), true
	}
	for i, e := range images.Content {
		e = deref(e)
		if e == nil || e.Kind != yaml.MappingNode {
			continue
		}
		newName := deref(document.Lookup(e, "newName"))
		p, hasNewName := repoOf(newName)
		if p == nil {
			hasNewName = false
			p, _ = repoOf(deref(document.Lookup(e, "name")))
		}
		if p == nil {
			continue
		}
		at := prefix + "images[" + strconv.Itoa(i) + "]."
		group := s.groupOf(e)
		base := Reference{Object: obj, Source: SourceKustomize, Policy: p.Name, group: group}
		if hasNewName {
			r := base
			r.FieldPath, r.Form, r.Current = at+"newName", FormName, newName.Value
			r.Image = image.Ref{Repository: p.Image}
			s.add(newName, nil, r)
		}
		if n := deref(document.Lookup(e, "newTag")); n != nil && n.Kind == yaml.ScalarNode {
			r := base
			r.FieldPath, r.Form, r.Current = at+"newTag", FormTag, n.Value
			r.Image = image.Ref{Repository: p.Image, Tag: n.Value}
			s.add(n, nil, r)
		}
		if n := deref(document.Lookup(e, "digest")); n != nil && n.Kind == yaml.ScalarNode {
			r := base
			r.FieldPath, r.Form, r.Current = at+"digest", FormDigest, n.Value
			r.Image = image.Ref{Repository: p.Image, Digest: n.Value}
			s.add(n, nil, r)
		}
	}
}

// markers finds the scalars followed by a marker comment. path holds the
// field path segments from the document root; parent is the enclosing
// mapping or sequence.
func (s *fileScan) markers(n, parent *yaml.Node, path []string, obj string) {
	switch n.Kind {
	case yaml.MappingNode:
		if k := str(document.Lookup(n, "kind")); k != "" && document.Lookup(n, "apiVersion") != nil {
			obj = objectName(n, k)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			s.markers(n.Content[i+1], n, append(path, n.Content[i].Value), obj)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			seg := "[" + strconv.Itoa(i) + "]"
			if name := str(document.Lookup(c, "name")); name != "" {
				seg = "[name=" + name + "]"
			}
			s.markers(c, n, append(path, seg), obj)
		}
	case yaml.ScalarNode:
		if s.markerLines[n.Line] {
			s.marker(n, parent, path, obj)
		}
	}
}

func (s *fileScan) marker(n, parent *yaml.Node, path []string, obj string) {
	loc := locate(s.locator(), n)
	var comment []byte
	if loc.bad == "" {
		end := loc.span.end
		if loc.quote != 0 {
			end++
		}
		c, ok := trailingComment(s.data, end)
		if !ok {
			return
		}
		comment = c
	} else {
		comment = []byte(strings.TrimPrefix(n.LineComment, "#"))
	}
	v, ok := commentMarker(comment)
	if !ok {
		return
	}
	name, form, ok := parseMarker(v)
	if !ok {
		s.markerProblem(n, &loc, v, "", fmt.Sprintf("%q is not a marker value: use NAME, NAMESPACE:NAME, or either with :tag, :name or :digest", v))
		return
	}
	p := s.named[name]
	if p == nil {
		if s.known[name] {
			s.markerProblem(n, &loc, v, name, fmt.Sprintf("policy %q does not govern this file (its spec.update.paths)", name))
		} else {
			s.markerProblem(n, &loc, v, name, fmt.Sprintf("no policy is named %q%s", name, knownNames(s.known)))
		}
		return
	}
	ref := Reference{
		Object:    obj,
		FieldPath: joinPath(path),
		Form:      form,
		Source:    SourceMarker,
		Policy:    p.Name,
		Current:   n.Value,
	}
	if parent != nil && parent.Kind == yaml.MappingNode {
		ref.group = s.groupOf(parent)
	}
	switch form {
	case FormImage:
		ref.Image, _ = image.Parse(n.Value)
	case FormTag:
		ref.Image = image.Ref{Repository: p.Image, Tag: n.Value}
	case FormName:
		ref.Image = image.Ref{Repository: p.Image}
		if r, err := image.NormalizeRepository(n.Value); err == nil {
			ref.Image.Repository = r
		}
	case FormDigest:
		ref.Image = image.Ref{Repository: p.Image, Digest: n.Value}
	}
	s.add(n, &loc, ref)
}

func (s *fileScan) markerProblem(n *yaml.Node, loc *scalarLoc, marker, name, why string) {
	line := n.Line
	if loc != nil && loc.line > 0 {
		line = loc.line
	}
	s.badMarkers = append(s.badMarkers, MarkerProblem{File: s.file, Line: line, Marker: marker, Policy: name, Why: why, Known: s.known[name]})
}

// knownNames lists up to 8 policy names, for a hint.
func knownNames(known map[string]bool) string {
	if len(known) == 0 {
		return ""
	}
	names := slices.Sorted(maps.Keys(known))
	if len(names) > 8 {
		names = append(names[:8], "…")
	}
	return " (policies: " + strings.Join(names, ", ") + ")"
}

func joinPath(path []string) string {
	var b strings.Builder
	for i, seg := range path {
		if i > 0 && !strings.HasPrefix(seg, "[") {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}
