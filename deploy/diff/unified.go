package diff

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/deploy/render"
)

// Markers replacing Secret values.
const (
	MaskUnchanged = "*** (unchanged)"
	MaskBefore    = "*** (changed: before)"
	MaskAfter     = "*** (changed: after)"
	MaskOnly      = "***"
)

// secretAnnotations repeat a Secret's values: the last applied
// configuration holds them, and the applied hash of a low-entropy value
// could be brute-forced.
var secretAnnotations = []string{"kubectl.kubernetes.io/last-applied-configuration", render.AnnotationAppliedHash}

// MaskSecrets replaces, in place, the values of a Secret's data and
// stringData (and of the annotations that repeat them) in before and
// after with markers that only say whether each value changed. Objects of
// other kinds are left alone; either object may be nil.
func MaskSecrets(key render.ObjectKey, before, after map[string]any) {
	if key.GroupKind() != render.GKSecret {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		b, _ := before[field].(map[string]any)
		a, _ := after[field].(map[string]any)
		for k, bv := range b {
			switch av, ok := a[k]; {
			case !ok:
				b[k] = MaskOnly
			case reflect.DeepEqual(av, bv):
				b[k], a[k] = MaskUnchanged, MaskUnchanged
			default:
				b[k], a[k] = MaskBefore, MaskAfter
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				a[k] = MaskOnly
			}
		}
	}
	annotations := func(obj map[string]any) map[string]any {
		md, _ := obj["metadata"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		return ann
	}
	b, a := annotations(before), annotations(after)
	for _, k := range secretAnnotations {
		bv, inB := b[k]
		av, inA := a[k]
		switch {
		case inB && inA && reflect.DeepEqual(av, bv):
			b[k], a[k] = MaskUnchanged, MaskUnchanged
		case inB && inA:
			b[k], a[k] = MaskBefore, MaskAfter
		case inB:
			b[k] = MaskOnly
		case inA:
			a[k] = MaskOnly
		}
	}
}

// Mask returns obj with a Secret's values replaced by MaskOnly; objects of
// other kinds come back as they are (not copied).
func Mask(key render.ObjectKey, obj map[string]any) map[string]any {
	if key.GroupKind() != render.GKSecret {
		return obj
	}
	out := runtime.DeepCopyJSON(obj)
	MaskSecrets(key, nil, out)
	return out
}

// Unified renders before (live) and after (desired) as YAML, Secret values
// masked, and diffs them; nil stands for an absent object.
func Unified(key render.ObjectKey, before, after *unstructured.Unstructured) string {
	var b, a map[string]any
	if before != nil {
		b = Strip(before.Object)
	}
	if after != nil {
		a = Strip(after.Object)
	}
	MaskSecrets(key, b, a)
	text := func(m map[string]any) []string {
		if m == nil {
			return nil
		}
		y, err := yaml.Marshal(m)
		if err != nil {
			return []string{fmt.Sprintf("<%v>\n", err)}
		}
		return difflib.SplitLines(strings.TrimSuffix(string(y), "\n"))
	}
	from, to := "live/"+key.String(), "git/"+key.String()
	if before == nil {
		from = "/dev/null"
	}
	if after == nil {
		to = "/dev/null"
	}
	out, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: text(b), B: text(a), FromFile: from, ToFile: to, Context: 3})
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return out
}

// ChangedPaths lists (at most limit) the field paths whose values differ
// between a and b, without the values: what a drift log may show.
func ChangedPaths(a, b any, limit int) []string {
	var out []string
	var walk func(p string, a, b any)
	walk = func(p string, a, b any) {
		if len(out) >= limit {
			return
		}
		am, aok := a.(map[string]any)
		bm, bok := b.(map[string]any)
		if aok && bok {
			keys := slices.Sorted(maps.Keys(am))
			for k := range bm {
				if _, ok := am[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range slices.Compact(keys) {
				walk(joinPath(p, k), am[k], bm[k])
			}
			return
		}
		al, aok := a.([]any)
		bl, bok := b.([]any)
		if aok && bok && len(al) == len(bl) {
			for i := range al {
				walk(p+"["+strconv.Itoa(i)+"]", al[i], bl[i])
			}
			return
		}
		if !reflect.DeepEqual(a, b) {
			out = append(out, p)
		}
	}
	walk("", a, b)
	return out
}

func joinPath(p, k string) string {
	if strings.ContainsAny(k, ".[]") {
		k = strconv.Quote(k)
	}
	if p == "" {
		return k
	}
	return p + "." + k
}
