package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ferrygitops/ferry/deploy/health"
	"github.com/ferrygitops/ferry/deploy/hooks"
	"github.com/ferrygitops/ferry/deploy/inventory"
)

// errHook and errWave mark a sync stopped by a hook or a wave.
var (
	errHook = errors.New("hook failed")
	errWave = errors.New("sync wave not healthy")
)

// planHooks adds the hooks of sp to p and validates them: a hook of a
// fixed name that exists must be a hook of the app (labelled as its) and
// have BeforeHookCreation, and every hook is created with dry-run.
func (s *Syncer) planHooks(ctx context.Context, p *plan, sp *hooks.Split) {
	for i := range sp.Hooks {
		h := &sp.Hooks[i]
		it := &planItem{m: &h.Manifest, hook: &h.Info}
		p.hooks = append(p.hooks, it)
		var err error
		it.mapping, err = s.mapping(h.Object.GroupVersionKind())
		switch {
		case err == nil:
		case meta.IsNoMatchError(err) && p.newKinds[h.Key.GroupKind()]:
			it.deferred = true
		case meta.IsNoMatchError(err):
			gvk := h.Object.GroupVersionKind()
			it.err = fmt.Errorf("%s (%s): the cluster has no kind %s in %s (is its CRD installed?)", h.Key, h.Source, gvk.Kind, gvk.GroupVersion())
		default:
			it.err = fmt.Errorf("%s (%s): %w", h.Key, h.Source, err)
		}
	}
	var todo []*planItem
	for _, it := range p.hooks {
		if !it.deferred && it.err == nil {
			todo = append(todo, it)
		}
	}
	s.dryRun(ctx, todo, p.newNamespaces, p.newKinds, planOptions{})
}

// dryRunHook validates one hook: reads the object of its name, if it has
// one, and creates it with dry-run (under a generated name when one of
// its name exists and will be deleted first).
func (s *Syncer) dryRunHook(ctx context.Context, it *planItem, newNamespaces map[string]bool, newKinds map[schema.GroupKind]bool) {
	if it.mapping == nil {
		m, err := s.mapping(it.m.Object.GroupVersionKind())
		if err != nil {
			it.err = fmt.Errorf("%s (%s): %w", it.m.Key, it.m.Source, err)
			return
		}
		it.mapping = m
	}
	ri := s.resource(it.mapping, it.namespace())
	obj := it.m.Object.DeepCopy()
	if name := obj.GetName(); name != "" {
		var live *unstructured.Unstructured
		err := s.retry(ctx, func() (err error) {
			live, err = ri.Get(ctx, name, metav1.GetOptions{})
			return err
		})
		switch {
		case apierrors.IsNotFound(err):
		case isNamespaceMissing(err, it.namespace()) && newNamespaces[it.namespace()]:
			it.deferred = true
			return
		case err != nil:
			it.err = fmt.Errorf("%s (%s): reading the hook's object: %w", it.m.Key, it.m.Source, err)
			return
		default:
			app := it.m.Object.GetLabels()[LabelApp]
			switch {
			case live.GetLabels()[LabelApp] != app:
				it.err = fmt.Errorf("%s (%s): a hook of this name exists and is not app %s's (not labelled %s=%s): Ferry does not delete it to create the hook", it.m.Key, it.m.Source, app, LabelApp, app)
				return
			case !it.hook.Has(hooks.BeforeHookCreation):
				it.err = fmt.Errorf("%s (%s): the hook exists (from an earlier sync) and its delete policy has no BeforeHookCreation: delete it, add BeforeHookCreation, or give it metadata.generateName", it.m.Key, it.m.Source)
				return
			}
			unstructured.RemoveNestedField(live.Object, "metadata", "managedFields")
			it.live, it.exists = live, true
			// Validate everything but the name, which is taken until the
			// old object is deleted.
			obj.SetName("")
			obj.SetGenerateName(trimName(name) + "-")
		}
	}
	var dry *unstructured.Unstructured
	err := s.retry(ctx, func() (err error) {
		dry, err = ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager, DryRun: []string{metav1.DryRunAll}})
		return err
	})
	if err != nil {
		if isNamespaceMissing(err, it.namespace()) && newNamespaces[it.namespace()] || meta.IsNoMatchError(err) && newKinds[it.m.Key.GroupKind()] {
			it.deferred = true
			return
		}
		it.err = fmt.Errorf("%s (%s): %w", it.m.Key, it.m.Source, err)
		return
	}
	it.dry = dry
}

