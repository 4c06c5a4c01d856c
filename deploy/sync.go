package deploy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ferrygitops/ferry/deploy/diff"
	"github.com/ferrygitops/ferry/deploy/health"
	"github.com/ferrygitops/ferry/deploy/hooks"
	"github.com/ferrygitops/ferry/deploy/inventory"
	"github.com/ferrygitops/ferry/gitrepo"
)

// ErrRefusePruneAll is returned (wrapped) when a pruning sync renders no
// object while the inventory holds some: more likely a broken path or
// branch than an intent to delete the app. SyncOptions.AllowEmpty allows
// it.
var ErrRefusePruneAll = errors.New("refusing to prune every object of the app: the render produced no objects")

// SyncOptions tune one sync.
type SyncOptions struct {
	// DryRun computes the actions (server-side dry-run) without writing
	// anything, lease and record included.
	DryRun bool
	// Prune deletes the objects of earlier syncs no longer rendered.
	Prune bool
	// AllowEmpty lets a pruning sync that renders nothing prune
	// everything.
	AllowEmpty bool
	// Timeout bounds the wait for applied objects to become Current: 0
	// means DefaultTimeout; negative means no wait (health is evaluated
	// once, right after applying).
	Timeout time.Duration
	// Revision is the commit to sync (full or abbreviated hash); "" means
	// the rollback pin if the app is pinned, else the branch head.
	Revision string
	// Trigger is recorded with the sync; default "sync".
	Trigger string
	// QuietNoop does not record a sync that changed nothing and ended as
	// the previous record did (Watch sets it, so a quiet app's history
	// is not flooded).
	QuietNoop bool
}

// syncExtra carries what Watch and Rollback add to a sync.
type syncExtra struct {
	pin   *Pin // pin the app to the synced revision (rollback)
	watch bool // obey Automated and SelfHeal
	// drift receives the drifted objects (Watch).
	drift *[]DriftedObject
	// synced receives the revision the cluster is at after the sync: the
	// newest that applied everything (Watch).
	synced *string
}

// DriftedObject is an object changed in the cluster since Ferry applied
// it, and the paths of the fields that differ (values are not shown: they
// may be secret).
type DriftedObject struct {
	ObjectKey
	Paths []string `json:"paths,omitempty"`
	// Missing: the object was deleted, or lost its app label.
	Missing bool `json:"missing,omitempty"`
}

// Sync brings the cluster to the app's manifests: it takes the app's lease
// (waiting for another sync of it), renders the revision, validates every
// changed object with a server-side dry-run (a render error, an invalid
// object or a rejected one stops the sync here, before any change, and
// leaves the inventory and the record as they were), records the objects
// in the inventory, applies them (Namespaces and CRDs first, waiting for
// CRDs to be Established, then by kind priority), prunes the objects of
// earlier syncs no longer rendered (opts.Prune), waits for the applied
// objects to be Current, and appends the sync to the app's record.
//
// Objects whose rendered hash and live fields are unchanged are not
// applied at all, so a sync with nothing to do costs one List per
// resource and namespace. A Degraded sync returns a nil error; a Failed
// one returns the error, also in Record.Error.
func (s *Syncer) Sync(ctx context.Context, app App, opts SyncOptions) (Record, error) {
	return s.sync(ctx, app, opts, syncExtra{})
}

func newRecordID(t time.Time) string {
	return fmt.Sprintf("%s-%s", t.UTC().Format("20060102T150405.000000000Z"), randomSuffix())
}

