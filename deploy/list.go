package deploy

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// listBody is a List response as a sync reads it.
type listBody struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		ResourceVersion string `json:"resourceVersion"`
		Continue        string `json:"continue"`
	} `json:"metadata"`
	Items []map[string]any `json:"items"`
}

// decodeList decodes a JSON List response into its objects, without their
// managedFields, and its resourceVersion and continue token.
//
// client-go's unstructured List decoder reads every item twice (the whole
// List into one map, whose items it then drops, then each item again from
// its raw bytes); this reads each once with the same decoder (numbers as
// int64 where integral, as unstructured objects hold them), which halves the
// client's CPU on the Lists of a large app (BenchmarkDecodeList).
func decodeList(body []byte) (objs []*unstructured.Unstructured, rv, cont string, err error) {
	var l listBody
	if err := utiljson.Unmarshal(body, &l); err != nil {
		return nil, "", "", fmt.Errorf("decoding a List: %w", err)
	}
	// The API server leaves out the items' apiVersion and kind in Lists of
	// built-in types: they are the List's.
	itemKind := strings.TrimSuffix(l.Kind, "List")
	objs = make([]*unstructured.Unstructured, 0, len(l.Items))
	for i, m := range l.Items {
		if m == nil {
			return nil, "", "", fmt.Errorf("decoding a List: items[%d] is not an object", i)
		}
		o := &unstructured.Unstructured{Object: m}
		if o.GetKind() == "" && o.GetAPIVersion() == "" {
			o.SetKind(itemKind)
			o.SetAPIVersion(l.APIVersion)
		}
		if md, ok := m["metadata"].(map[string]any); ok {
			delete(md, "managedFields")
		}
		objs = append(objs, o)
	}
	return objs, l.Metadata.ResourceVersion, l.Metadata.Continue, nil
}

// listOnce makes one List request of k's collection and decodes it.
func (s *Syncer) listOnce(ctx context.Context, k listKey, selector, cont string) ([]*unstructured.Unstructured, string, string, error) {
	prefix := []string{"/apis", k.gvr.Group, k.gvr.Version}
	if k.gvr.Group == "" {
		prefix = []string{"/api", k.gvr.Version}
	}
	res := s.raw.Get().AbsPath(prefix...).Namespace(k.namespace).Resource(k.gvr.Resource).
		VersionedParams(&metav1.ListOptions{LabelSelector: selector, Limit: listPage, Continue: cont}, metav1.ParameterCodec).
		Do(ctx)
	if err := res.Error(); err != nil { // the API server's Status, as the dynamic client reads it
		return nil, "", "", err
	}
	body, err := res.Raw()
	if err != nil {
		return nil, "", "", err
	}
	return decodeList(body)
}
