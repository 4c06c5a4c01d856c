package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/deploy/render"
)

// errRejected marks a validation failure: nothing was changed.
var errRejected = errors.New("rejected")

// validateDeferred dry-runs the objects that could not be dry-run before
// their Namespace or CRD exists. It first creates just the new Namespaces
// and CRDs they need (tracked in the inventory first, CRDs waited for
// until Established); if any of them is then rejected, it deletes what it
// created (UID precondition), puts the inventory back, and returns an
// error wrapping errRejected. Existing Namespaces and CRDs are not touched
// here: they are applied with the rest, after validation.
func (s *Syncer) validateDeferred(ctx context.Context, app App, p *plan, inv inventory.Inventory) error {
	var deferred []*planItem
	needNS := map[string]bool{}
	needKinds := map[schema.GroupKind]bool{}
	for _, it := range p.all() {
		if it.deferred {
			deferred = append(deferred, it)
			needNS[it.namespace()] = true
			needKinds[it.m.Key.GroupKind()] = true
		}
	}
	if len(deferred) == 0 {
		return nil
	}
	var pre []*planItem
	for _, it := range p.items {
		if it.exists || !it.changed {
			continue
		}
		switch gk := it.m.Key.GroupKind(); {
		case gk == render.GKNamespace && needNS[it.m.Key.Name]:
		case gk == render.GKCRD && needKinds[crdKind(it)]:
		default:
			continue
		}
		pre = append(pre, it)
	}
	tracked := maps.Clone(inv)
	for _, it := range pre {
		tracked[it.m.Key] = it.m.Object.GetAPIVersion()
	}
	if err := s.writeInventory(ctx, app, tracked); err != nil {
		return fmt.Errorf("nothing applied: %w", err)
	}
	names := make([]string, len(pre))
	for i, it := range pre {
		names[i] = it.m.Key.String()
	}
	s.log.Info("creating what other objects need to be validated", "app", app.Name, "objects", names)
	err := s.applyItems(ctx, pre)
	if err == nil {
		var crds []*planItem
		for _, it := range pre {
			if it.m.Key.GroupKind() == render.GKCRD {
				crds = append(crds, it)
			}
		}
		if len(crds) > 0 {
			if err = s.waitEstablished(ctx, crds); err == nil {
				s.resetMapper(true)
			}
		}
	}
	if err != nil {
		return err // what was created is tracked: the next sync converges
	}
	for _, it := range deferred {
		it.deferred = false
	}
	s.dryRun(ctx, deferred, nil, nil, planOptions{})
	rejected := planErrors(deferred, "rejected")
	if rejected == nil {
		return ctx.Err()
	}
	// Undo, last created first.
	keep := maps.Clone(inv)
	for i := len(pre) - 1; i >= 0; i-- {
		it := pre[i]
		err := s.deleteExact(ctx, it.mapping, it.m.Key, it.result.GetUID())
		if err != nil && !apierrors.IsNotFound(err) {
			s.log.Error("removing what the rejected sync created failed; the next sync prunes it", "app", app.Name, "object", it.m.Key.String(), "error", err)
			keep[it.m.Key] = it.m.Object.GetAPIVersion()
			continue
		}
		it.removed = true
	}
	if err := s.writeInventory(ctx, app, keep); err != nil {
		s.log.Error("restoring the inventory failed", "app", app.Name, "error", err)
	}
	return fmt.Errorf("nothing applied (%s created to validate the objects in them, and removed): %w: %w", strings.Join(names, ", "), errRejected, rejected)
}

// crdKind is the kind a CRD item defines.
func crdKind(it *planItem) schema.GroupKind {
	gk, _ := render.CRDKind(it.m.Object)
	return gk
}

// applyAll applies the changed items not applied yet: Namespaces and CRDs
// first (waiting for CRDs to be Established), then the rest in
// kind-priority groups. It stops after the first group with a failure.
func (s *Syncer) applyAll(ctx context.Context, p *plan) error {
	return s.applyOrdered(ctx, p.items)
}

// applyOrdered applies the changed items of items not applied yet, as
// applyAll does.
func (s *Syncer) applyOrdered(ctx context.Context, items []*planItem) error {
	var first, rest []*planItem
	for _, it := range items {
		if it.skipped || it.applied || !it.changed {
			continue
		}
		if render.FirstPhase(it.m.Key.GroupKind()) {
			first = append(first, it)
		} else {
			rest = append(rest, it)
		}
	}
	if err := s.applyItems(ctx, first); err != nil {
		return err
	}
	var crds []*planItem
	for _, it := range first {
		if it.m.Key.GroupKind() == render.GKCRD {
			crds = append(crds, it)
		}
	}
	if len(crds) > 0 {
		if err := s.waitEstablished(ctx, crds); err != nil {
			return err
		}
		s.resetMapper(true)
	}
	for start := 0; start < len(rest); {
		end := start + 1
		prio := render.KindPriority(rest[start].m.Key.GroupKind())
		for end < len(rest) && render.KindPriority(rest[end].m.Key.GroupKind()) == prio {
			end++
		}
		if err := s.applyItems(ctx, rest[start:end]); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// applyItems applies items in parallel; after a failure no new apply
// starts.
func (s *Syncer) applyItems(ctx context.Context, items []*planItem) error {
	var stop atomic.Bool
	s.forEach(ctx, len(items), &stop, func(i int) {
		it := items[i]
		res, err := s.applyOne(ctx, it, false)
		if err != nil {
			it.err = err
			stop.Store(true)
			return
		}
		it.result, it.applied = res, true
		if it.live != nil && res.GetResourceVersion() == it.live.GetResourceVersion() {
			it.action = ActionUnchanged
		}
	})
	if err := planErrors(items, "failed to apply"); err != nil {
		return err
	}
	return ctx.Err()
}

// waitEstablished waits (up to a minute) for CRDs to be Established.
func (s *Syncer) waitEstablished(ctx context.Context, crds []*planItem) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, it := range crds {
		ri := s.resource(it.mapping, "")
		for {
			var u *unstructured.Unstructured
			err := s.retry(ctx, func() (err error) {
				u, err = ri.Get(ctx, it.m.Key.Name, metav1.GetOptions{})
				return err
			})
			if err != nil {
				return fmt.Errorf("waiting for %s to be established: %w", it.m.Key, err)
			}
			if conditionTrue(u, "Established") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s to be established: %w", it.m.Key, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}
