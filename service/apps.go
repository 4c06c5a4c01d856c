package service

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferrygitops/ferry/cluster"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/server"
)

// watch is one app being kept in sync.
type watch struct {
	app     deploy.App
	syncer  *deploy.Syncer
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	syncing atomic.Bool // a webhook's sync runs
}

// watchApps keeps the apps of a repository in sync until ctx ends: every
// sync interval, and at once when refresh says the base branch moved, it
// reads the App documents at the branch head again, starts a watch for
// each new or edited app and stops those of apps removed. On refresh it
// also syncs the apps it did not just start. It returns once every watch
// and sync it started has ended.
func (s *Service) watchApps(ctx context.Context, r *repo, refresh <-chan string) {
	log := s.log.With("repo", r.url)
	watches := map[string]*watch{}
	var wg sync.WaitGroup
	stop := func(name string) {
		w := watches[name]
		w.cancel()
		<-w.done
		delete(watches, name)
		s.release(r, name)
		log.Debug("app watch stopped", "app", name)
	}
	defer func() {
		for name := range watches {
			stop(name)
		}
		wg.Wait()
		r.mu.Lock()
		r.apps, r.appsRead = nil, false
		r.mu.Unlock()
	}()
	dir := filepath.Join(s.tmp, "apps-"+strconv.Itoa(r.i))
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		reason := ""
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case reason = <-refresh:
		}
		found, head, err := deploy.ReadApps(ctx, r.opts.URL, r.opts.Branch, deploy.Options{WorkDir: dir, GitCredentials: &s.creds, GitDepth: 1})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Keep the apps as they are: a failed read is no reason to
			// stop watching them.
			log.Error("reading apps", "error", err)
			s.events.Add("sync", r.url+": reading apps failed: "+err.Error(), true)
		default:
			log.Debug("apps read", "revision", short(head), "apps", len(found))
			started := s.reconcile(ctx, r, found, watches, stop)
			if reason != "" {
				for name, w := range watches {
					if started[name] || !w.syncing.CompareAndSwap(false, true) {
						continue
					}
					log.Debug("syncing at once", "app", name, "reason", reason)
					wg.Go(func() {
						defer w.syncing.Store(false)
						w.syncer.SyncNow(w.ctx, w.app)
					})
				}
			}
		}
		r.mu.Lock()
		r.appsRead = true
		r.mu.Unlock()
		timer.Reset(s.syncInterval)
	}
}

// reconcile makes the watches those of apps: it stops the watches of apps
// removed or edited and starts watches for new and edited apps, and
// returns the names of those it started.
func (s *Service) reconcile(ctx context.Context, r *repo, apps []deploy.App, watches map[string]*watch, stop func(string)) map[string]bool {
	log := s.log.With("repo", r.url)
	want := map[string]deploy.App{}
	for _, app := range apps {
		if c := s.cfg.Sync.Cluster; c != "" {
			if app.Context != "" && app.Context != c || app.Server != "" && app.Server != cluster.InClusterServer {
				log.Debug("app left to the Ferry of its cluster", "app", app.Name, "context", app.Context, "server", app.Server, "this cluster", c)
				continue
			}
			app.Context, app.Server = "", ""
		}
		if other := s.claim(r, app.Name); other != nil {
			log.Error("app not synced: another repository has an app of that name", "app", app.Name, "other", other.url)
			s.events.Add("sync", fmt.Sprintf("%s: app %s not synced: %s has an app of that name", r.url, app.Name, other.url), true)
			continue
		}
		want[app.Name] = app
	}
	for name, w := range watches {
		if app, ok := want[name]; !ok || !reflect.DeepEqual(app, w.app) {
			stop(name)
		}
	}
	started := map[string]bool{}
	for name, app := range want {
		if _, ok := watches[name]; ok {
			continue
		}
		syncer, err := s.syncerFor(cluster.Destination{Context: app.Context, Server: app.Server})
		if err != nil {
			s.release(r, name)
			log.Error("app not synced: its cluster is not reachable", "app", name, "context", app.Context, "server", app.Server, "error", err)
			s.events.Add("sync", fmt.Sprintf("%s: %v", name, err), true)
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &watch{app: app, syncer: syncer, ctx: wctx, cancel: cancel, done: make(chan struct{})}
		watches[name] = w
		started[name] = true
		log.Debug("app watch started", "app", name, "path", app.Path, "namespace", app.Namespace, "context", app.Context)
		go func() {
			defer close(w.done)
			if err := syncer.Watch(wctx, app, s.syncInterval); err != nil {
				log.Error("app not synced", "app", name, "error", err)
				s.events.Add("sync", fmt.Sprintf("%s: %v", name, err), true)
			}
		}()
	}
	list := make([]deploy.App, 0, len(watches))
	for _, w := range watches {
		list = append(list, w.app)
	}
	r.mu.Lock()
	r.apps = list
	r.mu.Unlock()
	return started
}

// claim records that the app name is r's and returns nil, or returns the
// other repository that has an app of that name: names are unique across
// the service, as their leases and records in the cluster are.
func (s *Service) claim(r *repo, name string) *repo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.claims[name]; ok && other != r {
		return other
	}
	s.claims[name] = r
	return nil
}