func (s *Syncer) sync(ctx context.Context, app App, opts SyncOptions, x syncExtra) (rec Record, err error) {
	now := s.opts.Now
	rec = Record{ID: newRecordID(now()), App: app.Name, Trigger: opts.Trigger, DryRun: opts.DryRun, Started: now()}
	if rec.Trigger == "" {
		rec.Trigger = "sync"
	}
	// Until the lease is held nothing is recorded: the sync has not
	// started, and another may be writing.
	var st *inventory.State
	started := false
	fail := func(reason Reason, err error) (Record, error) {
		rec.Result, rec.Reason, rec.Error, rec.Finished = Failed, reason, err.Error(), now()
		if started {
			s.record(ctx, app, st, rec, nil, opts.QuietNoop)
		}
		return rec, err
	}
	if err := app.Validate(); err != nil {
		return fail("", err)
	}
	if err := s.reachable(ctx); err != nil {
		return fail(inventory.ClusterError, err)
	}
	// The render needs neither the lease nor the state: it starts now and
	// runs while they are taken and read. A rollback's pinned revision,
	// known only from the state, is rendered then instead.
	var early *earlyRender
	if x.pin == nil {
		early = s.startRender(ctx, app, opts.Revision)
		defer early.stop()
	}
	step := s.stepTimer(app)
	sctx := ctx
	waited := false // for the lease another sync held
	if !opts.DryRun {
		asked := time.Now()
		lctx, lk, err := s.lock(ctx, app)
		if err != nil {
			return fail("", err)
		}
		waited = time.Since(asked) > time.Second
		defer lk.unlock()
		sctx = lctx
		// Times count from holding the lease, so records of one app never
		// overlap.
		rec.Started = now()
		step("locked", "lease", LeasePrefix+app.Name)
	}
	st, err = s.readState(sctx, app)
	if err != nil {
		return fail(inventory.ClusterError, err)
	}
	started = !opts.DryRun
	if x.synced != nil {
		*x.synced = st.LastRevision()
		defer func() {
			if rec.Result != Failed && !rec.DryRun {
				*x.synced = rec.Revision
			}
		}()
	}
	ctx = sctx
	inv, err := s.readInventory(ctx, app)
	if err != nil {
		return fail(inventory.ClusterError, err)
	}
	// While the render runs, list what the last sync applied.
	pre := s.prefetchLive(ctx, app, inv)
	defer pre.stop()

	// Which revision: explicit, pinned, or the branch head.
	rev, pinned := opts.Revision, false
	if rev == "" && st.Pin != nil && x.pin == nil {
		rev, pinned = st.Pin.Revision, true
	}
	// The early render is this sync's unless another sync may have
	// applied a newer commit than it read: one this sync waited for, or
	// one that finished after it began.
	stale := waited || early != nil && len(st.History) > 0 && st.History[0].Finished.After(early.started.Add(-clockSkew))
	var rendered Rendered
	if early != nil && rev == early.rev && !stale {
		rendered, err = early.result()
		if err != nil {
			// Made before the lease: the failure may have passed (an API
			// server restarting under a Helm capabilities read). Once
			// more now, and that result counts.
			rendered, err = s.Render(ctx, app, rev)
		}
	} else {
		early.stop() // not the render wanted: frees the clone now
		rendered, err = s.Render(ctx, app, rev)
	}
	rec.Revision, rec.BranchHead, rec.Pinned = rendered.Revision, rendered.BranchHead, pinned || x.pin != nil
	if err != nil {
		return fail(inventory.RenderFailed, err)
	}
	step("rendered", "revision", short(rendered.Revision), "objects", len(rendered.Manifests), "kustomize", rendered.Kustomize)
	if pinned && app.ReleasePinOnNewCommit && rendered.BranchHead != st.Pin.BranchHead {
		s.log.Info("a new commit releases the rollback pin", "app", app.Name, "pinned", short(st.Pin.Revision), "head", short(rendered.BranchHead))
		if !opts.DryRun {
			pin := *st.Pin
			if err := s.updateState(ctx, app, func(cur *inventory.State) bool {
				if cur.Pin == nil || *cur.Pin != pin {
					return false
				}
				cur.Pin = nil
				return true
			}); err != nil {
				return fail(inventory.ClusterError, err)
			}
		}
		pinned = false
		rendered, err = s.Render(ctx, app, "")
		rec.Revision, rec.BranchHead, rec.Pinned = rendered.Revision, rendered.BranchHead, x.pin != nil
		if err != nil {
			return fail(inventory.RenderFailed, err)
		}
	}
	// Hooks and skipped objects are set apart; the rest is the Sync
	// phase's ordinary objects.
	sp, err := hooks.SplitRendered(rendered)
	if err != nil {
		return fail(inventory.RenderFailed, fmt.Errorf("syncing app %s at %s: nothing applied: %w", app.Name, short(rendered.Revision), err))
	}
	allKeys := renderedKeys(&rendered)
	rendered = sp.Rendered
	phased := sp.Phased()
	last := st.LastRevision()
	dry := opts.DryRun
	if x.watch {
		newRev := rendered.Revision != last
		switch {
		case newRev && !app.Automated:
			s.log.Info("a new revision is available; automated sync is off", "app", app.Name, "revision", short(rendered.Revision), "synced", short(last))
			dry = true
		case !newRev && !app.SelfHeal:
			dry = true
		case len(st.History) > 0 && st.History[0].Revision == rendered.Revision && st.History[0].Result == Failed &&
			st.History[0].Reason == inventory.HookFailed && !st.History[0].DryRun:
			// As Argo CD's automated sync: a revision whose hook failed
			// is not retried by itself (`ferry sync` does).
			s.log.Info("not retrying a revision whose hook failed; sync it by hand or push a new commit", "app", app.Name, "revision", short(rendered.Revision))
			dry = true
		}
	}
	if dry {
		// A round that only reports is not recorded.
		started = false
	}

	if opts.Prune && len(rendered.Manifests) == 0 && len(inv) > 0 && !opts.AllowEmpty {
		return fail(inventory.PruneAllRefused, fmt.Errorf("syncing app %s at %s: %w while the inventory holds %d (allow it with AllowEmpty / --allow-empty)",
			app.Name, short(rendered.Revision), ErrRefusePruneAll, len(inv)))
	}
	p, err := s.newPlan(ctx, app, &rendered, inv, planOptions{skipUnchanged: true, prefetched: pre})
	if err != nil {
		return fail(inventory.ClusterError, fmt.Errorf("syncing app %s at %s: nothing applied: %w", app.Name, short(rendered.Revision), err))
	}
	runHooks := false
	if phased {
		for _, it := range p.items {
			it.wave = sp.Wave(it.m.Key)
		}
		if runHooks = len(sp.Hooks) > 0 && hooksDue(p, &rendered, last, inv, allKeys, opts.Prune); runHooks {
			s.planHooks(ctx, p, &sp)
		}
	}
	step("planned", "objects", len(p.items), "toApply", p.count(func(it *planItem) bool { return it.changed }),
		"deferred", p.count(func(it *planItem) bool { return it.deferred }), "rejected", p.count(func(it *planItem) bool { return it.err != nil }))
	if err := planErrors(p.all(), "rejected"); err != nil {
		fillRecord(&rec, p, nil)
		return fail(inventory.Rejected, fmt.Errorf("syncing app %s at %s: nothing applied: %w", app.Name, short(rendered.Revision), err))
	}
	drifted := s.drift(app, p, inv, !dry)
	if x.drift != nil {
		*x.drift = drifted
	}

	if dry {
		rec.DryRun = true
		var pruned []ObjectResult
		if opts.Prune {
			cands, err := s.pruneCandidates(ctx, app, inv, allKeys)
			if err != nil {
				return fail(inventory.ClusterError, err)
			}
			for _, c := range cands {
				pruned = append(pruned, pruneResult(c, ""))
			}
		}
		s.evaluateHealth(p)
		if runHooks {
			for _, ph := range []hooks.Phase{hooks.PreSync, hooks.Sync, hooks.PostSync} {
				p.notRun(ph, "dry run")
			}
		}
		fillRecord(&rec, p, pruned)
		rec.Result, rec.Finished = Succeeded, now()
		return rec, nil
	}

	// Objects in a Namespace or of a kind this sync creates are validated
	// after creating just those; if one is rejected they are removed
	// again and nothing else changes.
	if err := s.validateDeferred(ctx, app, p, inv); err != nil {
		fillRecord(&rec, p, nil)
		reason := inventory.ApplyFailed
		if errors.Is(err, errRejected) {
			reason = inventory.Rejected
		}
		return fail(reason, fmt.Errorf("syncing app %s at %s: %w", app.Name, short(rendered.Revision), err))
	}

	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	// syncFail runs the SyncFail hooks of a sync that failed after
	// validation, and records the phases that did not run.
	syncFail := func(phases ...hooks.Phase) {
		if !runHooks {
			return
		}
		for _, ph := range phases {
			p.notRun(ph, "not run: the sync stopped before")
		}
		if ctx.Err() != nil {
			p.notRun(hooks.SyncFail, "not run: the sync's context ended")
			return
		}
		if err := s.runPhase(ctx, app, p, hooks.SyncFail, hookTimeout(opts.Timeout)); err != nil {
			s.log.Error("a SyncFail hook failed", "app", app.Name, "error", err)
		}
	}
	if runHooks {
		if err := s.runPhase(ctx, app, p, hooks.PreSync, hookTimeout(opts.Timeout)); err != nil {
			syncFail(hooks.Sync, hooks.PostSync)
			fillRecord(&rec, p, nil)
			reason := inventory.HookFailed
			if !errors.Is(err, errHook) {
				reason = inventory.ClusterError
			}
			return fail(reason, fmt.Errorf("syncing app %s at %s: PreSync: nothing else applied: %w", app.Name, short(rendered.Revision), err))
		}
		step("PreSync hooks ran")
	}

	// Track every object before applying it, so one created by a sync
	// that then fails (or dies) can still be pruned later.
	grown := maps.Clone(inv)
	for _, m := range rendered.Manifests {
		grown[m.Key] = m.Object.GetAPIVersion()
	}
	// inv was read under the lease held since: when nothing is added, the
	// inventory is not read again.
	if !maps.Equal(grown, inv) {
		if err := s.writeInventory(ctx, app, grown); err != nil {
			fillRecord(&rec, p, nil)
			return fail(inventory.ClusterError, fmt.Errorf("syncing app %s: nothing applied: %w", app.Name, err))
		}
	}

	step("tracked in the inventory", "objects", len(grown))
	if phased {
		err = s.applyWaves(ctx, app, p, hookTimeout(opts.Timeout))
	} else {
		err = s.applyAll(ctx, p)
	}
	if err != nil {
		err = fmt.Errorf("syncing app %s at %s: %w", app.Name, short(rendered.Revision), err)
		if cause := context.Cause(ctx); cause != nil && errors.Is(cause, ErrLeaseLost) {
			err = fmt.Errorf("%w: %w", err, cause)
		}
		reason := inventory.ApplyFailed
		switch {
		case errors.Is(err, errHook):
			reason = inventory.HookFailed
		case errors.Is(err, errWave):
			reason = inventory.WaveUnhealthy
		}
		syncFail(hooks.PostSync)
		if phased {
			s.evaluateHealth(p)
		}
		fillRecord(&rec, p, nil)
		return fail(reason, err)
	}

	step("applied", "objects", p.count(func(it *planItem) bool { return it.applied }))
	final := inventory.Inventory{}
	for _, m := range rendered.Manifests {
		final[m.Key] = m.Object.GetAPIVersion()
	}
	for _, h := range sp.Skipped {
		if av, ok := inv[h.Key]; ok {
			final[h.Key] = av // not applied, not pruned: still tracked
		}
	}
	var pruned []ObjectResult
	var syncErr error
	var reason Reason
	if opts.Prune {
		var keep inventory.Inventory
		pruned, keep, syncErr = s.prune(ctx, app, inv, allKeys)
		maps.Copy(final, keep)
		if syncErr != nil {
			reason = inventory.PruneFailed
		}
	} else {
		for k, v := range inv {
			if _, ok := final[k]; !ok {
				final[k] = v
			}
		}
	}
	// The inventory holds grown since it was tracked, under the lease.
	if !maps.Equal(final, grown) {
		if err := s.writeInventory(ctx, app, final); err != nil {
			syncErr = errors.Join(syncErr, err)
			reason = cmp.Or(reason, inventory.ClusterError)
		}
	}

	step("pruned", "objects", len(pruned))
	s.waitHealthy(ctx, p, timeout)
	step("health checked", "timeout", timeout)
	fillRecord(&rec, p, pruned)
	rec.Finished = now()
	switch {
	case syncErr != nil:
		syncErr = fmt.Errorf("syncing app %s at %s: %w", app.Name, short(rendered.Revision), syncErr)
		rec.Result, rec.Reason, rec.Error = Failed, reason, syncErr.Error()
	case rec.Healthy():
		rec.Result = Succeeded
	case timeout < 0 && !anyFailed(&rec):
		// Not waiting: objects still rolling out are reported, not held
		// against the sync.
		rec.Result = Succeeded
	default:
		rec.Result, rec.Reason = Degraded, inventory.HealthTimeout
		if anyFailed(&rec) {
			rec.Reason = inventory.Unhealthy
		}
		rec.Error = unhealthySummary(&rec)
	}
	if runHooks {
		switch {
		case rec.Result == Failed:
			syncFail(hooks.PostSync)
		case rec.Result == Degraded:
			p.notRun(hooks.PostSync, "not run: the app is not healthy")
		default:
			err := s.runPhase(ctx, app, p, hooks.PostSync, hookTimeout(opts.Timeout))
			if err != nil {
				reason := inventory.HookFailed
				if !errors.Is(err, errHook) {
					reason = inventory.ClusterError
				}
				rec.Result, rec.Reason, rec.Error = Degraded, reason, fmt.Sprintf("applied, but PostSync: %v", err)
				syncFail()
			}
		}
		rec.Hooks = p.hookRuns
		rec.Finished = now()
	}
	var pin *Pin
	if x.pin != nil && rec.Result != Failed {
		pin = &Pin{Revision: rendered.Revision, BranchHead: rendered.BranchHead, From: x.pin.From, Time: now()}
	}
	if err := s.record(ctx, app, st, rec, pin, opts.QuietNoop); err != nil && syncErr == nil {
		syncErr = err
		rec.Error = err.Error()
	}
	step("recorded", "result", rec.Result)
	return rec, syncErr
}

