package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/server"
)

// LocalOptions configure `ferry ui`: one person, one repository, the
// kubeconfig's own credentials.
type LocalOptions struct {
	Config   *rest.Config // the kubeconfig's; syncs, diffs and reviews use it
	RepoURL  string
	Branch   string        // default main
	Listen   string        // default 127.0.0.1:8081
	Interval time.Duration // how often apps and their state are read again; default 10s
	// Namespace holds the apps' records (deploy.Options.Namespace) and is
	// where SubjectAccessReviews ask; default deploy.DefaultNamespace().
	Namespace string
	Log       *slog.Logger
	// Ready, if set, receives the address once the UI listens.
	Ready func(addr string)
}

// Local is the Backend of `ferry ui`: the apps of one repository's .ferry,
// read from git again every interval, and one Syncer acting with the
// kubeconfig's credentials (the cluster authorizes every call). It has no
// bump loop: Scan is not available and the images page stays empty.
type Local struct {
	opts   LocalOptions
	syncer *deploy.Syncer
	work   string
	events *server.EventLog

	mu   sync.Mutex
	apps []deploy.App
	stat map[string]server.AppStatus
}

var _ Backend = (*Local)(nil)

// NewLocal reads the apps once and returns the backend; Close removes its
// clones.
func NewLocal(ctx context.Context, opts LocalOptions) (*Local, error) {
	opts.Branch = cmp.Or(opts.Branch, "main")
	opts.Interval = cmp.Or(opts.Interval, 10*time.Second)
	opts.Namespace = cmp.Or(opts.Namespace, deploy.DefaultNamespace())
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	work, err := os.MkdirTemp("", "ferry-ui-")
	if err != nil {
		return nil, err
	}
	sy, err := deploy.New(opts.Config, deploy.Options{WorkDir: filepath.Join(work, "sync"), Namespace: opts.Namespace, Log: opts.Log})
	if err != nil {
		os.RemoveAll(work)
		return nil, err
	}
	l := &Local{opts: opts, syncer: sy, work: work, events: server.NewEventLog(server.DefaultEventLogSize), stat: map[string]server.AppStatus{}}
	if err := l.read(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Close removes the clones.
func (l *Local) Close() error {
	_ = l.syncer.Close()
	return os.RemoveAll(l.work)
}

// read reads the apps and each one's state from the cluster.
func (l *Local) read(ctx context.Context) error {
	apps, _, err := deploy.ReadApps(ctx, l.opts.RepoURL, l.opts.Branch, deploy.Options{WorkDir: filepath.Join(l.work, "apps"), GitDepth: 1})
	if err != nil {
		return fmt.Errorf("reading the apps of %s: %w", l.opts.RepoURL, err)
	}
	l.mu.Lock()
	l.apps = apps
	l.mu.Unlock()
	for _, a := range apps {
		l.readState(ctx, a)
	}
	return nil
}

// readState records what the cluster knows of app.
func (l *Local) readState(ctx context.Context, app deploy.App) {
	st, err := l.syncer.Status(ctx, app)
	as := server.AppStatus{Name: app.Name, Repo: l.opts.RepoURL, Result: "pending", Revision: st.Revision, Pinned: st.Pin != nil}
	switch {
	case err != nil:
		as.Result, as.Message = "Unknown", err.Error()
	case st.Last != nil:
		as.Result, as.Time, as.Message = string(st.Last.Result), st.Last.Finished, st.Last.Error
	}
	l.mu.Lock()
	l.stat[app.Name] = as
	l.mu.Unlock()
}

func (l *Local) Snapshot() server.Snapshot {
	l.mu.Lock()
	defer l.mu.Unlock()
	snap := server.Snapshot{Repos: []server.RepoStatus{{URL: l.opts.RepoURL, Branch: l.opts.Branch}}, Events: l.events.Recent()}
	for _, a := range l.apps {
		if st, ok := l.stat[a.Name]; ok {
			snap.Apps = append(snap.Apps, st)
		} else {
			snap.Apps = append(snap.Apps, server.AppStatus{Name: a.Name, Repo: l.opts.RepoURL, Result: "pending"})
		}
	}
	return snap
}

func (l *Local) Apps() []deploy.App {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]deploy.App(nil), l.apps...)
}

func (l *Local) app(name string) (deploy.App, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.apps {
		if a.Name == name {
			return a, nil
		}
	}
	return deploy.App{}, fmt.Errorf("%w: %s", ErrNoApp, name)
}

func (l *Local) AppStatus(ctx context.Context, name string) (deploy.AppStatus, error) {
	app, err := l.app(name)
	if err != nil {
		return deploy.AppStatus{}, err
	}
	return l.syncer.Status(ctx, app)
}

func (l *Local) Diff(ctx context.Context, name string) (deploy.DiffResult, error) {
	app, err := l.app(name)
	if err != nil {
		return deploy.DiffResult{}, err
	}
	res, _, err := l.syncer.DiffApp(ctx, app) // a pinned app is compared with its pin
	return res, err
}

func (l *Local) Sync(ctx context.Context, name string) (deploy.Record, error) {
	app, err := l.app(name)
	if err != nil {
		return deploy.Record{}, err
	}
	defer l.readState(ctx, app)
	return l.syncer.Sync(ctx, app, deploy.SyncOptions{Prune: app.Prune, AllowEmpty: app.AllowEmpty, Timeout: app.Timeout, Trigger: "ui"})
}

func (l *Local) Rollback(ctx context.Context, name, revision string) (deploy.Record, error) {
	app, err := l.app(name)
	if err != nil {
		return deploy.Record{}, err
	}
	defer l.readState(ctx, app)
	return l.syncer.Rollback(ctx, app, revision)
}

func (l *Local) Release(ctx context.Context, name string) (bool, error) {
	app, err := l.app(name)
	if err != nil {
		return false, err
	}
	defer l.readState(ctx, app)
	return l.syncer.Release(ctx, app)
}

func (l *Local) Scan(context.Context) error {
	return fmt.Errorf("%w: `ferry ui` does not scan registries; `ferry run` and `ferry bump` do", ErrNotAvailable)
}

// ServeLocal is `ferry ui`: the UI of one repository's apps on
// opts.Listen (loopback by default), until ctx ends. Requests without a
// token act with the kubeconfig's credentials; a request with a token is
// reviewed and authorized by the cluster as under `ferry run`.
func ServeLocal(ctx context.Context, opts LocalOptions) error {
	l, err := NewLocal(ctx, opts)
	if err != nil {
		return err
	}
	defer l.Close()
	cs, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return err
	}
	u, err := New(Options{Backend: l, Kube: cs, Namespace: l.opts.Namespace, Local: true, Events: l.events, Log: l.opts.Log})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	for _, p := range Routes() {
		mux.Handle(p, u.Handler())
	}
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cmp.Or(opts.Listen, "127.0.0.1:8081"))
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { u.Run(ctx) })
	wg.Go(func() {
		t := time.NewTicker(l.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := l.read(ctx); err != nil && ctx.Err() == nil {
					l.opts.Log.Error("reading the apps", "error", err)
				}
			}
		}
	})
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = hs.Shutdown(sctx)
		c()
		<-errc
		if err != nil {
			hs.Close()
		}
	}
	cancel()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}
