package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/document"
)

// ObjectKey names an object independently of its API version: the key of
// inventories, prunes and reports.
type ObjectKey struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// KeyOf returns the key of u.
func KeyOf(u *unstructured.Unstructured) ObjectKey {
	gvk := u.GroupVersionKind()
	return ObjectKey{Group: gvk.Group, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// String reads Kind[.group]/[namespace/]name, e.g. Deployment.apps/web/api.
func (k ObjectKey) String() string {
	var b strings.Builder
	b.WriteString(k.Kind)
	if k.Group != "" {
		b.WriteByte('.')
		b.WriteString(k.Group)
	}
	b.WriteByte('/')
	if k.Namespace != "" {
		b.WriteString(k.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(k.Name)
	return b.String()
}

func (k ObjectKey) groupKind() schema.GroupKind {
	return schema.GroupKind{Group: k.Group, Kind: k.Kind}
}

// compare orders keys by apply order: kind priority, then group, kind,
// namespace and name.
func (k ObjectKey) compare(o ObjectKey) int {
	if a, b := kindPriority(k.groupKind()), kindPriority(o.groupKind()); a != b {
		return a - b
	}
	for _, c := range [][2]string{{k.Group, o.Group}, {k.Kind, o.Kind}, {k.Namespace, o.Namespace}, {k.Name, o.Name}} {
		if r := strings.Compare(c[0], c[1]); r != 0 {
			return r
		}
	}
	return 0
}

// applyOrder ranks the well-known kinds the way kubectl, Helm and Argo CD
// install them: namespaces and CRDs, then policies, identities and
// configuration, RBAC, services, workloads, ingress, and webhooks last.
// Other kinds (custom resources) come after all of them.
var applyOrder = []schema.GroupKind{
	{Kind: "Namespace"},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"},
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"},
	{Kind: "ResourceQuota"},
	{Kind: "LimitRange"},
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"},
	{Group: "policy", Kind: "PodDisruptionBudget"},
	{Kind: "ServiceAccount"},
	{Kind: "Secret"},
	{Kind: "ConfigMap"},
	{Group: "storage.k8s.io", Kind: "StorageClass"},
	{Kind: "PersistentVolume"},
	{Kind: "PersistentVolumeClaim"},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"},
	{Group: "rbac.authorization.k8s.io", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"},
	{Kind: "Service"},
	{Group: "apps", Kind: "DaemonSet"},
	{Kind: "Pod"},
	{Kind: "ReplicationController"},
	{Group: "apps", Kind: "ReplicaSet"},
	{Group: "apps", Kind: "Deployment"},
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"},
	{Group: "apps", Kind: "StatefulSet"},
	{Group: "batch", Kind: "Job"},
	{Group: "batch", Kind: "CronJob"},
	{Group: "networking.k8s.io", Kind: "IngressClass"},
	{Group: "networking.k8s.io", Kind: "Ingress"},
	{Group: "apiregistration.k8s.io", Kind: "APIService"},
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"},
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"},
}

var applyRank = func() map[schema.GroupKind]int {
	m := make(map[schema.GroupKind]int, len(applyOrder))
	for i, gk := range applyOrder {
		m[gk] = i
	}
	return m
}()

func kindPriority(gk schema.GroupKind) int {
	if r, ok := applyRank[gk]; ok {
		return r
	}
	return len(applyOrder)
}

var (
	gkNamespace = schema.GroupKind{Kind: "Namespace"}
	gkCRD       = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	gkSecret    = schema.GroupKind{Kind: "Secret"}
)

// firstPhase reports whether objects of gk are applied before the rest.
func firstPhase(gk schema.GroupKind) bool { return gk == gkNamespace || gk == gkCRD }

// Manifest is one rendered object, ready to apply.
type Manifest struct {
	Key    ObjectKey                  `json:"key"`
	Object *unstructured.Unstructured `json:"object"`
	// Source locates the object: FILE:LINE, or "kustomize build PATH".
	Source string `json:"source"`
	// Hash is the object's AnnotationAppliedHash.
	Hash string `json:"hash"`

	// mapping is nil for a kind a CRD of the same render defines and the
	// cluster does not serve yet.
	mapping *meta.RESTMapping
}

// Rendered is an app's manifests at one revision, in apply order.
type Rendered struct {
	App      string `json:"app"`
	Revision string `json:"revision"`
	// BranchHead is the head of the app's branch when it was rendered.
	BranchHead string     `json:"branchHead"`
	Path       string     `json:"path"`
	Kustomize  bool       `json:"kustomize,omitempty"`
	Manifests  []Manifest `json:"manifests"`
}

// Keys returns the keys of the manifests, in order.
func (r Rendered) Keys() []ObjectKey {
	out := make([]ObjectKey, len(r.Manifests))
	for i, m := range r.Manifests {
		out[i] = m.Key
	}
	return out
}

// Render reads the app's manifests at revision ("" for the head of its
// branch; a full or abbreviated commit hash otherwise) from a fetched
// clone, parses or builds them, and prepares them for the cluster: every
// namespaced object without a namespace gets the app's, cluster-scoped
// objects lose theirs, every object gets the label LabelApp and the
// annotation AnnotationAppliedHash, and the fields a server owns (status,
// resourceVersion, uid, managedFields, ...) are dropped. The result is in
// apply order and does not depend on file order beyond that. Errors name
// the file and line (or the kustomize build) of the offending object.
func (s *Syncer) Render(ctx context.Context, app App, revision string) (Rendered, error) {
	if err := app.Validate(); err != nil {
		return Rendered{}, err
	}
	r := Rendered{App: app.Name, Path: app.CleanPath()}
	var raws []rawObject
	err := s.git.with(ctx, app.RepoURL, app.Branch, func(e *gitEntry) error {
		commit, err := e.resolve(revision)
		if err != nil {
			return err
		}
		r.Revision = commit.Hash.String()
		r.BranchHead = e.repo.BaseHead().String()
		tree, err := commit.Tree()
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", r.Revision, err)
		}
		files, kust, err := manifestFiles(tree, r.Path)
		if err != nil {
			return fmt.Errorf("at %.12s: %w", r.Revision, err)
		}
		r.Kustomize = kust
		if kust {
			dir, err := e.extract(commit)
			if err != nil {
				return err
			}
			raws, err = kustomizeBuild(dir, r.Path)
			return err
		}
		for _, f := range files {
			objs, err := parseManifests(f.name, f.data)
			if err != nil {
				return err
			}
			raws = append(raws, objs...)
		}
		return nil
	})
	if err != nil {
		return Rendered{}, fmt.Errorf("rendering app %s: %w", app.Name, err)
	}
	if r.Manifests, err = s.prepare(app, raws); err != nil {
		return Rendered{}, fmt.Errorf("rendering app %s at %.12s: %w", app.Name, r.Revision, err)
	}
	return r, nil
}

// rawObject is a parsed manifest before preparation.
type rawObject struct {
	obj    map[string]any
	source string
}

var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// parseManifests parses a YAML (multi-document) or JSON file.
func parseManifests(name string, data []byte) ([]rawObject, error) {
	var out []rawObject
	for _, c := range document.Split(data) {
		j, err := yaml.YAMLToJSONStrict(c.Data)
		if err != nil {
			line, msg := c.Line, err.Error()
			if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil {
				n, _ := strconv.Atoi(msg[m[2]:m[3]])
				line, msg = c.Line-1+n, msg[m[1]:]
			}
			return nil, fmt.Errorf("%s:%d: invalid YAML: %s", name, line, strings.TrimSpace(msg))
		}
		if bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
			continue
		}
		var v any
		if err := utiljson.Unmarshal(j, &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, c.Line, err)
		}
		src := fmt.Sprintf("%s:%d", name, c.Line)
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: a manifest must be a mapping", src)
		}
		out = append(out, rawObject{obj: obj, source: src})
	}
	return out, nil
}

// kustomizeBuild runs kustomize (krusty, plugins off, loads restricted
// to the kustomization root) on dir/p.
func kustomizeBuild(dir, p string) ([]rawObject, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(dir, filepath.FromSlash(p)))
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
		return nil, fmt.Errorf("kustomize build %s: %s", p, msg)
	}
	var out []rawObject
	for _, res := range rm.Resources() {
		j, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", p, err)
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(j, &obj); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", p, err)
		}
		out = append(out, rawObject{obj: obj, source: "kustomize build " + p})
	}
	return out, nil
}

