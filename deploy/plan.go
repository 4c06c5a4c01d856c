package deploy

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferrygitops/ferry/deploy/diff"
	"github.com/ferrygitops/ferry/deploy/hooks"
	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/deploy/render"
)

// planItem is one manifest's state through a sync or diff.
type planItem struct {
	m *Manifest
	// mapping is nil for a kind a CRD of the same render defines and the
	// cluster does not serve yet.
	mapping *meta.RESTMapping
	body    []byte                     // the apply patch, encoded when first sent
	live    *unstructured.Unstructured // from the labelled lists (or fetched), nil if absent there
	force   bool

	// exists: the object is in the cluster (labelled or not).
	exists bool
	// skipped: hash and live fields unchanged; no request made.
	skipped bool
	// deferred: its namespace or kind is created by this sync, so it
	// cannot be dry-run before the first phase is applied.
	deferred bool
	dry      *unstructured.Unstructured // dry-run result
	// changed: applying it changes the live object.
	changed bool
	// drifted: the live object carries this very render's hash but
	// differs from it: someone changed it.
	drifted bool
	result  *unstructured.Unstructured // applied object
	applied bool                       // the apply was made
	// removed: created to validate the objects in it, then deleted
	// because one was rejected.
	removed bool
	action  Action
	err     error

	health, healthMsg string // kstatus
	// seen is the object as last polled by a health wait.
	seen *unstructured.Unstructured

	// hook is set for a hook object (package hooks); its runs are in
	// the plan's hookRuns.
	hook *hooks.Info
	wave int // the sync wave of an ordinary object
}

func (it *planItem) namespace() string { return it.m.Object.GetNamespace() }

// listKey is one List request: a resource in a namespace ("" for
// cluster-scoped resources).
type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// liveSet holds live objects by key.
type liveSet struct {
	mu   sync.Mutex
	objs map[ObjectKey]*unstructured.Unstructured
}

func (l *liveSet) get(k ObjectKey) *unstructured.Unstructured {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.objs[k]
}

// plan is a sync's or diff's view of every manifest.
type plan struct {
	items []*planItem
	live  *liveSet
	// hooks are the hook objects of a sync that runs them.
	hooks    []*planItem
	hookRuns []inventory.HookResult
	// newNamespaces and newKinds are the Namespaces and kinds the render
	// creates.
	newNamespaces map[string]bool
	newKinds      map[schema.GroupKind]bool
}

// all returns the ordinary items then the hooks.
func (p *plan) all() []*planItem {
	if len(p.hooks) == 0 {
		return p.items
	}
	return append(slices.Clip(p.items), p.hooks...)
}

// count returns how many items match.
func (p *plan) count(match func(*planItem) bool) int {
	n := 0
	for _, it := range p.items {
		if match(it) {
			n++
		}
	}
	return n
}

type planOptions struct {
	// skipUnchanged skips the dry-run of objects whose live hash matches
	// and whose live fields hold every rendered value.
	skipUnchanged bool
	// forceAll dry-runs with Force for every object (diff); otherwise
	// only objects Ferry owns are forced.
	forceAll bool
	// fetchUnlabelled fetches existing objects missing from the
	// labelled lists, for a diff against them.
	fetchUnlabelled bool
	// prefetched holds Lists started before the render; nil: none.
	prefetched *prefetch
}

// prefetch is the Lists of the namespaced resources an app's inventory
// holds, made while the app renders: a sync of an unchanged app spends
// its time rendering and listing, and the two need not wait for each
// other. The plan lists only what the render adds to them.
type prefetch struct {
	cancel context.CancelFunc
	done   chan struct{}
	keys   listKeys
	live   *liveSet
	err    error
}

// prefetchLive starts the Lists of inv's namespaced resources. Cluster-
// scoped ones are left to the plan: where listing them is forbidden they
// are read by name, and the render names them.
func (s *Syncer) prefetchLive(ctx context.Context, app App, inv inventory.Inventory) *prefetch {
	ctx, cancel := context.WithCancel(ctx)
	pre := &prefetch{cancel: cancel, done: make(chan struct{}), keys: listKeys{}}
	for key, apiVersion := range inv {
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil || key.Namespace == "" {
			continue
		}
		m, err := s.lookupMapping(gv.WithKind(key.Kind))
		if err != nil || m.Scope.Name() != meta.RESTScopeNameNamespace {
			continue
		}
		pre.keys.add(m, key)
	}
	go func() {
		defer close(pre.done)
		pre.live, pre.err = s.listLive(ctx, app, pre.keys)
	}()
	return pre
}

