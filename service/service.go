package service

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/registry"
	"github.com/ferrygitops/ferry/server"
)

// ConfigError is an error in the configuration (the file, or the flags
// applied to it): `ferry run` exits 2 on it.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErrorf(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// Options are what a Service needs beyond its Config.
type Options struct {
	Version string              // shown on the status page and in ferry_build_info
	Log     *slog.Logger        // default: discard
	Now     func() time.Time    // default time.Now
	Getenv  func(string) string // GITHUB_TOKEN when no token file is named; default os.Getenv

	// Leader election timing; zero values: 15s, 10s and 2s, client-go's
	// usual figures.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Service is `ferry run`: bump cycles on a schedule and on webhooks, the
// apps' syncs, and the HTTP server, optionally only while it holds a Lease.
type Service struct {
	cfg     *Config
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	listen  string
	sched   bot.Schedule
	reg     *registry.Client
	repos   []bot.BumpOptions
	metrics *server.Metrics
	events  *server.EventLog
	loop    *bot.Loop
	started time.Time

	webhooks struct{ github, ecr, registry string }

	// syncers holds one Syncer per cluster: the apps' destination contexts
	// ("" is the configured kubeconfig context, or in-cluster).
	syncOn       bool
	syncInterval time.Duration
	syncDir      string
	syncMu       sync.Mutex
	syncers      map[string]*deploy.Syncer
	syncing      sync.Map // app name -> struct{}: a webhook-triggered round is running

	// leading: this replica holds the Lease.
	leading atomic.Bool

	tmp string

	mu      sync.Mutex
	ready   bool
	last    *server.CycleInfo
	bump    *bot.BumpResult
	apps    []deploy.App
	appStat map[string]server.AppStatus
}

// New builds the Service of cfg (as LoadConfig returns it, with any
// overrides applied): every repository's credentials are read, every
// webhook secret too. Configuration errors are *ConfigError.
func New(cfg *Config, opts Options) (*Service, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	opts.LeaseDuration = cmp.Or(opts.LeaseDuration, 15*time.Second)
	opts.RenewDeadline = cmp.Or(opts.RenewDeadline, 10*time.Second)
	opts.RetryPeriod = cmp.Or(opts.RetryPeriod, 2*time.Second)

	interval := time.Duration(0)
	if cfg.Schedule.Cron == "" {
		interval = duration(cfg.Schedule.Interval, 5*time.Minute)
	}
	sched, err := bot.ParseSchedule(interval, cfg.Schedule.Cron, duration(cfg.Schedule.Jitter, 30*time.Second))
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	s := &Service{cfg: cfg, opts: opts, log: opts.Log, now: opts.Now, listen: cmp.Or(cfg.Listen, ":8080"), sched: sched,
		metrics: server.NewMetrics(), events: server.NewEventLog(server.DefaultEventLogSize), started: opts.Now()}
	s.metrics.SetVersion(opts.Version)
	rps := cfg.Registry.RPS
	if rps == 0 {
		rps = 20
	}
	s.reg = registry.New(registry.Options{
		Limits:   registry.Limits{RatePerSecond: rps, Concurrency: cfg.Registry.Concurrency, Timeout: 30 * time.Second, MaxRetries: 5},
		Insecure: cfg.Registry.Insecure,
		PageSize: 1000,
	})
	s.reg.Transport().OnRequest = s.metrics.RegistryRequest

	for i, rc := range cfg.Repos {
		bo, err := BumpOptions(rc, false, opts.Getenv)
		if err != nil {
			return nil, configErrorf("repos[%d]: %w", i, err)
		}
		bo.Depth = 50
		s.repos = append(s.repos, bo)
	}
	secret := func(path string) (string, error) {
		if path == "" {
			return "", nil
		}
		v, err := ReadSecretFile(path)
		if err != nil {
			return "", &ConfigError{Err: err}
		}
		return v, nil
	}
	if s.webhooks.github, err = secret(cfg.Webhooks.GitHubSecretFile); err != nil {
		return nil, err
	}
	if s.webhooks.ecr, err = secret(cfg.Webhooks.ECRTokenFile); err != nil {
		return nil, err
	}
	if s.webhooks.registry, err = secret(cfg.Webhooks.RegistryTokenFile); err != nil {
		return nil, err
	}
	return s, nil
}

// Listen is the address the HTTP server listens on.
func (s *Service) Listen() string { return s.listen }

// Repos is the number of repositories the service bumps.
func (s *Service) Repos() int { return len(s.repos) }

// Run serves and works until ctx ends, then stops: the cycle in progress
// may finish its current step. It returns nil after a shutdown, an error
// when the server or leader election cannot start.
func (s *Service) Run(ctx context.Context) error {
	tmp, err := os.MkdirTemp("", "ferry-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	s.tmp = tmp
	for i := range s.repos {
		s.repos[i].Dir = cmp.Or(s.repos[i].Dir, filepath.Join(tmp, "repo-"+strconv.Itoa(i)))
	}

	s.loop = &bot.Loop{Schedule: s.sched, Cycle: s.cycle, Log: s.log}
	if s.cfg.Sync.Enabled {
		s.syncOn = true
		s.syncInterval = duration(s.cfg.Sync.Interval, time.Minute)
		s.syncDir = filepath.Join(tmp, "sync")
		// Fail early on a cluster that cannot be reached at all.
		if _, err := s.syncerFor(""); err != nil {
			return configErrorf("sync needs a cluster: %w", err)
		}
		defer s.closeSyncers()
	}
	srv := server.New(server.Options{
		Addr:          s.listen,
		GitHubSecret:  []byte(s.webhooks.github),
		ECRToken:      s.webhooks.ecr,
		RegistryToken: s.webhooks.registry,
		BaseBranch:    s.repos[0].Branch,
		Trigger:       s.trigger,
		Ready:         s.isReady,
		Status:        s.snapshot,
		Metrics:       s.metrics,
		Events:        s.events,
		Log:           s.log,
	})

	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe(ctx) }()
	if s.cfg.LeaderElection.Enabled {
		go func() { errc <- s.runAsLeader(ctx) }()
	} else {
		go func() { errc <- s.work(ctx) }()
	}
	err = <-errc
	if err == nil {
		err = <-errc
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// runAsLeader runs the loop only while this replica holds the Lease.
func (s *Service) runAsLeader(ctx context.Context) error {
	restCfg, err := deploy.RESTConfig(s.cfg.Sync.Kubeconfig, s.cfg.Sync.Context)
	if err != nil {
		return configErrorf("leader election needs a cluster: %w", err)
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	ns := cmp.Or(s.cfg.LeaderElection.Namespace, podNamespace())
	name := cmp.Or(s.cfg.LeaderElection.Name, "ferry")
	host, _ := os.Hostname()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := host + "-" + hex.EncodeToString(suffix)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			ReleaseOnCancel: true,
			LeaseDuration:   s.opts.LeaseDuration,
			RenewDeadline:   s.opts.RenewDeadline,
			RetryPeriod:     s.opts.RetryPeriod,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					s.leading.Store(true)
					defer s.leading.Store(false)
					s.log.Info("leading", "lease", ns+"/"+name, "identity", id)
					s.events.Add("leader", "became the leader ("+id+")", false)
					_ = s.work(lctx)
				},
				OnStoppedLeading: func() {
					s.log.Info("not leading", "identity", id)
				},
			},
		})
	}
	return nil
}

