package deploy

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/policy"
)

// DefaultInterval is the Watch interval of an app that names none.
const DefaultInterval = time.Minute

// DefaultInventoryNamespace holds the inventory, record and lease of an app
// without a destination namespace.
const DefaultInventoryNamespace = "ferry-system"

// App is one deployable unit: the manifests under Path in branch Branch of
// the git repository RepoURL, applied to the cluster (and kubeconfig
// Context) a Syncer talks to.
type App struct {
	Name    string `json:"name"`
	RepoURL string `json:"repoURL"`
	Branch  string `json:"branch"`
	// Path is the directory (or single file) of the manifests, slash
	// separated and relative to the repository root; "" or "." is the
	// root. A directory holding kustomization.yaml (or .yml, or
	// Kustomization) is built with kustomize.
	Path string `json:"path"`
	// Namespace is the destination namespace, given to namespaced objects
	// that name none.
	Namespace string `json:"namespace,omitempty"`
	// Context is the kubeconfig context of the destination cluster; ""
	// means in-cluster (or the kubeconfig's current context outside a
	// cluster). The Syncer does not read it: whoever builds the Syncer's
	// rest.Config does (see RESTConfig).
	Context string `json:"context,omitempty"`
	// InventoryNamespace holds the app's inventory, record and lease;
	// default Namespace, else DefaultInventoryNamespace.
	InventoryNamespace string `json:"inventoryNamespace,omitempty"`

	Automated bool `json:"automated,omitempty"`
	Prune     bool `json:"prune,omitempty"`
	SelfHeal  bool `json:"selfHeal,omitempty"`
	// AllowEmpty lets a sync that renders no object prune every object
	// of the previous sync.
	AllowEmpty bool `json:"allowEmpty,omitempty"`
	// Interval is how often Watch polls the branch; 0 means
	// DefaultInterval.
	Interval time.Duration `json:"interval,omitempty"`
	// Timeout bounds the health wait of automated syncs; 0 means
	// DefaultTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
	// ReleasePinOnNewCommit makes a new commit on the branch release a
	// rollback pin, so the next sync applies it.
	ReleasePinOnNewCommit bool `json:"releasePinOnNewCommit,omitempty"`

	// Source is where the App document was read from; zero for apps made
	// from flags.
	Source policy.Source `json:"source,omitzero"`
}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxAppName keeps every derived name (ferry-inventory-NAME, label values)
// within Kubernetes' limits: the app name is also a label value (63).
const maxAppName = 63

// Validate checks the fields a sync needs.
func (a App) Validate() error {
	if err := validAppName(a.Name); err != nil {
		return err
	}
	if a.RepoURL == "" {
		return fmt.Errorf("app %s: no repository URL", a.Name)
	}
	if a.Branch == "" {
		return fmt.Errorf("app %s: no branch", a.Name)
	}
	if err := validPath(a.Path); err != nil {
		return fmt.Errorf("app %s: %w", a.Name, err)
	}
	for _, ns := range []string{a.Namespace, a.InventoryNamespace} {
		if ns != "" && !dnsLabelRE.MatchString(ns) {
			return fmt.Errorf("app %s: invalid namespace %q", a.Name, ns)
		}
	}
	if a.Interval < 0 || a.Timeout < 0 {
		return fmt.Errorf("app %s: negative interval or timeout", a.Name)
	}
	return nil
}

func validAppName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("app has no name")
	case len(name) > maxAppName || !dnsLabelRE.MatchString(name):
		return fmt.Errorf("invalid app name %q: want a DNS label (lowercase letters, digits and '-', at most %d characters)", name, maxAppName)
	}
	return nil
}

func validPath(p string) error {
	if p == "" || p == "." {
		return nil
	}
	q := strings.TrimSuffix(p, "/")
	if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || path.Clean(q) != q {
		return fmt.Errorf("invalid path %q: want a clean slash-separated path relative to the repository root", p)
	}
	if q == ".." || strings.HasPrefix(q, "../") {
		return fmt.Errorf("invalid path %q: it leaves the repository", p)
	}
	return nil
}