// stop ends the Lists if they still run and waits for them.
func (p *prefetch) stop() {
	p.cancel()
	<-p.done
}

// listKeys names the List requests of a plan, status or health check:
// per resource and namespace, the names of the objects wanted from it.
type listKeys map[listKey][]string

func (lk listKeys) add(m *meta.RESTMapping, key ObjectKey) {
	k := listKey{gvr: m.Resource, namespace: scopedNamespace(m, key.Namespace)}
	lk[k] = append(lk[k], key.Name)
}

// listLive lists the objects labelled as the app's, one List (paged) per
// resource and namespace in keys. A List of a cluster-scoped resource that
// RBAC forbids (namespaced mode grants no cluster-wide reads; a Role in a
// namespace may still grant reading that Namespace object itself) is
// replaced by a GET of each wanted object, which counts as live only when
// labelled as the app's, as the List would have said.
func (s *Syncer) listLive(ctx context.Context, app App, keys listKeys) (*liveSet, error) {
	ls := &liveSet{objs: map[ObjectKey]*unstructured.Unstructured{}}
	order := slices.SortedFunc(maps.Keys(keys), func(a, b listKey) int {
		return cmp.Compare(a.gvr.String()+"/"+a.namespace, b.gvr.String()+"/"+b.namespace)
	})
	errs := make([]error, len(order)) // in order: the same failures read the same
	s.forEach(ctx, len(order), nil, func(i int) {
		k := order[i]
		objs, _, err := s.listOrGet(ctx, k, keys[k], app.Name)
		if err != nil {
			errs[i] = err
			return
		}
		ls.mu.Lock()
		for _, o := range objs {
			ls.objs[KeyOf(o)] = o
		}
		ls.mu.Unlock()
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ls, ctx.Err()
}

// listLiveAfter is listLive of keys, taking the Lists pre made (if it
// made them all without error) and making only the others.
func (s *Syncer) listLiveAfter(ctx context.Context, app App, keys listKeys, pre *prefetch) (*liveSet, error) {
	if pre == nil {
		return s.listLive(ctx, app, keys)
	}
	<-pre.done
	if pre.err != nil {
		s.log.Debug("listing before the render failed; listing again", "app", app.Name, "error", pre.err)
		return s.listLive(ctx, app, keys)
	}
	rest := listKeys{}
	for k, names := range keys {
		if _, ok := pre.keys[k]; !ok {
			rest[k] = names
		}
	}
	more, err := s.listLive(ctx, app, rest)
	if err != nil {
		return nil, err
	}
	maps.Copy(pre.live.objs, more.objs)
	return pre.live, nil
}

// listOrGet lists the app's objects of k, or, when listing a cluster-scoped
// resource is forbidden, gets each of names (remembering the refusal, so
// later syncs of the Syncer do not ask again). rv is the List's
// resourceVersion, to watch from; "" after gets.
func (s *Syncer) listOrGet(ctx context.Context, k listKey, names []string, appName string) (objs []*unstructured.Unstructured, rv string, err error) {
	if k.namespace != "" {
		return s.list(ctx, k, LabelApp+"="+appName)
	}
	if _, refused := s.forbiddenLists.Load(k.gvr); !refused {
		objs, rv, err := s.list(ctx, k, LabelApp+"="+appName)
		if !apierrors.IsForbidden(err) {
			return objs, rv, err
		}
		s.forbiddenLists.Store(k.gvr, true)
		s.log.Debug("listing a cluster-scoped resource is forbidden; reading its objects one by one", "resource", k.gvr.String())
	}
	var out []*unstructured.Unstructured
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		var o *unstructured.Unstructured
		err := s.retry(ctx, func() (err error) {
			o, err = s.dyn.Resource(k.gvr).Get(ctx, name, metav1.GetOptions{})
			return err
		})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case apierrors.IsForbidden(err):
			grant := "grant it a ClusterRole for them (install/'s cluster-wide mode)"
			if k.gvr.GroupResource() == (schema.GroupResource{Resource: "namespaces"}) {
				grant += ", or get and patch on namespaces in a Role of that namespace (namespaced mode)"
			}
			return nil, "", fmt.Errorf("reading %s %s: Ferry may neither list %s at cluster scope nor get this one: %s: %w",
				k.gvr.Resource, name, k.gvr.Resource, grant, err)
		case err != nil:
			return nil, "", fmt.Errorf("reading %s %s: %w", k.gvr.Resource, name, err)
		}
		if o.GetLabels()[LabelApp] != appName {
			continue
		}
		unstructured.RemoveNestedField(o.Object, "metadata", "managedFields")
		out = append(out, o)
	}
	return out, "", nil
}