func podNamespace() string {
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "default"
}

// work is what the leader does: the bump loop and, with sync on, a Watch
// per app of every repository.
func (s *Service) work(ctx context.Context) error {
	if s.syncOn {
		s.mu.Lock()
		s.apps = nil
		s.mu.Unlock()
		var apps []deploy.App
		for _, r := range s.repos {
			found, _, err := deploy.ReadApps(ctx, r.URL, r.Branch, deploy.Options{GitAuth: r.Auth})
			if err != nil {
				s.log.Error("reading apps", "repo", r.URL, "error", err)
				s.events.Add("sync", "reading apps failed: "+err.Error(), true)
				continue
			}
			apps = append(apps, found...)
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, app := range apps {
			if c := s.cfg.Sync.Cluster; c != "" {
				if app.Context != "" && app.Context != c {
					s.log.Info("app left to the Ferry of its cluster", "app", app.Name, "context", app.Context, "this cluster", c)
					continue
				}
				app.Context = ""
			}
			syncer, err := s.syncerFor(app.Context)
			if err != nil {
				s.log.Error("app not synced: its cluster is not reachable", "app", app.Name, "context", app.Context, "error", err)
				s.events.Add("sync", fmt.Sprintf("%s: cluster context %q: %v", app.Name, app.Context, err), true)
				continue
			}
			s.mu.Lock()
			s.apps = append(s.apps, app)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = syncer.Watch(ctx, app, s.syncInterval)
			}()
		}
	}
	return s.loop.Run(ctx)
}

// trigger turns webhook events into cycles: an image push runs a bump
// cycle; a push to the base branch (a merged pull request) also syncs the
// apps at once and refreshes the pull requests.
func (s *Service) trigger(ev server.Event) {
	if ev.Kind == server.KindImage && !s.governed(ev.Repository) {
		s.events.Add(ev.Source, "ignored "+ev.Summary()+": no policy governs that image", false)
		return
	}
	s.loop.Trigger(ev.Source + ": " + ev.Summary())
	if !s.syncOn || (ev.Kind != server.KindPush && ev.Kind != server.KindMerged) {
		return
	}
	s.mu.Lock()
	apps := append([]deploy.App(nil), s.apps...)
	s.mu.Unlock()
	for _, app := range apps {
		if _, running := s.syncing.LoadOrStore(app.Name, struct{}{}); running {
			continue
		}
		syncer, err := s.syncerFor(app.Context)
		if err != nil {
			s.syncing.Delete(app.Name)
			continue
		}
		go func() {
			defer s.syncing.Delete(app.Name)
			syncer.SyncNow(context.Background(), app)
		}()
	}
}