// inventoryNamespace is where the app's inventory, record and lease live.
func (a App) inventoryNamespace() string {
	switch {
	case a.InventoryNamespace != "":
		return a.InventoryNamespace
	case a.Namespace != "":
		return a.Namespace
	}
	return DefaultInventoryNamespace
}

func (a App) cleanPath() string {
	if a.Path == "" {
		return "."
	}
	return path.Clean(a.Path)
}

// FindApp returns the app named name.
func FindApp(apps []App, name string) (App, bool) {
	for _, a := range apps {
		if a.Name == name {
			return a, true
		}
	}
	return App{}, false
}

// LoadApps reads the kind App documents of set (policy.Set.Others, as
// policy.LoadDir read them from a repository's .ferry directory). Apps
// whose spec.source names no repository or branch get repoURL and branch,
// those of the repository holding .ferry. Documents are read strictly:
// unknown or duplicate fields, values of the wrong type, bad names, paths,
// namespaces and durations, and two apps of one name are errors. Every
// problem is returned, as policy.Errors, each located to the file and line
// of the offending field.
func LoadApps(set *policy.Set, repoURL, branch string) ([]App, error) {
	if set == nil {
		return nil, nil
	}
	var apps []App
	var errs policy.Errors
	seen := map[string]policy.Source{}
	for _, d := range set.Others {
		if d.Kind != policy.KindApp {
			continue
		}
		p := appParser{file: d.Source.File, base: d.Source.Line}
		app, ok := p.parse(d.YAML)
		errs = append(errs, p.errs...)
		if !ok {
			continue
		}
		if app.RepoURL == "" {
			app.RepoURL = repoURL
		}
		if app.Branch == "" {
			app.Branch = branch
		}
		app.Source = d.Source
		if prev, dup := seen[app.Name]; dup {
			errs = append(errs, &policy.Error{File: d.Source.File, Line: d.Source.Line, Field: "metadata.name",
				Msg: fmt.Sprintf("app %q is also declared at %s:%d", app.Name, prev.File, prev.Line)})
			continue
		}
		seen[app.Name] = d.Source
		apps = append(apps, app)
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *policy.Error) int {
			if c := strings.Compare(a.File, b.File); c != 0 {
				return c
			}
			return a.Line - b.Line
		})
		return nil, errs
	}
	slices.SortFunc(apps, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
	return apps, nil
}

// appParser validates one App document.
type appParser struct {
	file string
	base int // file line of the document's root mapping
	off  int // base minus the root's line within the document
	errs policy.Errors
}

func (p *appParser) errorf(n *yaml.Node, field, format string, args ...any) {
	line := p.base
	if n != nil {
		line = p.off + n.Line
	}
	p.errs = append(p.errs, &policy.Error{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// fields walks mapping n (named field, "" for the root), calling set for
// each known key and reporting unknown and duplicate keys.
func (p *appParser) fields(n *yaml.Node, field string, known map[string]func(string, *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		if isNull(n) {
			return
		}
		p.errorf(n, field, "must be a mapping, got %s", describe(n))
		return
	}
	dup := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := join(field, k.Value)
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, field, "keys must be strings")
			continue
		}
		if dup[k.Value] {
			p.errorf(k, name, "duplicate field")
			continue
		}
		dup[k.Value] = true
		set, ok := known[k.Value]
		if !ok {
			p.errorf(k, name, "unknown field")
			continue
		}
		if set != nil {
			set(name, v)
		}
	}
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%q", n.Value)
}

func (p *appParser) str(field string, n *yaml.Node, dst *string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, field, "must be a string, got %s", describe(n))
		return
	}
	*dst = n.Value
}

func (p *appParser) boolean(field string, n *yaml.Node, dst *bool) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errorf(n, field, "must be true or false, got %s", describe(n))
		return
	}
	b, err := strconv.ParseBool(n.Value)
	if err != nil {
		// YAML 1.1 spellings yaml.v3 tags !!bool.
		b = strings.EqualFold(n.Value, "yes") || strings.EqualFold(n.Value, "on")
	}
	*dst = b
}