// listPage is the page size of Lists: large, since a sync wants every
// labelled object and the API server answers a page from its watch cache.
const listPage = 2000

// list pages through one List; managedFields are dropped to save memory.
// rv is the List's resourceVersion.
func (s *Syncer) list(ctx context.Context, k listKey, selector string) ([]*unstructured.Unstructured, string, error) {
	var out []*unstructured.Unstructured
	cont := ""
	for restarts := 0; ; {
		var objs []*unstructured.Unstructured
		var rv, next string
		err := s.retry(ctx, func() (err error) {
			objs, rv, next, err = s.listOnce(ctx, k, selector, cont)
			return err
		})
		if apierrors.IsResourceExpired(err) && restarts < 3 {
			restarts++
			out, cont = nil, ""
			continue
		}
		if err != nil {
			where := k.gvr.GroupResource().String() // "deployments.apps", as the API server says
			if k.namespace != "" {
				where += " in namespace " + k.namespace
			}
			return nil, "", fmt.Errorf("listing %s: %w", where, err)
		}
		out = append(out, objs...)
		if cont = next; cont == "" {
			return out, rv, nil
		}
	}
}

// forEach runs fn(i) for i in [0,n) on up to Concurrency goroutines; once
// stop reports true (or ctx ends) no further call starts.
func (s *Syncer) forEach(ctx context.Context, n int, stop *atomic.Bool, fn func(i int)) {
	sem := make(chan struct{}, s.opts.Concurrency)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if ctx.Err() != nil || stop != nil && stop.Load() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// newPlan lists the live objects of r and decides, object by object,
// whether applying it would change anything: unchanged hash and fields
// skip it; otherwise a server-side dry-run tells. Per-object failures are
// in the items' err; the error is for failures to list.
func (s *Syncer) newPlan(ctx context.Context, app App, r *Rendered, inv inventory.Inventory, po planOptions) (*plan, error) {
	lists := listKeys{}
	newNamespaces := map[string]bool{}
	newKinds := map[schema.GroupKind]bool{}
	p := &plan{newNamespaces: newNamespaces, newKinds: newKinds}
	for i := range r.Manifests {
		m := &r.Manifests[i]
		switch m.Key.GroupKind() {
		case render.GKNamespace:
			newNamespaces[m.Key.Name] = true
		case render.GKCRD:
			gk, _ := render.CRDKind(m.Object)
			newKinds[gk] = true
		}
	}
	for i := range r.Manifests {
		m := &r.Manifests[i]
		it := &planItem{m: m}
		p.items = append(p.items, it)
		var err error
		it.mapping, err = s.mapping(m.Object.GroupVersionKind())
		switch {
		case err == nil:
		case meta.IsNoMatchError(err) && newKinds[m.Key.GroupKind()]:
			it.deferred = true // defined by a CRD of this render
			continue
		case meta.IsNoMatchError(err):
			gvk := m.Object.GroupVersionKind()
			it.err = fmt.Errorf("%s (%s): the cluster has no kind %s in %s (is its CRD installed?)", m.Key, m.Source, gvk.Kind, gvk.GroupVersion())
			continue
		default:
			return nil, fmt.Errorf("%s: %w", m.Key, err)
		}
		lists.add(it.mapping, m.Key)
	}
	live, err := s.listLiveAfter(ctx, app, lists, po.prefetched)
	if err != nil {
		return nil, err
	}
	p.live = live

	var todo []*planItem
	for _, it := range p.items {
		it.live = live.get(it.m.Key)
		_, owned := inv[it.m.Key]
		it.force = po.forceAll || owned || it.live != nil
		it.exists = it.live != nil
		if it.deferred || it.err != nil {
			continue
		}
		if po.skipUnchanged && it.live != nil && it.live.GetAnnotations()[AnnotationAppliedHash] == it.m.Hash &&
			diff.Subset(diff.Desired(it.m), it.live.Object) {
			it.skipped = true
			it.action = ActionUnchanged
			continue
		}
		todo = append(todo, it)
	}
	s.dryRun(ctx, todo, newNamespaces, newKinds, po)
	return p, ctx.Err()
}

// dryRun dry-runs items and classifies them.
func (s *Syncer) dryRun(ctx context.Context, items []*planItem, newNamespaces map[string]bool, newKinds map[schema.GroupKind]bool, po planOptions) {
	s.forEach(ctx, len(items), nil, func(i int) {
		it := items[i]
		if it.hook != nil {
			s.dryRunHook(ctx, it, newNamespaces, newKinds)
			return
		}
		dry, err := s.applyOne(ctx, it, true)
		if err != nil {
			if isNamespaceMissing(err, it.namespace()) && newNamespaces[it.namespace()] ||
				meta.IsNoMatchError(err) && newKinds[it.m.Key.GroupKind()] {
				it.deferred = true
				return
			}
			it.err = err
			return
		}
		it.dry = dry
		if it.live == nil && dry.GetResourceVersion() != "" {
			it.exists = true
			if po.fetchUnlabelled {
				var got *unstructured.Unstructured
				err := s.retry(ctx, func() (err error) {
					got, err = s.resource(it.mapping, it.namespace()).Get(ctx, it.m.Key.Name, metav1.GetOptions{})
					return err
				})
				if err == nil {
					unstructured.RemoveNestedField(got.Object, "metadata", "managedFields")
					it.live = got
				}
			}
		}
		s.classify(it)
	})
}

// classify compares the dry-run result with the live object.
func (s *Syncer) classify(it *planItem) {
	switch {
	case !it.exists:
		it.changed, it.action = true, ActionCreated
	case it.live == nil:
		// Exists but not labelled as the app's: the apply adds the label.
		it.changed, it.action = true, ActionConfigured
	default:
		it.changed = !diff.Equal(it.live, it.dry)
		it.action = ActionUnchanged
		if it.changed {
			it.action = ActionConfigured
			it.drifted = it.live.GetAnnotations()[AnnotationAppliedHash] == it.m.Hash
		}
	}
}

// applyOne server-side applies an item (dry or not), retrying transient
// errors.
func (s *Syncer) applyOne(ctx context.Context, it *planItem, dryRun bool) (*unstructured.Unstructured, error) {
	force := it.force
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if it.mapping == nil {
		m, err := s.mapping(it.m.Object.GroupVersionKind())
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", it.m.Key, it.m.Source, err)
		}
		it.mapping = m
	}
	if it.body == nil { // only what is sent is encoded
		b, err := json.Marshal(it.m.Object.Object)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", it.m.Key, it.m.Source, err)
		}
		it.body = b
	}
	ri := s.resource(it.mapping, it.namespace())
	var out *unstructured.Unstructured
	err := s.retry(ctx, func() (err error) {
		out, err = ri.Patch(ctx, it.m.Key.Name, types.ApplyPatchType, it.body, opts)
		return err
	})
	if err != nil {
		if apierrors.IsConflict(err) && !force {
			err = fmt.Errorf("%w (the object exists and was not applied by app %s: Ferry does not take over fields other managers set; label it %s=%s or remove the conflicting fields)", err, it.m.Object.GetLabels()[LabelApp], LabelApp, it.m.Object.GetLabels()[LabelApp])
		}
		return nil, fmt.Errorf("%s (%s): %w", it.m.Key, it.m.Source, err)
	}
	unstructured.RemoveNestedField(out.Object, "metadata", "managedFields")
	return out, nil
}

// isNamespaceMissing reports whether err says namespace ns does not exist.
func isNamespaceMissing(err error, ns string) bool {
	var se apierrors.APIStatus
	if ns == "" || !errors.As(err, &se) || !apierrors.IsNotFound(err) {
		return false
	}
	d := se.Status().Details
	return d != nil && d.Kind == "namespaces" && d.Name == ns
}

// planErrors joins the items' errors, at most ten of them named; verb
// says what happened to them ("rejected", "failed").
func planErrors(items []*planItem, verb string) error {
	var errs []error
	n := 0
	for _, it := range items {
		if it.err == nil {
			continue
		}
		n++
		if len(errs) < 10 {
			errs = append(errs, it.err)
		}
	}
	if n == 0 {
		return nil
	}
	if n > len(errs) {
		errs = append(errs, fmt.Errorf("and %d more", n-len(errs)))
	}
	return fmt.Errorf("%d of %d objects %s: %w", n, len(items), verb, errors.Join(errs...))
}
