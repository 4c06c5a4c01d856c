package deploy

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// DiffAction is what a sync would do to an object.
type DiffAction string

// The diff actions.
const (
	DiffCreate    DiffAction = "create"
	DiffUpdate    DiffAction = "update"
	DiffUnchanged DiffAction = "unchanged"
	DiffPrune     DiffAction = "prune"
)

// ObjectDiff is one object of a DiffResult.
type ObjectDiff struct {
	ObjectKey
	Action DiffAction `json:"action"`
	Source string     `json:"source,omitempty"`
	// Diff is a unified diff of the live object (---) and the dry-run
	// result (+++), both without status and server-set metadata, Secret
	// values masked; the whole object for create and prune.
	Diff string `json:"diff,omitempty"`
	// Drifted: the live object carries the rendered hash but differs:
	// someone changed it since Ferry applied it.
	Drifted bool   `json:"drifted,omitempty"`
	Error   string `json:"error,omitempty"`
}

// DiffResult compares an app's render with the cluster.
type DiffResult struct {
	App      string       `json:"app"`
	Revision string       `json:"revision"`
	InSync   bool         `json:"inSync"`
	Objects  []ObjectDiff `json:"objects"`
}

// Changed returns the objects that are not unchanged.
func (d DiffResult) Changed() []ObjectDiff {
	var out []ObjectDiff
	for _, o := range d.Objects {
		if o.Action != DiffUnchanged {
			out = append(out, o)
		}
	}
	return out
}

// Diff compares rendered with the live cluster: every object is
// server-side applied with dry-run (FieldManager ferry, Force), and its
// live version compared with the result; objects of the inventory that
// are no longer rendered are listed as prunes when app.Prune is set. It
// writes nothing. Objects the API server rejects have Error set, and the
// returned error lists them; the rest of the result is still filled.
func (s *Syncer) Diff(ctx context.Context, app App, rendered Rendered) (DiffResult, error) {
	res := DiffResult{App: app.Name, Revision: rendered.Revision}
	inv, err := s.readInventory(ctx, app)
	if err != nil {
		return res, err
	}
	p, err := s.newPlan(ctx, app, &rendered, inv, planOptions{forceAll: true, fetchUnlabelled: true})
	if err != nil {
		return res, fmt.Errorf("diffing app %s: %w", app.Name, err)
	}
	for _, it := range p.items {
		od := ObjectDiff{ObjectKey: it.m.Key, Source: it.m.Source}
		switch {
		case it.err != nil:
			od.Action, od.Error = DiffUpdate, it.err.Error()
			if !it.exists {
				od.Action = DiffCreate
			}
		case it.deferred || !it.exists:
			od.Action = DiffCreate
			after := it.dry
			if after == nil {
				after = it.m.Object
			}
			od.Diff = unifiedDiff(it.m.Key, nil, after)
		case it.changed:
			od.Action, od.Drifted = DiffUpdate, it.drifted
			od.Diff = unifiedDiff(it.m.Key, it.live, it.dry)
		default:
			od.Action = DiffUnchanged
		}
		res.Objects = append(res.Objects, od)
	}
	if app.Prune {
		cands, err := s.pruneCandidates(ctx, app, inv, &rendered)
		if err != nil {
			return res, fmt.Errorf("diffing app %s: %w", app.Name, err)
		}
		for _, c := range cands {
			if c.skip != "" {
				continue
			}
			res.Objects = append(res.Objects, ObjectDiff{ObjectKey: c.key, Action: DiffPrune, Diff: unifiedDiff(c.key, c.live, nil)})
		}
	}
	res.InSync = len(res.Changed()) == 0
	if err := planErrors(p.items, "rejected"); err != nil {
		return res, fmt.Errorf("diffing app %s: %w", app.Name, err)
	}
	return res, nil
}

// stripped returns a copy of obj without status and the metadata a
// server sets, for comparison and display.
func stripped(obj map[string]any) map[string]any {
	out := runtime.DeepCopyJSON(obj)
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		for _, f := range serverFields {
			delete(md, f)
		}
		if len(md) == 0 {
			delete(out, "metadata")
		}
	}
	return out
}

// equalObjects compares two objects without status and server metadata.
func equalObjects(a, b *unstructured.Unstructured) bool {
	return reflect.DeepEqual(stripped(a.Object), stripped(b.Object))
}

