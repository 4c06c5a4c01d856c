package diff

import (
	"slices"
	"testing"
)

func TestSubsetAndChangedPaths(t *testing.T) {
	live := map[string]any{
		"spec": map[string]any{
			"replicas": int64(2), "paused": false, "cpu": "1",
			"containers": []any{map[string]any{"name": "a", "image": "x:1", "imagePullPolicy": "IfNotPresent"}},
		},
	}
	for _, tc := range []struct {
		want map[string]any
		ok   bool
	}{
		{map[string]any{"spec": map[string]any{"replicas": int64(2)}}, true},
		{map[string]any{"spec": map[string]any{"replicas": float64(2), "cpu": int64(1)}}, true},
		{map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "x:1"}}}}, true},
		{map[string]any{"spec": map[string]any{"annotations": map[string]any{}, "x": nil}}, true},
		{map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "a", "image": "x:2"}}}}, false},
		{map[string]any{"spec": map[string]any{"replicas": int64(3)}}, false},
		{map[string]any{"spec": map[string]any{"missing": "v"}}, false},
		{map[string]any{"spec": map[string]any{"containers": []any{}}}, false},
	} {
		if got := Subset(tc.want, live); got != tc.ok {
			t.Errorf("Subset(%v) = %v", tc.want, got)
		}
	}
	a := map[string]any{"spec": map[string]any{"replicas": int64(1), "x.y": "a", "list": []any{"a", "b"}}}
	b := map[string]any{"spec": map[string]any{"replicas": int64(3), "x.y": "b", "list": []any{"a", "c"}, "new": true}}
	if got := ChangedPaths(a, b, 10); !slices.Equal(got, []string{`spec.list[1]`, "spec.new", "spec.replicas", `spec."x.y"`}) {
		t.Errorf("ChangedPaths = %q", got)
	}
}
