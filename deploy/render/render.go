package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/ferrygitops/ferry/dotferry"
)

// Labels and annotations a render sets.
const (
	// LabelApp marks every rendered object with the app's name.
	LabelApp = "ferry.dev/app"
	// AnnotationAppliedHash holds a hash of the object as rendered; a
	// sync skips objects whose hash and live fields are unchanged.
	AnnotationAppliedHash = "ferry.dev/applied-hash"
)

// ServerFields are the metadata fields a server sets; manifests exported
// from a cluster carry them, and applying them would fail or lock. A render
// drops them, and diffs ignore them.
var ServerFields = []string{"resourceVersion", "uid", "generation", "managedFields", "creationTimestamp", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}

// Manifest is one rendered object, ready to apply.
type Manifest struct {
	Key    ObjectKey                  `json:"key"`
	Object *unstructured.Unstructured `json:"object"`
	// Source locates the object: FILE:LINE, or "kustomize build PATH".
	Source string `json:"source"`
	// Hash is the object's AnnotationAppliedHash.
	Hash string `json:"hash"`
	// ScopeUnknown: the kind is neither built in nor defined by a CRD of
	// the render, and no Scoper was given, so the object keeps the
	// namespace it was written with (none, if it names none).
	ScopeUnknown bool `json:"scopeUnknown,omitempty"`
}

// Rendered is an app's manifests at one revision, in apply order.
type Rendered struct {
	App      string `json:"app"`
	Revision string `json:"revision"`
	// BranchHead is the head of the app's branch when it was rendered.
	BranchHead string `json:"branchHead"`
	Path       string `json:"path"`
	// Kind is how the path was rendered (Detect).
	Kind      Kind       `json:"kind"`
	Kustomize bool       `json:"kustomize,omitempty"`
	Manifests []Manifest `json:"manifests"`
}

// Keys returns the keys of the manifests, in order.
func (r Rendered) Keys() []ObjectKey {
	out := make([]ObjectKey, len(r.Manifests))
	for i, m := range r.Manifests {
		out[i] = m.Key
	}
	return out
}

// Scoper says whether a kind is namespaced; the engine's asks the
// cluster's RESTMapper.
type Scoper interface {
	// Namespaced is called from several goroutines at once.
	Namespaced(gvk schema.GroupVersionKind) (bool, error)
}

// Options say how to prepare an app's objects.
type Options struct {
	// App is the value of every object's LabelApp.
	App string
	// Namespace is given to namespaced objects that name none; "" makes
	// such an object an error.
	Namespace string
	// Scope resolves the kinds that are neither built in nor defined by a
	// CRD of the render; nil leaves them as written (ScopeUnknown).
	Scope Scoper
	// Helm and Jsonnet are the App's explicit source settings.
	Helm    *dotferry.Helm
	Jsonnet *dotferry.Jsonnet
	// Capabilities gives a Helm chart the destination cluster's version
	// and API versions; nil: DefaultCapabilities.
	Capabilities CapabilitiesFunc
	// Charts fetches the chart dependencies not vendored under charts/;
	// nil: a process-wide Charts with the defaults (NewCharts(nil)).
	Charts *Charts
	// ParseCache keeps the parsed plain manifest files; nil: none.
	ParseCache *ParseCache
}

// Render is RenderContext with context.Background().
func Render(fsys fs.FS, p string, o Options) (Rendered, error) {
	return RenderContext(context.Background(), fsys, p, o)
}

// RenderContext reads the manifests at p in fsys (a directory, or one
// file) as Detect says: a Helm chart rendered with Helm's engine, a
// kustomization built with kustomize, a jsonnet program evaluated, or
// plain manifests read; then prepares them. Errors name the file and line
// (or the kustomize build, or the renderer's location) of the offending
// object. ctx bounds the fetches of chart dependencies and capabilities.
func RenderContext(ctx context.Context, fsys fs.FS, p string, o Options) (Rendered, error) {
	p = path.Clean(p)
	r := Rendered{App: o.App, Path: p}
	kind, err := Detect(fsys, p, o.Helm, o.Jsonnet)
	if err != nil {
		return r, err
	}
	r.Kind = kind
	var raws []rawObject
	switch kind {
	case KindHelm:
		raws, err = helmRender(ctx, fsys, p, o)
	case KindJsonnet:
		raws, err = jsonnetRender(fsys, p, o.Jsonnet)
	case KindKustomize:
		r.Kustomize = true
		raws, err = kustomizeBuild(fsys, p)
	default:
		var files []File
		if files, _, err = Files(fsys, p); err == nil {
			raws, err = parseFiles(files, o.ParseCache, decrypted(fsys))
		}
	}
	if err != nil {
		return r, err
	}
	r.Manifests, err = prepare(raws, o)
	return r, err
}

