package dotferry

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/document"
)

// DefaultInventoryNamespace holds the inventories, records and sync leases
// of the apps when Ferry runs outside a pod and is given no namespace.
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
	// Helm and Jsonnet are the source's explicit settings (spec.source.helm,
	// spec.source.jsonnet); nil when the document gives none. Which
	// renderer runs is detected from Path (see package render).
	Helm    *Helm    `json:"helm,omitempty"`
	Jsonnet *Jsonnet `json:"jsonnet,omitempty"`
	// Namespace is the destination namespace, given to namespaced objects
	// that name none.
	Namespace string `json:"namespace,omitempty"`
	// Context is the kubeconfig context of the destination cluster; ""
	// means in-cluster (or the kubeconfig's current context outside a
	// cluster). The Syncer does not read it: whoever builds the Syncer's
	// rest.Config does.
	Context string `json:"context,omitempty"`
	// Server names the destination cluster by its API server URL instead
	// (Argo CD's destination.server): the kubeconfig context talking to it.
	Server string `json:"server,omitempty"`
	// InventoryNamespace holds the app's inventory, record and lease;
	// default the sync engine's namespace (Ferry's own: the pod's, else
	// DefaultInventoryNamespace).
	InventoryNamespace string `json:"inventoryNamespace,omitempty"`

	Automated bool `json:"automated,omitempty"`
	Prune     bool `json:"prune,omitempty"`
	SelfHeal  bool `json:"selfHeal,omitempty"`
	// AllowEmpty lets a sync that renders no object prune every object
	// of the previous sync.
	AllowEmpty bool `json:"allowEmpty,omitempty"`
	// Interval is how often Watch polls the branch; 0 means the
	// engine's default.
	Interval time.Duration `json:"interval,omitempty"`
	// Timeout bounds the health wait of syncs; 0 means the engine's
	// default; negative (only flags can ask for it: --timeout 0s) means
	// do not wait.
	Timeout time.Duration `json:"timeout,omitempty"`
	// ReleasePinOnNewCommit makes a new commit on the branch release a
	// rollback pin, so the next sync applies it.
	ReleasePinOnNewCommit bool `json:"releasePinOnNewCommit,omitempty"`
	// Decryption decrypts the app's SOPS files at render time (see
	// decryption.go); nil: only the keys Ferry is configured with.
	Decryption *Decryption `json:"decryption,omitempty"`

	// Source is where the App document was read from; zero for apps made
	// from flags.
	Source document.Source `json:"source,omitzero"`
}

var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxAppName keeps every derived name (ferry-inventory-NAME, label values)
// within Kubernetes' limits: the app name is also a label value (63).
const maxAppName = 63

