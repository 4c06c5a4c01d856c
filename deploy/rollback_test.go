package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRollbackPinned: a rollback applies the previous revision and pins
// it; the next auto-sync tick keeps it; Release unpins and the next tick
// applies the head again; with releasePinOnNewCommit a new commit
// releases the pin. The fake deployment controller reports rollouts.
func TestRollbackPinned(t *testing.T) {
	e := newEnv(t, map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:1.0")})
	fakeDeploymentController(t, e.c.Config(), e.ns)
	app := e.app("rollback", "app")
	app.Timeout = 30 * time.Second

	if _, err := e.s.Rollback(e.ctx, app, ""); !errors.Is(err, ErrNoPreviousRevision) {
		t.Fatalf("rollback with no history: %v", err)
	}
	c1 := e.head()
	e.sync(app, SyncOptions{Prune: true, Timeout: app.Timeout})
	c2 := e.commit("bump", map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:2.0")})
	e.sync(app, SyncOptions{Prune: true, Timeout: app.Timeout})
	if e.image("api") != "nginx:2.0" {
		t.Fatal("not at 2.0")
	}

	rec, err := e.s.Rollback(e.ctx, app, "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Revision != c1 || rec.Trigger != "rollback" || rec.Result != Succeeded || e.image("api") != "nginx:1.0" {
		t.Fatalf("rollback = %+v, image %s", rec, e.image("api"))
	}
	st, err := e.s.Status(e.ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pin == nil || st.Pin.Revision != c1 || st.Pin.From != c2 || st.Pin.BranchHead != c2 || st.Revision != c1 {
		t.Fatalf("pin = %+v, revision %s", st.Pin, st.Revision)
	}

	// The next auto-sync tick keeps the rollback (and self-heals there).
	e.kubectlEdit("api", "nginx:2.0", 1)
	ticks := watchUntil(t, e, app, func(tk Tick) bool { return tk.Err == nil })
	if r := ticks[0].Record; r.Revision != c1 || !r.Pinned || e.image("api") != "nginx:1.0" {
		t.Fatalf("tick undid the rollback: %+v, image %s", r, e.image("api"))
	}
	// So does a plain sync.
	if rec := e.sync(app, SyncOptions{Prune: true, Timeout: app.Timeout}); rec.Revision != c1 || !rec.Pinned {
		t.Fatalf("sync while pinned = %+v", rec)
	}

	if released, err := e.s.Release(e.ctx, app); err != nil || !released {
		t.Fatalf("release: %v %v", released, err)
	}
	watchUntil(t, e, app, func(tk Tick) bool { return tk.Record.Revision == c2 && tk.Record.Result == Succeeded })
	if e.image("api") != "nginx:2.0" {
		t.Fatal("release did not bring the head back")
	}

	// Explicit target, abbreviated; then a new commit releases the pin.
	if rec, err := e.s.Rollback(e.ctx, app, c1[:10]); err != nil || rec.Revision != c1 {
		t.Fatalf("rollback --to: %+v %v", rec, err)
	}
	c3 := e.commit("bump", map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:3.0")})
	ticks = watchUntil(t, e, app, func(tk Tick) bool { return tk.Err == nil })
	if ticks[0].Record.Revision != c1 {
		t.Fatalf("without releasePinOnNewCommit the commit was applied: %+v", ticks[0].Record)
	}
	app.ReleasePinOnNewCommit = true
	watchUntil(t, e, app, func(tk Tick) bool { return tk.Record.Revision == c3 && tk.Record.Result == Succeeded })
	st, err = e.s.Status(e.ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	if st.Pin != nil || e.image("api") != "nginx:3.0" {
		t.Fatalf("pin = %+v, image %s", st.Pin, e.image("api"))
	}
	if _, err := e.s.Rollback(e.ctx, app, "0123456789abcdef"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown revision: %v", err)
	}
}

// TestRevertPRHook: RevertPR hands the files to restore to the hook.
func TestRevertPRHook(t *testing.T) {
	e := newEnv(t, map[string]string{
		"app/api.yaml":   deploymentYAML("api", "nginx:1.0"),
		"other/x.yaml":   configMapYAML("x", nil),
		"app/extra.yaml": configMapYAML("gone-later", nil),
	})
	app := e.app("revert", "app")
	c1 := e.head()
	e.commit("bump", map[string]string{"app/api.yaml": deploymentYAML("api", "nginx:2.0"), "other/x.yaml": configMapYAML("y", nil), "app/new.yaml": configMapYAML("new", nil)}, "app/extra.yaml")

	if _, err := e.s.RevertPR(e.ctx, app, c1); !errors.Is(err, ErrNoRevertPR) {
		t.Fatalf("without a hook: %v", err)
	}
	var got RevertRequest
	s := e.syncer(Options{RevertPR: func(_ context.Context, req RevertRequest) (string, error) {
		got = req
		return "https://example.com/pr/1", nil
	}})
	url, err := s.RevertPR(e.ctx, app, c1[:12])
	if err != nil || url != "https://example.com/pr/1" {
		t.Fatal(url, err)
	}
	if got.To != c1 || got.Head != e.head() || len(got.Files) != 2 || !strings.Contains(string(got.Files["app/api.yaml"]), "nginx:1.0") ||
		got.Files["app/extra.yaml"] == nil || len(got.Deleted) != 1 || got.Deleted[0] != "app/new.yaml" || !strings.Contains(got.Title, c1[:12]) {
		t.Fatalf("request = %+v", got)
	}
}
