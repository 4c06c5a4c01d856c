package render

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// BuiltinNamespaced reports whether a kind Kubernetes serves without CRDs
// is namespaced, and whether gk is such a kind.
func BuiltinNamespaced(gk schema.GroupKind) (namespaced, ok bool) {
	namespaced, ok = builtinScopes[gk]
	return namespaced, ok
}

// CRDKind returns the group and kind a CustomResourceDefinition defines,
// and whether it is namespaced.
func CRDKind(crd *unstructured.Unstructured) (schema.GroupKind, bool) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	return schema.GroupKind{Group: group, Kind: kind}, scope != "Cluster"
}

// scopes resolves a render's kinds: built in first, then the CRDs of the
// render, then the Scoper.
type scopes struct {
	crds  map[schema.GroupKind]bool // namespaced?
	outer Scoper
}

func newScopes(raws []rawObject, outer Scoper) *scopes {
	s := &scopes{crds: map[schema.GroupKind]bool{}, outer: outer}
	for _, r := range raws {
		u := &unstructured.Unstructured{Object: r.obj}
		if u.GroupVersionKind().GroupKind() == GKCRD {
			gk, namespaced := CRDKind(u)
			s.crds[gk] = namespaced
		}
	}
	return s
}

// namespaced reports gvk's scope, and whether it is known.
func (s *scopes) namespaced(gvk schema.GroupVersionKind) (namespaced, known bool, err error) {
	gk := gvk.GroupKind()
	if ns, ok := builtinScopes[gk]; ok {
		return ns, true, nil
	}
	if ns, ok := s.crds[gk]; ok {
		return ns, true, nil
	}
	if s.outer == nil {
		return false, false, nil
	}
	ns, err := s.outer.Namespaced(gvk)
	return ns, err == nil, err
}

// BuiltinKinds lists the kinds of BuiltinNamespaced's table, in no order.
func BuiltinKinds() []schema.GroupKind {
	out := make([]schema.GroupKind, 0, len(builtinScopes))
	for gk := range builtinScopes {
		out = append(out, gk)
	}
	return out
}