// parseFiles parses files on every CPU, through cache (if not nil) for
// the files not in secret; the objects keep file order, and the error is
// the first file's.
func parseFiles(files []File, cache *ParseCache, secret map[string]bool) ([]rawObject, error) {
	objs := make([][]rawObject, len(files))
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, f := range files {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if cache == nil || secret[f.Name] {
				objs[i], errs[i] = parseManifests(f.Name, f.Data)
			} else {
				objs[i], errs[i] = cache.parse(f)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, e := range errs {
			if e != nil {
				return nil, e
			}
		}
	}
	return slices.Concat(objs...), nil
}

// prepare turns parsed objects into manifests: List kinds flattened, every
// namespaced object without a namespace given o.Namespace, cluster-scoped
// objects stripped of theirs, the fields a server owns (status,
// resourceVersion, uid, managedFields, ...) dropped, LabelApp and
// AnnotationAppliedHash set; duplicates are errors; the result is in apply
// order.
func prepare(raws []rawObject, o Options) ([]Manifest, error) {
	raws, err := flatten(raws)
	if err != nil {
		return nil, err
	}
	sc := newScopes(raws, o.Scope)
	// Each object on its own, on every CPU (hashing thousands of objects
	// is most of a large render's time after parsing); then duplicates and
	// errors in file order, so the same render fails the same way.
	out := make([]Manifest, len(raws))
	errs := make([]error, len(raws))
	n := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			i := w
			defer func() {
				// As on the caller's goroutine: an error, not a crash.
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("%s: panic: %v", raws[i].source, p)
				}
			}()
			for ; i < len(raws); i += n {
				out[i], errs[i] = prepareOne(raws[i], sc, o)
			}
		})
	}
	wg.Wait()
	seen := map[ObjectKey]string{}
	for i, m := range out {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if prev, dup := seen[m.Key]; dup {
			return nil, fmt.Errorf("%s: %s is also defined at %s", m.Source, m.Key, prev)
		}
		seen[m.Key] = m.Source
	}
	slices.SortFunc(out, func(a, b Manifest) int { return a.Key.Compare(b.Key) })
	return out, nil
}

// prepareOne is prepare of one object.
func prepareOne(r rawObject, sc *scopes, o Options) (Manifest, error) {
	u := &unstructured.Unstructured{Object: r.obj}
	gvk := u.GroupVersionKind()
	namespaced, known, err := sc.namespaced(gvk)
	if err != nil {
		return Manifest{}, fmt.Errorf("%s: %w", r.source, err)
	}
	md := r.obj["metadata"].(map[string]any)
	for _, f := range ServerFields {
		delete(md, f)
	}
	delete(r.obj, "status")
	switch {
	case !known:
	case namespaced:
		if u.GetNamespace() == "" {
			if o.Namespace == "" {
				return Manifest{}, fmt.Errorf("%s: %s %s has no namespace and app %s has no destination namespace", r.source, gvk.Kind, u.GetName(), o.App)
			}
			u.SetNamespace(o.Namespace)
		}
	default:
		delete(md, "namespace")
	}
	if ns := u.GetNamespace(); ns != "" {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			return Manifest{}, fmt.Errorf("%s: invalid namespace %q: %s", r.source, ns, strings.Join(errs, "; "))
		}
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelApp] = o.App
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
		return Manifest{}, fmt.Errorf("%s: %w", r.source, err)
	}
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationAppliedHash] = hash
	u.SetAnnotations(ann)
	key := KeyOf(u)
	if g, ok := GeneratedName(r.obj); ok {
		key.Name = g // a hook's generated name: keyed by its prefix
	}
	return Manifest{Key: key, Object: u, Source: r.source, Hash: hash, ScopeUnknown: !known}, nil
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
