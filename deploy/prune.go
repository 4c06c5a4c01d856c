package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/deploy/render"
)

// prune deletes the inventory objects no longer rendered (reverse apply
// order, Background propagation, only if the live object is still the one
// Ferry applied: labelled as the app's, not opted out, same UID). It
// returns what it did and the objects to keep in the inventory (those it
// failed to delete).
func (s *Syncer) prune(ctx context.Context, app App, inv inventory.Inventory, r map[ObjectKey]bool) ([]ObjectResult, inventory.Inventory, error) {
	cands, err := s.pruneCandidates(ctx, app, inv, r)
	keep := inventory.Inventory{}
	if err != nil {
		// Unknown state: keep tracking every candidate.
		for k, v := range inv {
			keep[k] = v
		}
		return nil, keep, fmt.Errorf("pruning: %w", err)
	}
	results := make([]ObjectResult, len(cands))
	errs := make([]error, len(cands))
	for start := 0; start < len(cands); {
		end := start + 1
		prio := render.KindPriority(cands[start].key.GroupKind())
		for end < len(cands) && render.KindPriority(cands[end].key.GroupKind()) == prio {
			end++
		}
		group := cands[start:end]
		s.forEach(ctx, len(group), nil, func(i int) {
			c := group[i]
			idx := start + i
			if c.skip != "" {
				results[idx] = pruneResult(c, ActionSkipped)
				s.log.Info("not pruning", "app", app.Name, "object", c.key.String(), "reason", c.skip)
				return
			}
			gv, _ := schema.ParseGroupVersion(c.apiVersion)
			m, err := s.mapping(gv.WithKind(c.key.Kind))
			if err == nil {
				err = s.deleteExact(ctx, m, c.key, c.live.GetUID())
				// Gone already, or replaced by another object of the name.
				if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
					err = nil
				}
			}
			if err != nil {
				errs[idx] = fmt.Errorf("deleting %s: %w", c.key, err)
				results[idx] = ObjectResult{ObjectKey: c.key, APIVersion: c.apiVersion, Action: ActionFailed, Message: err.Error()}
				return
			}
			results[idx] = pruneResult(c, ActionPruned)
			s.log.Info("pruned", "app", app.Name, "object", c.key.String())
		})
		start = end
	}
	var out []ObjectResult
	for i, r := range results {
		if r.Kind == "" { // not reached: ctx ended
			keep[cands[i].key] = cands[i].apiVersion
			continue
		}
		if r.Action == ActionFailed {
			keep[r.ObjectKey] = r.APIVersion
		}
		out = append(out, r)
	}
	return out, keep, errors.Join(append(errs, ctx.Err())...)
}

func ptrTo[T any](v T) *T { return &v }

// deleteExact deletes the object key names if it is still the one of uid
// (a precondition, so a namesake created since is kept), in the
// background: its dependents go after it.
func (s *Syncer) deleteExact(ctx context.Context, m *meta.RESTMapping, key ObjectKey, uid types.UID) error {
	return s.retry(ctx, func() error {
		return s.resource(m, key.Namespace).Delete(ctx, key.Name, metav1.DeleteOptions{
			PropagationPolicy: ptrTo(metav1.DeletePropagationBackground),
			Preconditions:     &metav1.Preconditions{UID: &uid},
		})
	})
}

// pruneResult reports a prune candidate; action "" means the dry-run
// verdict (pruned or skipped).
func pruneResult(c *pruneCandidate, action Action) ObjectResult {
	if action == "" {
		action = ActionPruned
		if c.skip != "" {
			action = ActionSkipped
		}
	}
	return ObjectResult{ObjectKey: c.key, APIVersion: c.apiVersion, Action: action, Message: c.skip}
}

// pruneCandidate is an inventory object no longer rendered.
type pruneCandidate struct {
	key        ObjectKey
	apiVersion string
	live       *unstructured.Unstructured
	skip       string // why it is kept, if it is
}

// renderedKeys returns the keys of r's objects.
func renderedKeys(r *Rendered) map[ObjectKey]bool {
	out := make(map[ObjectKey]bool, len(r.Manifests))
	for _, m := range r.Manifests {
		out[m.Key] = true
	}
	return out
}

// pruneCandidates fetches the inventory objects no longer rendered (not
// in rendered, the keys of every object of the render, hooks and skipped
// ones included), in reverse apply order, and says which may be deleted.
// Objects already gone are left out.
func (s *Syncer) pruneCandidates(ctx context.Context, app App, inv inventory.Inventory, rendered map[ObjectKey]bool) ([]*pruneCandidate, error) {
	var cands []*pruneCandidate
	for k, av := range inv {
		if !rendered[k] {
			cands = append(cands, &pruneCandidate{key: k, apiVersion: av})
		}
	}
	slices.SortFunc(cands, func(a, b *pruneCandidate) int { return b.key.Compare(a.key) })
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
