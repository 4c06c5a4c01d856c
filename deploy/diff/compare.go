package diff

import (
	"encoding/base64"
	"reflect"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferrygitops/ferry/deploy/render"
)

// Strip returns a copy of obj without status and the metadata a server
// sets, for comparison and display.
func Strip(obj map[string]any) map[string]any {
	out := runtime.DeepCopyJSON(obj)
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		for _, f := range render.ServerFields {
			delete(md, f)
		}
		if len(md) == 0 {
			delete(out, "metadata")
		}
	}
	return out
}

// Equal compares two objects without status and server metadata.
func Equal(a, b *unstructured.Unstructured) bool {
	return reflect.DeepEqual(Strip(a.Object), Strip(b.Object))
}

// Desired is a manifest as the live object would show it: a Secret's
// stringData is moved into data.
func Desired(m *render.Manifest) map[string]any {
	if m.Key.GroupKind() != render.GKSecret {
		return m.Object.Object
	}
	sd, ok := m.Object.Object["stringData"].(map[string]any)
	if !ok || len(sd) == 0 {
		return m.Object.Object
	}
	out := runtime.DeepCopyJSON(m.Object.Object)
	delete(out, "stringData")
	data, _ := out["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	out["data"] = data
	return out
}

// Subset reports whether have holds every value of want: the fields Ferry
// sets are as it set them. It is a fast, conservative check: when it says
// no, a server-side dry-run decides.
func Subset(want, have any) bool {
	switch w := want.(type) {
	case nil:
		return true
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				if empty(wv) {
					continue
				}
				return false
			}
			if !Subset(wv, hv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !Subset(w[i], h[i]) {
				return false
			}
		}
		return true
	case string:
		return have == w
	case bool:
		return have == w
	case int64:
		switch h := have.(type) {
		case int64:
			return h == w
		case float64:
			return h == float64(w)
		case string:
			return h == strconv.FormatInt(w, 10)
		}
	case float64:
		switch h := have.(type) {
		case float64:
			return h == w
		case int64:
			return float64(h) == w
		case string:
			return h == strconv.FormatFloat(w, 'f', -1, 64)
		}
	}
	return reflect.DeepEqual(want, have)
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}