func (p *appParser) duration(field string, n *yaml.Node, dst *time.Duration) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, field, "must be a duration such as 1m or 30s, got %s", describe(n))
		return
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d <= 0 {
		p.errorf(n, field, "must be a positive duration such as 1m or 30s, got %q", n.Value)
		return
	}
	*dst = d
}

func (p *appParser) parse(data []byte) (App, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.errorf(nil, "", "invalid YAML: %v", err)
		return App{}, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		p.errorf(nil, "", "empty document")
		return App{}, false
	}
	root := doc.Content[0]
	p.off = p.base - root.Line
	first := len(p.errs)
	var app App
	var nameNode, specNode *yaml.Node
	p.fields(root, "", map[string]func(string, *yaml.Node){
		"apiVersion": nil, // checked by policy
		"kind":       nil,
		"metadata": func(f string, n *yaml.Node) {
			p.fields(n, f, map[string]func(string, *yaml.Node){
				"name":        func(f string, n *yaml.Node) { nameNode = n; p.str(f, n, &app.Name) },
				"labels":      nil,
				"annotations": nil,
			})
		},
		"spec": func(f string, n *yaml.Node) {
			specNode = n
			p.fields(n, f, map[string]func(string, *yaml.Node){
				"source": func(f string, n *yaml.Node) {
					p.fields(n, f, map[string]func(string, *yaml.Node){
						"repoURL": func(f string, n *yaml.Node) { p.str(f, n, &app.RepoURL) },
						"branch":  func(f string, n *yaml.Node) { p.str(f, n, &app.Branch) },
						"path": func(f string, n *yaml.Node) {
							p.str(f, n, &app.Path)
							if err := validPath(app.Path); err != nil {
								p.errorf(n, f, "%v", err)
							}
						},
					})
				},
				"destination": func(f string, n *yaml.Node) {
					p.fields(n, f, map[string]func(string, *yaml.Node){
						"namespace": func(f string, n *yaml.Node) {
							p.str(f, n, &app.Namespace)
							p.namespace(f, n, app.Namespace)
						},
						"context": func(f string, n *yaml.Node) { p.str(f, n, &app.Context) },
						"inventoryNamespace": func(f string, n *yaml.Node) {
							p.str(f, n, &app.InventoryNamespace)
							p.namespace(f, n, app.InventoryNamespace)
						},
					})
				},
				"syncPolicy": func(f string, n *yaml.Node) {
					p.fields(n, f, map[string]func(string, *yaml.Node){
						"automated":             func(f string, n *yaml.Node) { p.boolean(f, n, &app.Automated) },
						"prune":                 func(f string, n *yaml.Node) { p.boolean(f, n, &app.Prune) },
						"selfHeal":              func(f string, n *yaml.Node) { p.boolean(f, n, &app.SelfHeal) },
						"allowEmpty":            func(f string, n *yaml.Node) { p.boolean(f, n, &app.AllowEmpty) },
						"releasePinOnNewCommit": func(f string, n *yaml.Node) { p.boolean(f, n, &app.ReleasePinOnNewCommit) },
						"interval":              func(f string, n *yaml.Node) { p.duration(f, n, &app.Interval) },
						"timeout":               func(f string, n *yaml.Node) { p.duration(f, n, &app.Timeout) },
					})
				},
			})
		},
	})
	if nameNode == nil || isNull(nameNode) {
		p.errorf(root, "metadata.name", "required field is missing")
	} else if app.Name != "" {
		if err := validAppName(app.Name); err != nil {
			p.errorf(nameNode, "metadata.name", "%v", err)
		}
	}
	if specNode == nil || isNull(specNode) {
		p.errorf(root, "spec", "required field is missing")
	}
	return app, len(p.errs) == first
}

func (p *appParser) namespace(field string, n *yaml.Node, ns string) {
	if ns != "" && !dnsLabelRE.MatchString(ns) {
		p.errorf(n, field, "invalid namespace %q: want a DNS label", ns)
	}
}
