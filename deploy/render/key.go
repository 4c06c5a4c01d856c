package render

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
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

// GroupKind returns the key's group and kind.
func (k ObjectKey) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: k.Group, Kind: k.Kind}
}

// Compare orders keys by apply order: kind priority, then group, kind,
// namespace and name.
func (k ObjectKey) Compare(o ObjectKey) int {
	if a, b := KindPriority(k.GroupKind()), KindPriority(o.GroupKind()); a != b {
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
	GKNamespace,
	GKCRD,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"},
	{Kind: "ResourceQuota"},
	{Kind: "LimitRange"},
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"},
	{Group: "policy", Kind: "PodDisruptionBudget"},
	{Kind: "ServiceAccount"},
	GKSecret,
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

// KindPriority is gk's rank in apply order; kinds not listed (custom
// resources) share the last rank.
func KindPriority(gk schema.GroupKind) int {
	if r, ok := applyRank[gk]; ok {
		return r
	}
	return len(applyOrder)
}

// Kinds the engine treats specially.
var (
	GKNamespace = schema.GroupKind{Kind: "Namespace"}
	GKCRD       = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	GKSecret    = schema.GroupKind{Kind: "Secret"}
)

// FirstPhase reports whether objects of gk are applied before the rest:
// Namespaces and CRDs, which other objects may need to exist.
func FirstPhase(gk schema.GroupKind) bool { return gk == GKNamespace || gk == GKCRD }