// desiredForCompare is the manifest as the live object would show it:
// a Secret's stringData is moved into data.
func desiredForCompare(m *Manifest) map[string]any {
	if m.Key.groupKind() != gkSecret {
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

// subset reports whether have holds every value of want: the fields Ferry
// sets are as it set them. It is a fast, conservative check: when it says
// no, a server-side dry-run decides.
func subset(want, have any) bool {
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
			if !subset(wv, hv) {
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
			if !subset(w[i], h[i]) {
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

// Markers replacing Secret values in diffs.
const (
	maskUnchanged = "*** (unchanged)"
	maskBefore    = "*** (changed: before)"
	maskAfter     = "*** (changed: after)"
	maskOnly      = "***"
)

// maskSecrets replaces the values of Secret data and stringData (and of
// the last-applied-configuration annotation, which repeats them) with
// markers that only say whether each value changed.
func maskSecrets(key ObjectKey, before, after map[string]any) {
	if key.groupKind() != gkSecret {
		return
	}
	for _, field := range []string{"data", "stringData"} {
		b, _ := before[field].(map[string]any)
		a, _ := after[field].(map[string]any)
		for k, bv := range b {
			switch av, ok := a[k]; {
			case !ok:
				b[k] = maskOnly
			case reflect.DeepEqual(av, bv):
				b[k], a[k] = maskUnchanged, maskUnchanged
			default:
				b[k], a[k] = maskBefore, maskAfter
			}
		}
		for k := range a {
			if _, ok := b[k]; !ok {
				a[k] = maskOnly
			}
		}
	}
	// The last applied configuration repeats the values, and the applied
	// hash of a low-entropy value could be brute-forced.
	annotations := func(obj map[string]any) map[string]any {
		md, _ := obj["metadata"].(map[string]any)
		ann, _ := md["annotations"].(map[string]any)
		return ann
	}
	b, a := annotations(before), annotations(after)
	for _, k := range []string{"kubectl.kubernetes.io/last-applied-configuration", AnnotationAppliedHash} {
		bv, inB := b[k]
		av, inA := a[k]
		switch {
		case inB && inA && reflect.DeepEqual(av, bv):
			b[k], a[k] = maskUnchanged, maskUnchanged
		case inB && inA:
			b[k], a[k] = maskBefore, maskAfter
		case inB:
			b[k] = maskOnly
		case inA:
			a[k] = maskOnly
		}
	}
}

// unifiedDiff renders before (live) and after (desired) as YAML and diffs
// them; nil stands for an absent object.
func unifiedDiff(key ObjectKey, before, after *unstructured.Unstructured) string {
	var b, a map[string]any
	if before != nil {
		b = stripped(before.Object)
	}
	if after != nil {
		a = stripped(after.Object)
	}
	maskSecrets(key, b, a)
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

// changedPaths lists (at most limit) the field paths whose values differ
// between a and b, without the values: what a drift log may show.
func changedPaths(a, b any, limit int) []string {
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

// pruneCandidate is an inventory object no longer rendered.
type pruneCandidate struct {
	key        ObjectKey
	apiVersion string
	live       *unstructured.Unstructured
	skip       string // why it is kept, if it is
}

// pruneCandidates fetches the inventory objects r no longer renders, in
// reverse apply order, and says which may be deleted. Objects already
// gone are left out.
func (s *Syncer) pruneCandidates(ctx context.Context, app App, inv inventory, r *Rendered) ([]*pruneCandidate, error) {
	rendered := map[ObjectKey]bool{}
	for _, m := range r.Manifests {
		rendered[m.Key] = true
	}
	var cands []*pruneCandidate
	for k, av := range inv {
		if !rendered[k] {
			cands = append(cands, &pruneCandidate{key: k, apiVersion: av})
		}
	}
	slices.SortFunc(cands, func(a, b *pruneCandidate) int { return b.key.compare(a.key) })
	errs := make([]error, len(cands))
	s.forEach(ctx, len(cands), nil, func(i int) {
		c := cands[i]
		gv, err := schema.ParseGroupVersion(c.apiVersion)
		if err != nil {
			errs[i] = fmt.Errorf("%s: inventory apiVersion %q: %w", c.key, c.apiVersion, err)
			return
		}
		m, err := s.mapping(gv.WithKind(c.key.Kind))
		if err != nil {
			// The kind is no longer served (its CRD is gone): so are its objects.
			return
		}
		err = s.retry(ctx, func() (err error) {
			c.live, err = s.resource(m, c.key.Namespace).Get(ctx, c.key.Name, metav1.GetOptions{})
			return err
		})
		switch {
		case apierrors.IsNotFound(err):
			c.live = nil
			return
		case err != nil:
			errs[i] = fmt.Errorf("reading %s: %w", c.key, err)
			return
		}
		unstructured.RemoveNestedField(c.live.Object, "metadata", "managedFields")
		switch {
		case c.live.GetLabels()[LabelApp] != app.Name:
			c.skip = fmt.Sprintf("not labelled %s=%s: not Ferry's to delete", LabelApp, app.Name)
		case strings.EqualFold(c.live.GetAnnotations()[AnnotationPrune], "disabled"):
			c.skip = AnnotationPrune + ": disabled"
		case c.live.GetDeletionTimestamp() != nil:
			c.skip = "already being deleted"
		}
	})
	var out []*pruneCandidate
	for i, c := range cands {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if c.live != nil {
			out = append(out, c)
		}
	}
	return out, ctx.Err()
}
