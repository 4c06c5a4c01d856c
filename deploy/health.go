package deploy

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/ferrygitops/ferry/deploy/health"
)

// evaluateHealth sets every item's health from what the sync already has
// (the apply result, else the listed live object), making no request.
func (s *Syncer) evaluateHealth(p *plan) {
	for _, it := range p.items {
		obj := it.seen
		if obj == nil {
			obj = it.result
		}
		if obj == nil && !it.changed {
			obj = it.live
		}
		if obj == nil {
			it.health, it.healthMsg = "", ""
			continue
		}
		it.health, it.healthMsg = health.Of(obj)
	}
}

// waitHealthy evaluates health, then polls the applied objects that are
// not Current (one labelled List per resource and namespace) until they
// are, or Failed, or timeout passes (negative: no wait). Unchanged
// objects are evaluated from the plan's lists only, so a sync that
// applied nothing makes no request here.
func (s *Syncer) waitHealthy(ctx context.Context, p *plan, timeout time.Duration) {
	s.evaluateHealth(p)
	if timeout < 0 {
		return
	}
	var pending []*planItem
	for _, it := range p.items {
		if it.result != nil && !health.Settled(it.health) && it.mapping != nil {
			pending = append(pending, it)
		}
	}
	s.pollHealth(ctx, pending, timeout)
}

// pollHealth waits until every item of pending is Current or Failed, or
// timeout passes: per resource and namespace, one labelled List, then a
// watch from it, so the wait ends as soon as the last object is ready.
// Where watching is not allowed (RBAC without watch, a List replaced by
// gets) or a watch breaks, it lists again with backoff (250 ms to 2 s).
func (s *Syncer) pollHealth(ctx context.Context, pending []*planItem, timeout time.Duration) {
	if len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	app := pending[0].m.Object.GetLabels()[LabelApp]
	byKey := map[listKey]map[string]*planItem{}
	for _, it := range pending {
		k := listKey{gvr: it.mapping.Resource, namespace: scopedNamespace(it.mapping, it.m.Key.Namespace)}
		if byKey[k] == nil {
			byKey[k] = map[string]*planItem{}
		}
		byKey[k][it.m.Key.Name] = it
	}
	var wg sync.WaitGroup
	for k, items := range byKey {
		wg.Go(func() { s.awaitKey(ctx, k, items, app) })
	}
	wg.Wait()
}

// awaitKey is pollHealth for the items of one List; it changes only them.
func (s *Syncer) awaitKey(ctx context.Context, k listKey, items map[string]*planItem, app string) {
	names := slices.Collect(maps.Keys(items))
	if len(items) <= fewToWatch && !s.watchRefused(k) {
		s.watchEach(ctx, k, items, app)
	}
	wait := 250 * time.Millisecond
	for first := true; len(items) > 0 && ctx.Err() == nil; first = false {
		if !first {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, 2*time.Second)
		}
		objs, rv, err := s.listOrGet(ctx, k, names, app)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Warn("health check failed; retrying", "app", app, "error", err)
			continue
		}
		byName := make(map[string]*unstructured.Unstructured, len(objs))
		for _, o := range objs {
			byName[o.GetName()] = o
		}
		for name, it := range items {
			if observe(it, byName[name]) {
				delete(items, name)
			}
		}
		if len(items) == 0 || rv == "" || s.watchRefused(k) {
			continue
		}
		err = s.watchHealth(ctx, k, metav1.ListOptions{LabelSelector: LabelApp + "=" + app, ResourceVersion: rv}, items)
		switch {
		case ctx.Err() != nil || len(items) == 0:
			return
		case apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err):
			s.forbiddenWatches.Store(k.gvr, true)
			s.log.Debug("watching is not allowed; polling for health instead", "resource", k.gvr.String(), "error", err)
		default:
			s.log.Debug("health watch ended; listing again", "resource", k.gvr.String(), "error", err)
		}
	}
}

// fewToWatch is the most items of one List whose health is watched item
// by item from their apply results, without listing first: a one-image
// change waits for its Deployment, not for a List of every Deployment.
const fewToWatch = 4

// watchRefused reports whether watching k's resource was refused before.
func (s *Syncer) watchRefused(k listKey) bool {
	_, refused := s.forbiddenWatches.Load(k.gvr)
	return refused
}

// watchEach watches each item from the resourceVersion its apply
// returned, one at a time, until it is settled; it stops at the first
// watch that fails (the List path takes over the items left).
func (s *Syncer) watchEach(ctx context.Context, k listKey, items map[string]*planItem, app string) {
	for _, name := range slices.Sorted(maps.Keys(items)) {
		it := items[name]
		if it.result == nil || it.result.GetResourceVersion() == "" {
			return
		}
		err := s.watchHealth(ctx, k, metav1.ListOptions{
			LabelSelector:   LabelApp + "=" + app,
			FieldSelector:   "metadata.name=" + name,
			ResourceVersion: it.result.GetResourceVersion(),
		}, map[string]*planItem{name: it})
		if err != nil {
			if apierrors.IsForbidden(err) {
				s.forbiddenWatches.Store(k.gvr, true)
			}
			s.log.Debug("health watch ended; listing instead", "resource", k.gvr.String(), "name", name, "error", err)
			return
		}
		delete(items, name)
	}
}

// watchHealth watches k's objects selected by opts from its
// resourceVersion, observing items, until they are settled, ctx ends, or
// the watch fails or closes.
func (s *Syncer) watchHealth(ctx context.Context, k listKey, opts metav1.ListOptions, items map[string]*planItem) error {
	var ri dynamic.ResourceInterface = s.dyn.Resource(k.gvr)
	if k.namespace != "" {
		ri = s.dyn.Resource(k.gvr).Namespace(k.namespace)
	}
	opts.AllowWatchBookmarks = true
	w, err := ri.Watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for len(items) > 0 {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok = <-w.ResultChan():
		}
		if !ok {
			return errors.New("the watch closed")
		}
		switch ev.Type {
		case watch.Error:
			return apierrors.FromObject(ev.Object)
		case watch.Added, watch.Modified, watch.Deleted:
			o, _ := ev.Object.(*unstructured.Unstructured)
			if o == nil {
				continue
			}
			it := items[o.GetName()]
			if it == nil {
				continue
			}
			if ev.Type == watch.Deleted {
				o = nil
			} else {
				unstructured.RemoveNestedField(o.Object, "metadata", "managedFields")
			}
			if observe(it, o) {
				delete(items, it.m.Key.Name)
			}
		}
	}
	return nil
}

// observe records o (nil: gone) as it's latest state and reports whether
// its health is settled.
func observe(it *planItem, o *unstructured.Unstructured) bool {
	it.seen = o
	it.health, it.healthMsg = health.Of(o)
	return health.Settled(it.health)
}