// release forgets an app that is no longer watched.
func (s *Service) release(r *repo, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claims[name] == r {
		delete(s.claims, name)
		delete(s.appStat, name)
	}
}

// syncerFor returns the Syncer of a destination (a context, resolved as
// the sync commands resolve it, or a server URL), creating it on first
// use: each app is applied to its own cluster, never to another. Its git
// credentials are every repository's, each for its host only.
func (s *Service) syncerFor(dest cluster.Destination) (*deploy.Syncer, error) {
	if dest.Context == "" && dest.Server == "" {
		dest.Context = s.cfg.Sync.Context
	}
	key := dest.Context + "|" + dest.Server
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if sy, ok := s.syncers[key]; ok {
		return sy, nil
	}
	restCfg, resolved, err := cluster.Resolve(cluster.Options{Kubeconfig: s.cfg.Sync.Kubeconfig, Aliases: s.cfg.Sync.ContextMap}, dest)
	if err != nil {
		return nil, err
	}
	s.log.Debug("cluster", "context", dest.Context, "server", dest.Server, "resolved", resolved.Context, "how", resolved.How)
	sy, err := deploy.New(restCfg, deploy.Options{
		WorkDir:        filepath.Join(s.tmp, "sync", fmt.Sprintf("cluster-%d", len(s.syncers))),
		ParseCache:     true, // every round renders every app again
		GitCredentials: &s.creds,
		Namespace:      s.cfg.Sync.Namespace,
		Log:            s.log,
		OnTick:         s.onTick,
		Secrets:        s.cfg.Sync.Secrets.deployOptions(),
	})
	if err != nil {
		return nil, err
	}
	if s.syncers == nil {
		s.syncers = map[string]*deploy.Syncer{}
	}
	s.syncers[key] = sy
	return sy, nil
}

func (s *Service) closeSyncers() {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for _, sy := range s.syncers {
		_ = sy.Close()
	}
}

// onTick records a sync round for the status page, metrics and events,
// reports it to GitHub and kicks the promotions.
func (s *Service) onTick(t deploy.Tick) {
	defer s.reportSync(t)
	rec := t.Record
	result := string(rec.Result)
	if t.Err != nil {
		result = "Failed"
	}
	st := server.AppStatus{Name: t.App, Revision: rec.Revision, Result: result, Reason: string(rec.Reason), Synced: t.Synced, Time: rec.Finished, Pinned: rec.Pinned}
	if t.Err != nil {
		st.Message = t.Err.Error()
	} else if len(t.Drifted) > 0 {
		st.Message = fmt.Sprintf("%d objects drifted", len(t.Drifted))
	}
	s.metrics.ObserveSync(t.App, result, rec.Finished.Sub(rec.Started), len(t.Drifted) > 0)
	if t.Err != nil || rec.Counts.Changed() {
		s.events.Add("sync", fmt.Sprintf("%s: %s at %s", t.App, result, short(rec.Revision)), t.Err != nil)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.claims[t.App]; ok {
		st.Repo = r.url
		s.appStat[t.App] = st
	}
}

func short(rev string) string { return gitrepo.ShortRevision(rev) }
