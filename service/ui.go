package service

import (
	"cmp"
	"context"
	"fmt"
	"net/http"

	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/cluster"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/server"
	"github.com/ferrygitops/ferry/ui"
)

// uiBackend is the web UI's view of the service (ui.Backend): the status
// page's snapshot, the apps its watches keep in sync, and their Syncers.
type uiBackend struct{ s *Service }

var _ ui.Backend = uiBackend{}

// newUI builds the web UI of the config's ui section, or nil when it is
// off. TokenReviews and SubjectAccessReviews go to the sync cluster (the
// kubeconfig's default context, in-cluster in a pod).
func (s *Service) newUI() (*ui.UI, error) {
	if !s.cfg.UI.Enabled {
		return nil, nil
	}
	restCfg, _, err := cluster.Resolve(cluster.Options{Kubeconfig: s.cfg.Sync.Kubeconfig, Aliases: s.cfg.Sync.ContextMap}, cluster.Destination{Context: s.cfg.Sync.Context})
	if err != nil {
		return nil, configErrorf("ui needs a cluster to check sign-ins: %w", err)
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return nil, configErrorf("ui: %w", err)
	}
	return ui.New(ui.Options{
		Backend:       uiBackend{s},
		Kube:          cs,
		Namespace:     cmp.Or(s.cfg.UI.Namespace, s.cfg.Sync.Namespace, deploy.DefaultNamespace()),
		AnonymousRead: s.cfg.UI.AnonymousRead,
		SecureCookies: s.cfg.UI.SecureCookies,
		Events:        s.events,
		Log:           s.log.With("component", "ui"),
		Now:           s.now,
	})
}

func (b uiBackend) Snapshot() server.Snapshot { return b.s.snapshot() }

func (b uiBackend) Apps() []deploy.App {
	var out []deploy.App
	for _, r := range b.s.repos {
		r.mu.Lock()
		out = append(out, r.apps...)
		r.mu.Unlock()
	}
	return out
}

// app finds a watched app and its Syncer.
func (b uiBackend) app(name string) (deploy.App, *deploy.Syncer, error) {
	for _, r := range b.s.repos {
		r.mu.Lock()
		for _, a := range r.apps {
			if a.Name == name {
				r.mu.Unlock()
				sy, err := b.s.syncerFor(cluster.Destination{Context: a.Context, Server: a.Server})
				return a, sy, err
			}
		}
		r.mu.Unlock()
	}
	if !b.s.syncOn {
		return deploy.App{}, nil, fmt.Errorf("%w: %s (sync is off in this Ferry: sync.enabled)", ui.ErrNoApp, name)
	}
	return deploy.App{}, nil, fmt.Errorf("%w: %s", ui.ErrNoApp, name)
}

func (b uiBackend) AppStatus(ctx context.Context, name string) (deploy.AppStatus, error) {
	app, sy, err := b.app(name)
	if err != nil {
		return deploy.AppStatus{}, err
	}
	return sy.Status(ctx, app)
}

func (b uiBackend) Diff(ctx context.Context, name string) (deploy.DiffResult, error) {
	app, sy, err := b.app(name)
	if err != nil {
		return deploy.DiffResult{}, err
	}
	res, _, err := sy.DiffApp(ctx, app) // a pinned app is compared with its pin
	return res, err
}

func (b uiBackend) Sync(ctx context.Context, name string) (deploy.Record, error) {
	app, sy, err := b.app(name)
	if err != nil {
		return deploy.Record{}, err
	}
	rec, err := sy.Sync(ctx, app, deploy.SyncOptions{Prune: app.Prune, AllowEmpty: app.AllowEmpty, Timeout: app.Timeout, Trigger: "ui"})
	b.s.onTick(deploy.Tick{App: name, Time: b.s.now(), Record: rec, Err: err})
	return rec, err
}

func (b uiBackend) Rollback(ctx context.Context, name, revision string) (deploy.Record, error) {
	app, sy, err := b.app(name)
	if err != nil {
		return deploy.Record{}, err
	}
	rec, err := sy.Rollback(ctx, app, revision)
	if rec.ID != "" || err == nil {
		b.s.onTick(deploy.Tick{App: name, Time: b.s.now(), Record: rec, Err: err})
	}
	return rec, err
}

func (b uiBackend) Release(ctx context.Context, name string) (bool, error) {
	app, sy, err := b.app(name)
	if err != nil {
		return false, err
	}
	released, err := sy.Release(ctx, app)
	if err == nil {
		b.s.mu.Lock()
		if st, ok := b.s.appStat[name]; ok {
			st.Pinned = false
			b.s.appStat[name] = st
		}
		b.s.mu.Unlock()
	}
	return released, err
}

func (b uiBackend) Scan(context.Context) error {
	t := b.s.currentTerm()
	if t == nil {
		return fmt.Errorf("%w: this replica does not lead; the leader scans", ui.ErrNotAvailable)
	}
	for _, l := range t.loops {
		l.Trigger("ui: scan now")
	}
	return nil
}

// uiRoutes mounts the UI on the server's mux.
func uiRoutes(u *ui.UI) map[string]http.Handler {
	if u == nil {
		return nil
	}
	out := map[string]http.Handler{}
	for _, p := range ui.Routes() {
		out[p] = u.Handler()
	}
	return out
}