// record saves rec (and pin) unless quiet says a round that changed
// nothing and ended as the previous one did is not worth a record (Watch
// sets it, so neither a quiet app's history nor that of an app whose
// branch stays broken is flooded).
func (s *Syncer) record(ctx context.Context, app App, st *inventory.State, rec Record, pin *Pin, quiet bool) error {
	if pin == nil && quiet && st != nil && !rec.Counts.Changed() && len(st.History) > 0 &&
		st.History[0].Revision == rec.Revision && st.History[0].Result == rec.Result && st.History[0].Error == rec.Error {
		return nil
	}
	return s.saveRecord(ctx, app, rec, pin)
}

// stepTimer returns a function that logs (at debug level) a step of a
// sync with the time since the previous one.
func (s *Syncer) stepTimer(app App) func(msg string, args ...any) {
	last := time.Now()
	return func(msg string, args ...any) {
		now := time.Now()
		s.log.Debug("sync: "+msg, append([]any{"app", app.Name, "took", now.Sub(last).Round(time.Millisecond)}, args...)...)
		last = now
	}
}

// anyFailed reports whether an applied object's health is Failed.
func anyFailed(r *Record) bool {
	for _, o := range r.Objects {
		if o.Action != ActionPruned && o.Action != ActionSkipped && o.Action != ActionRemoved && o.Health == health.Failed {
			return true
		}
	}
	return false
}