// trimName keeps a name short enough to take a generated suffix.
func trimName(n string) string {
	if len(n) > 57 {
		return n[:57]
	}
	return n
}

// hookTimeout is how long a hook or a wave is waited for: the sync's
// timeout, or DefaultTimeout when it does not wait.
func hookTimeout(t time.Duration) time.Duration {
	if t <= 0 {
		return DefaultTimeout
	}
	return t
}

// hookRun is one run of a hook in a phase.
type hookRun struct {
	it    *planItem
	phase hooks.Phase
	obj   *unstructured.Unstructured // as created, then as last read
	gone  bool                       // deleted (by someone) before it finished
	res   inventory.HookResult
}

// hooksOf returns the hooks of phase p in wave w (any wave if all).
func (p *plan) hooksOf(phase hooks.Phase, w int, all bool) []*planItem {
	var out []*planItem
	for _, it := range p.hooks {
		if it.hook.In(phase) && (all || it.hook.Wave == w) {
			out = append(out, it)
		}
	}
	return out
}

// hookWaves returns the waves of phase's hooks, ascending.
func (p *plan) hookWaves(phase hooks.Phase) []int {
	var ws []int
	for _, it := range p.hooks {
		if it.hook.In(phase) {
			ws = append(ws, it.hook.Wave)
		}
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// runPhase runs the hooks of a hook-only phase (PreSync, PostSync,
// SyncFail), wave by wave; a failed hook stops it.
func (s *Syncer) runPhase(ctx context.Context, app App, p *plan, phase hooks.Phase, timeout time.Duration) error {
	for _, w := range p.hookWaves(phase) {
		runs, err := s.createHooks(ctx, app, p.hooksOf(phase, w, false), phase)
		if err == nil {
			err = s.awaitHooks(ctx, app, p, runs, timeout)
		} else {
			p.addRuns(runs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// notRun records the hooks of phase as not run, with msg.
func (p *plan) notRun(phase hooks.Phase, msg string) {
	for _, it := range p.hooksOf(phase, 0, true) {
		p.hookRuns = append(p.hookRuns, inventory.HookResult{ObjectKey: it.m.Key, Phase: string(phase), Wave: it.hook.Wave, Result: inventory.HookNotRun, Message: msg})
	}
}

func (p *plan) addRuns(runs []*hookRun) {
	for _, r := range runs {
		p.hookRuns = append(p.hookRuns, r.res)
	}
}

// createHooks creates hooks (deleting first the object an earlier sync
// left under a hook's name, BeforeHookCreation).
func (s *Syncer) createHooks(ctx context.Context, app App, items []*planItem, phase hooks.Phase) ([]*hookRun, error) {
	runs := make([]*hookRun, len(items))
	errs := make([]error, len(items))
	s.forEach(ctx, len(items), nil, func(i int) {
		it := items[i]
		r := &hookRun{it: it, phase: phase, res: inventory.HookResult{ObjectKey: it.m.Key, Phase: string(phase), Wave: it.hook.Wave, Result: inventory.HookNotRun}}
		runs[i] = r
		ri := s.resource(it.mapping, it.namespace())
		if name := it.m.Object.GetName(); name != "" {
			// The object of the name an earlier sync (or phase) left.
			if err := s.deleteAndWait(ctx, it, name); err != nil {
				r.res.Message = err.Error()
				errs[i] = err
				return
			}
		}
		obj := it.m.Object.DeepCopy()
		var created *unstructured.Unstructured
		err := s.retry(ctx, func() (err error) {
			created, err = ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
			return err
		})
		if err != nil {
			err = fmt.Errorf("creating hook %s (%s): %w", it.m.Key, it.m.Source, err)
			r.res.Result, r.res.Message = inventory.HookRunFailed, err.Error()
			errs[i] = err
			return
		}
		unstructured.RemoveNestedField(created.Object, "metadata", "managedFields")
		r.obj = created
		r.res.Name = created.GetName()
		it.result = created
		s.log.Info("hook created", "app", app.Name, "phase", string(phase), "wave", it.hook.Wave, "object", KeyOf(created).String())
	})
	if err := errors.Join(errs...); err != nil {
		return runs, fmt.Errorf("%w: %w", errHook, err)
	}
	return runs, ctx.Err()
}

// deleteAndWait deletes the object named name of the hook's kind (if it
// exists and is the app's; planHooks checked it has BeforeHookCreation),
// and waits until it is gone.
func (s *Syncer) deleteAndWait(ctx context.Context, it *planItem, name string) error {
	ri := s.resource(it.mapping, it.namespace())
	var live *unstructured.Unstructured
	err := s.retry(ctx, func() (err error) {
		live, err = ri.Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading hook %s: %w", it.m.Key, err)
	}
	app := it.m.Object.GetLabels()[LabelApp]
	if live.GetLabels()[LabelApp] != app {
		return fmt.Errorf("hook %s: an object of this name exists and is not app %s's: not deleting it", it.m.Key, app)
	}
	if !it.hook.Has(hooks.BeforeHookCreation) {
		return fmt.Errorf("hook %s exists and its delete policy has no BeforeHookCreation", it.m.Key)
	}
	key := it.m.Key
	key.Name = name
	if err := s.deleteExact(ctx, it.mapping, key, live.GetUID()); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting hook %s before creating it again: %w", key, err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		err := s.retry(wctx, func() (err error) {
			live, err = ri.Get(wctx, name, metav1.GetOptions{})
			return err
		})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("waiting for hook %s to be deleted: %w", key, err)
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("waiting for hook %s to be deleted (finalizers %v): %w", key, live.GetFinalizers(), wctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hookState says whether a hook object finished: a Job when Complete or
// Failed, a Pod when Succeeded or Failed, any other kind when Current
// (kstatus) or Failed.
func hookState(u *unstructured.Unstructured) (done, failed bool, msg string) {
	if u.GetKind() == "Pod" && u.GroupVersionKind().Group == "" {
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		msg, _, _ := unstructured.NestedString(u.Object, "status", "message")
		switch phase {
		case "Succeeded":
			return true, false, ""
		case "Failed":
			return true, true, "pod failed: " + msg
		}
		return false, false, "pod " + strings.ToLower(phase)
	}
	h, m := health.Of(u)
	switch h {
	case health.Current:
		return true, false, ""
	case health.Failed:
		return true, true, m
	}
	return false, false, m
}

// awaitHooks waits (up to timeout) for created hooks to finish, deletes
// them by their policies, and records their runs; a failed or unfinished
// hook is an error wrapping errHook.
func (s *Syncer) awaitHooks(ctx context.Context, app App, p *plan, runs []*hookRun, timeout time.Duration) error {
	defer p.addRuns(runs)
	pending := slices.Clone(runs)
	deadline := time.Now().Add(timeout)
	wait := 100 * time.Millisecond
	for {
		next := pending[:0]
		for _, r := range pending {
			done, failed, msg := hookState(r.obj)
			switch {
			case r.gone:
				r.res.Result, r.res.Message = inventory.HookRunFailed, "deleted before it finished"
			case failed:
				r.res.Result, r.res.Message = inventory.HookRunFailed, msg
			case done:
				r.res.Result, r.res.Message = inventory.HookRunSucceeded, ""
			default:
				r.res.Message = msg
				next = append(next, r)
			}
		}
		pending = next
		if len(pending) == 0 || ctx.Err() != nil || time.Now().After(deadline) {
			break
		}
		t := time.NewTimer(min(wait, time.Until(deadline)))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(wait*2, 2*time.Second)
		s.forEach(ctx, len(pending), nil, func(i int) {
			r := pending[i]
			var u *unstructured.Unstructured
			err := s.retry(ctx, func() (err error) {
				u, err = s.resource(r.it.mapping, r.obj.GetNamespace()).Get(ctx, r.obj.GetName(), metav1.GetOptions{})
				return err
			})
			switch {
			case apierrors.IsNotFound(err):
				r.gone = true
			case err != nil:
				s.log.Warn("reading a hook failed; retrying", "app", app.Name, "hook", r.res.ObjectKey.String(), "error", err)
				return
			default:
				unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
				r.obj = u
			}
		})
	}
	var failed []string
	for _, r := range runs {
		if r.res.Result == inventory.HookNotRun {
			r.res.Result = inventory.HookRunFailed
			r.res.Message = fmt.Sprintf("did not finish within %s: %s", timeout, r.res.Message)
		}
		ok := r.res.Result == inventory.HookRunSucceeded
		s.log.Info("hook finished", "app", app.Name, "phase", string(r.phase), "object", r.res.ObjectKey.String(), "result", r.res.Result, "message", r.res.Message)
		if !ok {
			failed = append(failed, fmt.Sprintf("%s %s: %s", r.phase, r.res.ObjectKey, r.res.Message))
		}
		if ok && r.it.hook.Has(hooks.HookSucceeded) || !ok && r.it.hook.Has(hooks.HookFailed) {
			key := KeyOf(r.obj)
			err := s.deleteExact(ctx, r.it.mapping, key, r.obj.GetUID())
			switch {
			case err == nil || apierrors.IsNotFound(err):
				r.res.Deleted = true
			default:
				s.log.Error("deleting a finished hook failed", "app", app.Name, "hook", key.String(), "error", err)
				r.res.Message = strings.TrimPrefix(r.res.Message+"; ", "; ") + "not deleted: " + err.Error()
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s", errHook, strings.Join(failed, "; "))
	}
	return ctx.Err()
}

// syncWaves returns the waves of the Sync phase, ascending: those of the
// ordinary objects to apply and of the Sync hooks.
func (p *plan) syncWaves() []int {
	ws := []int{0}
	for _, it := range p.items {
		ws = append(ws, it.wave)
	}
	ws = append(ws, p.hookWaves(hooks.Sync)...)
	slices.Sort(ws)
	return slices.Compact(ws)
}

// applyWaves runs the Sync phase: wave by wave, its Sync hooks are
// created, its objects applied (as applyAll does), then, before the next
// wave, every object of the wave is waited for until Current and every
// hook until it finished. The last wave's objects are left to the sync's
// health wait.
func (s *Syncer) applyWaves(ctx context.Context, app App, p *plan, timeout time.Duration) error {
	ws := p.syncWaves()
	for i, w := range ws {
		var items []*planItem
		for _, it := range p.items {
			if it.wave == w {
				items = append(items, it)
			}
		}
		runs, err := s.createHooks(ctx, app, p.hooksOf(hooks.Sync, w, false), hooks.Sync)
		if err != nil {
			p.addRuns(runs)
			return err
		}
		if err := s.applyOrdered(ctx, items); err != nil {
			p.addRuns(runs)
			return err
		}
		if err := s.awaitHooks(ctx, app, p, runs, timeout); err != nil {
			return err
		}
		if i == len(ws)-1 {
			break
		}
		if err := s.waitWave(ctx, items, timeout); err != nil {
			return fmt.Errorf("wave %d: %w", w, err)
		}
	}
	return nil
}

// waitWave waits for every object of a wave (applied or unchanged) to be
// Current; an object Failed, or not Current when timeout passes, is an
// error wrapping errWave.
func (s *Syncer) waitWave(ctx context.Context, items []*planItem, timeout time.Duration) error {
	var pending []*planItem
	for _, it := range items {
		obj := it.result
		if obj == nil && !it.changed {
			obj = it.live
		}
		if obj == nil || it.mapping == nil {
			continue
		}
		it.health, it.healthMsg = health.Of(obj)
		if !health.Settled(it.health) {
			pending = append(pending, it)
		}
	}
	s.pollHealth(ctx, pending, timeout)
	var bad []string
	for _, it := range items {
		if it.health != "" && it.health != health.Current {
			bad = append(bad, fmt.Sprintf("%s is %s", it.m.Key, it.health))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w within %s: %s", errWave, timeout, strings.Join(bad, "; "))
	}
	return ctx.Err()
}

// hooksDue reports whether a sync runs its hooks: when it applies a new
// revision (not the one the cluster is at), or changes or prunes
// anything. A sync that has nothing to do runs none, so Watch's rounds
// do not re-run them.
func hooksDue(p *plan, rendered *Rendered, last string, inv inventory.Inventory, full map[ObjectKey]bool, prune bool) bool {
	if rendered.Revision != last {
		return true
	}
	for _, it := range p.items {
		if it.changed || it.deferred || it.err != nil {
			return true
		}
	}
	if prune {
		for k := range inv {
			if !full[k] {
				return true
			}
		}
	}
	return false
}

// keysOf returns the keys of every object of a split: ordinary, hooks and
// skipped (none of them is pruned).
func keysOf(sp *hooks.Split) map[ObjectKey]bool {
	out := make(map[ObjectKey]bool, len(sp.Rendered.Manifests)+len(sp.Hooks)+len(sp.Skipped))
	for _, m := range sp.Rendered.Manifests {
		out[m.Key] = true
	}
	for _, h := range sp.Hooks {
		out[h.Key] = true
	}
	for _, h := range sp.Skipped {
		out[h.Key] = true
	}
	return out
}
