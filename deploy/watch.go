package deploy

import (
	"context"
	"time"
)

// Tick is the outcome of one Watch round.
type Tick struct {
	App  string    `json:"app"`
	Time time.Time `json:"time"`
	// Record is the round's sync; DryRun when the app's policy kept
	// Watch from applying (automated or selfHeal off).
	Record Record `json:"record"`
	// Drifted lists the objects someone changed since Ferry applied
	// them; re-applied when the app self-heals.
	Drifted []DriftedObject `json:"drifted,omitempty"`
	// Synced is the revision the cluster is at after the round: the
	// newest whose sync applied everything, which a failed round leaves
	// where it was; "" before the first.
	Synced string `json:"synced,omitempty"`
	// Err is the round's error; Record.Reason says what kind of failure
	// it was (render error, rejected object, apply failure, ...).
	Err error `json:"-"`
}

// Watch keeps an app in sync until ctx ends (then it returns nil): every
// interval (0: app.Interval, else DefaultInterval) it fetches the
// branch and
//
//   - syncs a new commit when app.Automated (otherwise logs that one is
//     available);
//   - otherwise, when app.SelfHeal, re-applies the objects that drifted
//     (each is logged with the paths of the fields that changed, not
//     their values) and reports drift only when it is off;
//   - keeps a rollback pin: a pinned app stays at its pinned revision
//     (and is self-healed there) until Release, or until a new commit
//     with app.ReleasePinOnNewCommit.
//
// It prunes when app.Prune, allows an empty render when app.AllowEmpty,
// and waits app.Timeout for health. Rounds that change nothing are not
// recorded. A failing round is logged and retried at the next tick.
// Options.OnTick sees every round.
func (s *Syncer) Watch(ctx context.Context, app App, interval time.Duration) error {
	if err := app.Validate(); err != nil {
		return err
	}
	if interval <= 0 {
		interval = app.Interval
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		tick := s.tick(ctx, app)
		if ctx.Err() != nil {
			return nil
		}
		if s.opts.OnTick != nil {
			s.opts.OnTick(tick)
		}
		t.Reset(interval)
	}
}

// tick runs one Watch round.
func (s *Syncer) tick(ctx context.Context, app App) Tick {
	tk := Tick{App: app.Name, Time: s.opts.Now()}
	rec, err := s.sync(ctx, app, SyncOptions{
		Prune: app.Prune, AllowEmpty: app.AllowEmpty, Timeout: app.Timeout, Trigger: "watch", QuietNoop: true,
	}, syncExtra{watch: true, drift: &tk.Drifted, synced: &tk.Synced})
	tk.Record, tk.Err = rec, err
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("sync failed", "app", app.Name, "revision", short(rec.Revision), "error", err)
	case err == nil && !rec.DryRun && rec.Counts.Changed():
		s.log.Info("synced", "app", app.Name, "revision", short(rec.Revision), "result", rec.Result,
			"created", rec.Counts.Created, "configured", rec.Counts.Configured, "pruned", rec.Counts.Pruned)
	}
	return tk
}

// SyncNow runs one Watch round at once (a webhook said the branch moved):
// it obeys the app's policy and its rollback pin exactly as Watch does,
// and calls Options.OnTick.
func (s *Syncer) SyncNow(ctx context.Context, app App) Tick {
	tk := s.tick(ctx, app)
	if s.opts.OnTick != nil && ctx.Err() == nil {
		s.opts.OnTick(tk)
	}
	return tk
}