// saveRecord appends rec to the app's history, and pins it if pin is set.
func (s *Syncer) saveRecord(ctx context.Context, app App, rec Record, pin *Pin) error {
	if ctx.Err() != nil {
		// The lease is lost or the caller gave up: another sync may be
		// writing. Leave the record alone.
		s.log.Warn("not recording the sync: its context ended", "app", app.Name, "error", context.Cause(ctx))
		return nil
	}
	err := s.updateState(ctx, app, func(st *inventory.State) bool {
		st.Append(rec, s.opts.History)
		if pin != nil {
			st.Pin = pin
		}
		return true
	})
	if err != nil {
		s.log.Error("recording the sync failed", "app", app.Name, "error", err)
		return fmt.Errorf("recording the sync of app %s: %w", app.Name, err)
	}
	return nil
}

func short(rev string) string { return gitrepo.ShortRevision(rev) }

// drift reports (and logs) the objects someone changed since Ferry applied
// them.
func (s *Syncer) drift(app App, p *plan, inv inventory.Inventory, healing bool) []DriftedObject {
	var out []DriftedObject
	for _, it := range p.items {
		_, tracked := inv[it.m.Key]
		var d DriftedObject
		switch {
		case it.drifted:
			d = DriftedObject{ObjectKey: it.m.Key, Paths: diff.ChangedPaths(diff.Strip(it.live.Object), diff.Strip(it.dry.Object), 8)}
		case tracked && it.live == nil && !it.deferred && it.err == nil:
			d = DriftedObject{ObjectKey: it.m.Key, Missing: true}
		default:
			continue
		}
		out = append(out, d)
		what := "changed"
		if d.Missing {
			what = "missing, or no longer labelled " + LabelApp + "=" + app.Name
		}
		if healing {
			s.log.Warn("drift: re-applying", "app", app.Name, "object", d.ObjectKey.String(), "state", what, "fields", d.Paths)
		} else {
			s.log.Warn("drift detected (not healing)", "app", app.Name, "object", d.ObjectKey.String(), "state", what, "fields", d.Paths)
		}
	}
	return out
}