// flatten validates the shape of raw objects and expands List kinds.
func flatten(raws []rawObject) ([]rawObject, error) {
	var out []rawObject
	for _, r := range raws {
		kind, _ := r.obj["kind"].(string)
		items, isList := r.obj["items"].([]any)
		if kind == "List" || strings.HasSuffix(kind, "List") && isList {
			for i, it := range items {
				m, ok := it.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("%s: items[%d]: an item must be a mapping", r.source, i)
				}
				sub, err := flatten([]rawObject{{obj: m, source: fmt.Sprintf("%s (items[%d])", r.source, i)}})
				if err != nil {
					return nil, err
				}
				out = append(out, sub...)
			}
			continue
		}
		if err := checkShape(r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func checkShape(r rawObject) error {
	for _, f := range []string{"apiVersion", "kind"} {
		v, ok := r.obj[f].(string)
		if !ok || v == "" {
			return fmt.Errorf("%s: %s is missing or not a string", r.source, f)
		}
	}
	if _, err := schema.ParseGroupVersion(r.obj["apiVersion"].(string)); err != nil {
		return fmt.Errorf("%s: %w", r.source, err)
	}
	md, ok := r.obj["metadata"].(map[string]any)
	if !ok {
		return fmt.Errorf("%s: metadata is missing or not a mapping", r.source)
	}
	name, _ := md["name"].(string)
	if name == "" {
		if _, gen := md["generateName"]; gen {
			return fmt.Errorf("%s: metadata.generateName is not supported: give the object a name", r.source)
		}
		return fmt.Errorf("%s: metadata.name is missing or not a string", r.source)
	}
	if ns, ok := md["namespace"]; ok && ns != nil {
		if _, isStr := ns.(string); !isStr {
			return fmt.Errorf("%s: metadata.namespace is not a string", r.source)
		}
	}
	for _, f := range []string{"labels", "annotations"} {
		if v, ok := md[f]; ok && v != nil {
			m, isMap := v.(map[string]any)
			if !isMap {
				return fmt.Errorf("%s: metadata.%s is not a mapping", r.source, f)
			}
			for k, val := range m {
				if _, isStr := val.(string); !isStr {
					return fmt.Errorf("%s: metadata.%s.%s is not a string", r.source, f, k)
				}
			}
		}
	}
	return nil
}

// serverFields are metadata fields a server sets; manifests exported from
// a cluster carry them, and applying them would fail or lock.
var serverFields = []string{"resourceVersion", "uid", "generation", "managedFields", "creationTimestamp", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// prepare turns parsed objects into manifests: scope, namespace, label,
// hash, order, and duplicate detection.
func (s *Syncer) prepare(app App, raws []rawObject) ([]Manifest, error) {
	raws, err := flatten(raws)
	if err != nil {
		return nil, err
	}
	// Kinds defined by CRDs of this render, and their scope.
	crdScope := map[schema.GroupKind]bool{} // namespaced?
	for _, r := range raws {
		u := unstructured.Unstructured{Object: r.obj}
		if u.GroupVersionKind().GroupKind() != gkCRD {
			continue
		}
		group, _, _ := unstructured.NestedString(r.obj, "spec", "group")
		kind, _, _ := unstructured.NestedString(r.obj, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(r.obj, "spec", "scope")
		crdScope[schema.GroupKind{Group: group, Kind: kind}] = scope != "Cluster"
	}
	seen := map[ObjectKey]string{}
	out := make([]Manifest, 0, len(raws))
	for _, r := range raws {
		u := &unstructured.Unstructured{Object: r.obj}
		gvk := u.GroupVersionKind()
		var namespaced bool
		m, err := s.mapping(gvk)
		switch {
		case err == nil:
			namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
		case meta.IsNoMatchError(err):
			ns, ok := crdScope[gvk.GroupKind()]
			if !ok {
				return nil, fmt.Errorf("%s: the cluster has no kind %s in %s (is its CRD installed?)", r.source, gvk.Kind, gvk.GroupVersion())
			}
			namespaced, m = ns, nil
		default:
			return nil, fmt.Errorf("%s: %w", r.source, err)
		}
		md := r.obj["metadata"].(map[string]any)
		for _, f := range serverFields {
			delete(md, f)
		}
		delete(r.obj, "status")
		if namespaced {
			if u.GetNamespace() == "" {
				if app.Namespace == "" {
					return nil, fmt.Errorf("%s: %s %s has no namespace and app %s has no destination namespace", r.source, gvk.Kind, u.GetName(), app.Name)
				}
				u.SetNamespace(app.Namespace)
			}
			if errs := validation.IsDNS1123Label(u.GetNamespace()); len(errs) > 0 {
				return nil, fmt.Errorf("%s: invalid namespace %q: %s", r.source, u.GetNamespace(), strings.Join(errs, "; "))
			}
		} else {
			delete(md, "namespace")
		}
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelApp] = app.Name
		u.SetLabels(labels)
		ann := u.GetAnnotations()
		delete(ann, AnnotationAppliedHash)
		if len(ann) == 0 {
			delete(md, "annotations")
		} else {
			u.SetAnnotations(ann)
		}
		hash, err := objectHash(r.obj)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.source, err)
		}
		if ann == nil {
			ann = map[string]string{}
		}
		ann[AnnotationAppliedHash] = hash
		u.SetAnnotations(ann)
		key := KeyOf(u)
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s: %s is also defined at %s", r.source, key, prev)
		}
		seen[key] = r.source
		out = append(out, Manifest{Key: key, Object: u, Source: r.source, Hash: hash, mapping: m})
	}
	slices.SortFunc(out, func(a, b Manifest) int { return a.Key.compare(b.Key) })
	return out, nil
}

// objectHash hashes an object's canonical JSON (encoding/json sorts map
// keys).
func objectHash(obj map[string]any) (string, error) {
	j, err := json.Marshal(obj)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(j)
	return hex.EncodeToString(sum[:16]), nil
}
