package deploy

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/ferrygitops/ferry/deploy/render"
	"github.com/ferrygitops/ferry/internal/testenv/kube"
)

// TestBuiltinScopes checks render's table of built-in kinds against the
// discovery of the real API server: every kind it serves (no CRDs are
// installed when the shared cluster starts; those of other tests are
// skipped by their group) has its scope in the table, and the table names
// no kind the server does not serve.
func TestBuiltinScopes(t *testing.T) {
	c := kube.Shared(t)
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config())
	if err != nil {
		t.Fatal(err)
	}
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	served := map[schema.GroupKind]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(gv.Group, ".example.com") {
			continue // CRDs of other tests
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // subresources
			}
			gk := schema.GroupKind{Group: gv.Group, Kind: r.Kind}
			served[gk] = true
			ns, ok := render.BuiltinNamespaced(gk)
			switch {
			case !ok:
				t.Errorf("%s (namespaced: %v) is missing from render's table of built-in kinds", gk, r.Namespaced)
			case ns != r.Namespaced:
				t.Errorf("%s: namespaced %v in the table, %v on the server", gk, ns, r.Namespaced)
			}
		}
	}
	for _, gk := range render.BuiltinKinds() {
		if !served[gk] {
			t.Errorf("%s is in render's table but not served", gk)
		}
	}
}