// fillRecord sets the record's objects and counts from a plan and prunes.
func fillRecord(rec *Record, p *plan, pruned []ObjectResult) {
	rec.Objects, rec.Counts, rec.Hooks = nil, Counts{}, p.hookRuns
	for _, it := range p.items {
		o := ObjectResult{ObjectKey: it.m.Key, APIVersion: it.m.Object.GetAPIVersion(), Action: it.action, Health: it.health, Message: it.healthMsg}
		switch {
		case it.err != nil:
			o.Action, o.Message = ActionFailed, it.err.Error()
		case it.removed:
			o.Action, o.Message = ActionRemoved, "created to validate the objects in it, removed: one was rejected"
		case rec.DryRun && it.deferred && o.Action == "":
			o.Action = ActionCreated // created with its namespace or CRD
		case !rec.DryRun && (it.changed || it.deferred) && !it.applied:
			o.Action, o.Message = "", "not applied: the sync stopped before"
		}
		rec.Objects = append(rec.Objects, o)
		rec.Counts.Add(o.Action)
	}
	for _, o := range pruned {
		rec.Objects = append(rec.Objects, o)
		rec.Counts.Add(o.Action)
	}
}

func unhealthySummary(r *Record) string {
	n, first := 0, ""
	for _, o := range r.Objects {
		if o.Action != ActionPruned && o.Action != ActionSkipped && o.Action != ActionRemoved && o.Health != "" && o.Health != health.Current {
			if n == 0 {
				first = fmt.Sprintf("%s is %s", o.ObjectKey, o.Health)
				if o.Message != "" {
					first += ": " + o.Message
				}
			}
			n++
		}
	}
	if n == 1 {
		return "not healthy: " + first
	}
	return fmt.Sprintf("%d objects not healthy, e.g. %s", n, first)
}

// clockSkew is how far apart the clocks of two Ferry processes syncing
// one app may be.
const clockSkew = 5 * time.Second

// earlyRender is a render started before the sync holds its lease.
type earlyRender struct {
	rev     string // as asked: "" for the branch head
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	r       Rendered
	err     error
}

func (s *Syncer) startRender(ctx context.Context, app App, rev string) *earlyRender {
	ctx, cancel := context.WithCancel(ctx)
	e := &earlyRender{rev: rev, started: time.Now(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		defer func() {
			if p := recover(); p != nil { // as a render on the caller's goroutine would be: an error, not a crash
				e.err = fmt.Errorf("rendering app %s: panic: %v", app.Name, p)
			}
		}()
		e.r, e.err = s.Render(ctx, app, rev)
	}()
	return e
}

// result waits for the render.
func (e *earlyRender) result() (Rendered, error) {
	<-e.done
	return e.r, e.err
}

// stop cancels the render if it still runs and waits for it; nil-safe.
func (e *earlyRender) stop() {
	if e != nil {
		e.cancel()
		<-e.done
	}
}