// Validate checks the fields a sync needs.
func (a App) Validate() error {
	if err := CheckAppName(a.Name); err != nil {
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
	if a.Interval < 0 {
		return fmt.Errorf("app %s: negative interval", a.Name)
	}
	return nil
}

// CheckAppName reports whether name can name an app: a DNS label of at
// most 63 characters (it is also a label value and part of object names).
func CheckAppName(name string) error {
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

// CleanPath is Path, cleaned; "." for the repository root.
func (a App) CleanPath() string {
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

// WithRepository returns apps with repoURL and branch given to those whose
// spec.source names none: the repository holding .ferry.
func WithRepository(apps []App, repoURL, branch string) []App {
	out := slices.Clone(apps)
	for i := range out {
		if out[i].RepoURL == "" {
			out[i].RepoURL = repoURL
		}
		if out[i].Branch == "" {
			out[i].Branch = branch
		}
	}
	return out
}

func sortApps(apps []App) {
	slices.SortFunc(apps, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
}

// app validates an App document and, when it has no problem, adds it to
// the Set.
func (l *loader) app(d *document.Doc) {
	mark := d.Mark()
	root := d.Root
	var app App
	top := d.Fields(root, "", "apiVersion", "kind", "metadata", "spec")
	var nameNode *yaml.Node
	if mf, ok := top["metadata"]; ok {
		meta := d.Fields(mf.Val, "metadata", "name", "labels", "annotations")
		if nf, ok := meta["name"]; ok && !document.IsNull(nf.Val) {
			nameNode = nf.Val
			app.Name, _ = d.Str(nf, "metadata.name")
		}
		d.StrMap(meta["labels"], "metadata.labels")
		d.StrMap(meta["annotations"], "metadata.annotations")
	}
	if nameNode == nil {
		d.Missing(root, "metadata.name")
	} else if app.Name != "" {
		if err := CheckAppName(app.Name); err != nil {
			d.Errorf(nameNode, "metadata.name", "%v", err)
		}
	}
	sf, ok := top["spec"]
	if !ok || document.IsNull(sf.Val) {
		d.Missing(root, "spec")
	} else {
		appSpec(d, &app, sf)
	}
	if d.Failed(mark) {
		return
	}
	app.Source = d.Source()
	if !claim(d, nil, l.apps, app.Name, app.Source, "app %q is also declared at %s") {
		return
	}
	l.set.Apps = append(l.set.Apps, app)
}

func appSpec(d *document.Doc, app *App, sf document.Field) {
	spec := d.Fields(sf.Val, "spec", "source", "destination", "syncPolicy", "decryption")
	if f, ok := spec["decryption"]; ok {
		app.Decryption = appDecryption(d, f)
	}
	if f, ok := spec["source"]; ok {
		src := d.Fields(f.Val, "spec.source", sourceFields...)
		app.RepoURL, _ = d.Str(src["repoURL"], "spec.source.repoURL")
		app.Branch, _ = d.Str(src["branch"], "spec.source.branch")
		if pf := src["path"]; pf.Present() {
			app.Path, _ = d.Str(pf, "spec.source.path")
			if err := validPath(app.Path); err != nil {
				d.Errorf(pf.Val, "spec.source.path", "%v", err)
			}
		}
		sourceSettings(d, app, src)
	}
	if f, ok := spec["destination"]; ok {
		dst := d.Fields(f.Val, "spec.destination", "namespace", "context", "server", "inventoryNamespace")
		app.Namespace = namespace(d, dst["namespace"], "spec.destination.namespace")
		app.Context, _ = d.Str(dst["context"], "spec.destination.context")
		if sf := dst["server"]; sf.Present() {
			app.Server, _ = d.Str(sf, "spec.destination.server")
			if u, err := url.Parse(app.Server); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
				d.Errorf(sf.Val, "spec.destination.server", "must be an API server URL such as https://kubernetes.default.svc, got %q", app.Server)
			} else if app.Context != "" {
				d.Errorf(sf.Val, "spec.destination.server", "give context or server, not both")
			}
		}
		app.InventoryNamespace = namespace(d, dst["inventoryNamespace"], "spec.destination.inventoryNamespace")
	}
	if f, ok := spec["syncPolicy"]; ok {
		const p = "spec.syncPolicy"
		sp := d.Fields(f.Val, p, "automated", "prune", "selfHeal", "allowEmpty", "releasePinOnNewCommit", "interval", "timeout")
		app.Automated = d.Bool(sp["automated"], p+".automated")
		app.Prune = d.Bool(sp["prune"], p+".prune")
		app.SelfHeal = d.Bool(sp["selfHeal"], p+".selfHeal")
		app.AllowEmpty = d.Bool(sp["allowEmpty"], p+".allowEmpty")
		app.ReleasePinOnNewCommit = d.Bool(sp["releasePinOnNewCommit"], p+".releasePinOnNewCommit")
		app.Interval = positiveDuration(d, sp["interval"], p+".interval")
		app.Timeout = positiveDuration(d, sp["timeout"], p+".timeout")
	}
}

func namespace(d *document.Doc, f document.Field, path string) string {
	ns, ok := d.Str(f, path)
	if ok && ns != "" && !dnsLabelRE.MatchString(ns) {
		d.Errorf(f.Val, path, "invalid namespace %q: want a DNS label", ns)
	}
	return ns
}

func positiveDuration(d *document.Doc, f document.Field, path string) time.Duration {
	s, ok := d.Str(f, path)
	if !ok {
		return 0
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		d.Errorf(f.Val, path, "must be a positive duration such as 1m or 30s, got %q", s)
		return 0
	}
	return v
}
