package deploy

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrygitops/ferry/deploy/render"
)

// applyAll applies the changed items: Namespaces and CRDs first (waiting
// for CRDs to be Established), then the rest in kind-priority groups. It
// stops after the first group with a failure.
func (s *Syncer) applyAll(ctx context.Context, p *plan) error {
	var first, rest []*planItem
	for _, it := range p.items {
		if it.skipped || !it.changed && !it.deferred {
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
	var deferred []*planItem
	for _, it := range rest {
		if it.deferred {
			it.deferred = false
			deferred = append(deferred, it)
		}
	}
	if len(deferred) > 0 {
		s.dryRun(ctx, deferred, nil, nil, planOptions{})
		if err := planErrors(deferred, "rejected"); err != nil {
			return fmt.Errorf("after creating namespaces and CRDs: %w", err)
		}
		kept := rest[:0]
		for _, it := range rest {
			if it.changed {
				kept = append(kept, it)
			}
		}
		rest = kept
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