// governed reports whether a pushed repository is the image of a policy of
// the last cycle (before the first cycle, every push counts): a busy
// registry's pushes of other images do not start cycles.
func (s *Service) governed(repository string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bump == nil || s.bump.Scan == nil || s.bump.Scan.Set == nil {
		return true
	}
	want, err := image.NormalizeRepository(repository)
	if err != nil {
		return false
	}
	for _, p := range s.bump.Scan.Set.Policies {
		if p.Image == want {
			return true
		}
	}
	return false
}

// syncerFor returns the Syncer of a destination context, creating it on
// first use: each app is applied to its own cluster, never to another.
func (s *Service) syncerFor(context string) (*deploy.Syncer, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if sy, ok := s.syncers[context]; ok {
		return sy, nil
	}
	restCfg, err := deploy.RESTConfig(s.cfg.Sync.Kubeconfig, cmp.Or(context, s.cfg.Sync.Context))
	if err != nil {
		return nil, err
	}
	sy, err := deploy.New(restCfg, deploy.Options{
		WorkDir: filepath.Join(s.syncDir, "context-"+cmp.Or(context, "default")),
		GitAuth: s.repos[0].Auth,
		Log:     s.log,
		OnTick:  s.onTick,
	})
	if err != nil {
		return nil, err
	}
	if s.syncers == nil {
		s.syncers = map[string]*deploy.Syncer{}
	}
	s.syncers[context] = sy
	return sy, nil
}

func (s *Service) closeSyncers() {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for _, sy := range s.syncers {
		_ = sy.Close()
	}
}

// onTick records a sync round for the status page, metrics and events.
func (s *Service) onTick(t deploy.Tick) {
	rec := t.Record
	result := string(rec.Result)
	if t.Err != nil {
		result = "Failed"
	}
	st := server.AppStatus{Name: t.App, Revision: rec.Revision, Result: result, Time: rec.Finished, Pinned: rec.Pinned}
	if t.Err != nil {
		st.Message = t.Err.Error()
	} else if len(t.Drifted) > 0 {
		st.Message = fmt.Sprintf("%d objects drifted", len(t.Drifted))
	}
	s.metrics.ObserveSync(t.App, result, rec.Finished.Sub(rec.Started), len(t.Drifted) > 0)
	if t.Err != nil || rec.Counts.Changed() {
		s.events.Add("sync", fmt.Sprintf("%s: %s at %.12s", t.App, result, rec.Revision), t.Err != nil)
	}
	s.mu.Lock()
	if s.appStat == nil {
		s.appStat = map[string]server.AppStatus{}
	}
	s.appStat[t.App] = st
	s.mu.Unlock()
}

// cycle is one bump cycle over every repository.
func (s *Service) cycle(ctx context.Context, reason string) error {
	start := s.now()
	var errs []error
	var last *bot.BumpResult
	for _, opts := range s.repos {
		opts.Now = s.now()
		opts.Log = s.log
		t0 := time.Now()
		res, err := bot.Bump(ctx, s.reg, opts)
		s.metrics.ObserveBump(res, time.Since(t0))
		switch {
		case err != nil:
			errs = append(errs, err)
			s.events.Add("cycle", "bump failed: "+err.Error(), true)
		default:
			last = res
			for _, gr := range res.Groups {
				if gr.Action != "unchanged" && gr.Action != "up-to-date" && gr.Action != "declined" {
					s.events.Add("bump", fmt.Sprintf("%s: %s %s", gr.Group, gr.Action, gr.Title), gr.Error != "")
				}
			}
			if res.Failed() {
				errs = append(errs, fmt.Errorf("%s: some groups failed", res.Repo))
			}
		}
	}
	err := errors.Join(errs...)
	info := &server.CycleInfo{Time: start, Duration: s.now().Sub(start), Trigger: reason}
	if err != nil {
		info.Error = err.Error()
	}
	s.mu.Lock()
	s.last, s.ready = info, true
	if last != nil {
		s.bump = last
	}
	s.mu.Unlock()
	return err
}

// isReady: the first bump cycle completed, and with sync on, every app
// had its first sync round; a follower (leader election) is ready at once.
func (s *Service) isReady() bool {
	if s.cfg.LeaderElection.Enabled && !s.leading.Load() {
		return true // a follower is ready to take over and serves health and metrics
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return false
	}
	for _, a := range s.apps {
		if _, ok := s.appStat[a.Name]; !ok {
			return false
		}
	}
	return true
}

func (s *Service) snapshot() server.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := server.Snapshot{Version: s.opts.Version, Started: s.started, LastCycle: s.last, Bump: s.bump, Apps: []server.AppStatus{}}
	for _, a := range s.apps {
		st, ok := s.appStat[a.Name]
		if !ok {
			st = server.AppStatus{Name: a.Name, Result: "pending"}
		}
		snap.Apps = append(snap.Apps, st)
	}
	if len(s.repos) > 0 {
		snap.Branch = s.repos[0].Branch
	}
	return snap
}
