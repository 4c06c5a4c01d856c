package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/registry"
	"github.com/ferrygitops/ferry/server"
)

type runFlags struct {
	config             string
	listen             string
	interval, jitter   time.Duration
	cron               string
	leaderElect        bool
	leaseNamespace     string
	leaseName          string
	kubeconfig, kubeCx string
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run --config FILE",
		Short: "Run Ferry as a service: bump on a schedule and on webhooks, serve health, metrics and a status page",
		Long: `Run is the long-running mode (a Deployment): one process that runs the bump cycle of
'ferry bump' for each configured repository on an interval or cron schedule (with jitter),
right away when a webhook says an image was pushed or a pull request was merged, and serves:

  /healthz, /readyz      liveness; ready once the first cycle completed
  /metrics               Prometheus metrics
  /webhooks/ecr          ECR push events from EventBridge (shared-secret header)
  /webhooks/registry     Docker distribution registry notifications (bearer token)
  /webhooks/github       GitHub push and pull_request events (X-Hub-Signature-256)
  /                      a read-only status page (/status.json for scripts)

With leader election on, only the replica holding the Lease runs cycles; the others serve
health and metrics. SIGTERM lets the cycle in progress finish its current step.

Every flag can also be set from the environment: FERRY_<FLAG> with dashes as
underscores (FERRY_LISTEN=:9090). Flags override the config file.`,
		Example: `  ferry run --config /etc/ferry/config.yaml
  FERRY_INTERVAL=2m ferry run --config ferry.yaml --listen :9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd.Flags()); err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			return runService(cmd, g, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", "", "the config file (YAML, kind: RunConfig)")
	fs.StringVar(&f.listen, "listen", "", "HTTP listen address (default :8080)")
	fs.DurationVar(&f.interval, "interval", 0, "time between scheduled cycles (default 5m)")
	fs.StringVar(&f.cron, "cron", "", "cron schedule instead of an interval, e.g. '*/5 * * * *'")
	fs.DurationVar(&f.jitter, "jitter", 0, "random delay added to each scheduled cycle (default 30s)")
	fs.BoolVar(&f.leaderElect, "leader-elect", false, "elect a leader through a Kubernetes Lease (for more than one replica)")
	fs.StringVar(&f.leaseNamespace, "leader-elect-namespace", "", "namespace of the Lease (default: the pod's namespace)")
	fs.StringVar(&f.leaseName, "leader-elect-name", "", "name of the Lease (default: leaderElection.name, else ferry)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig for leader election and sync (default: in-cluster)")
	fs.StringVar(&f.kubeCx, "context", "", "kubeconfig context")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

// flagsFromEnv sets every flag not given on the command line from
// FERRY_<NAME> when that variable is set.
func flagsFromEnv(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		env := "FERRY_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(fl.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", env, err))
			}
		}
	})
	return errors.Join(errs...)
}

// service is the state `ferry run` keeps between cycles, shown by the
// status page.
type service struct {
	g       *globals
	cfg     *runConfig
	reg     *registry.Client
	repos   []bot.BumpOptions
	metrics *server.Metrics
	events  *server.EventLog
	loop    *bot.Loop
	started time.Time

	// syncers holds one Syncer per cluster: the apps' destination contexts
	// ("" is the configured kubeconfig context, or in-cluster).
	syncOn       bool
	syncInterval time.Duration
	syncKube     string // kubeconfig path
	syncCtx      string // default context
	syncDir      string
	syncMu       sync.Mutex
	syncers      map[string]*deploy.Syncer
	syncing      sync.Map // app name -> struct{}: a webhook-triggered round is running

	// elect: leader election is on; leading: this replica holds the Lease.
	elect   bool
	leading atomic.Bool

	mu      sync.Mutex
	ready   bool
	last    *server.CycleInfo
	bump    *bot.BumpResult
	apps    []deploy.App
	appStat map[string]server.AppStatus
}

func runService(cmd *cobra.Command, g *globals, f *runFlags) error {
	ctx := cmd.Context()
	cfg, err := loadRunConfig(f.config)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	// Flags override the file.
	listen := cmp.Or(f.listen, cfg.Listen, ":8080")
	interval := f.interval
	if interval == 0 && f.cron == "" && cfg.Schedule.Cron == "" {
		interval = duration(cfg.Schedule.Interval, 5*time.Minute)
	}
	cronExpr := cmp.Or(f.cron, cfg.Schedule.Cron)
	if f.interval > 0 {
		cronExpr = ""
	}
	jitter := f.jitter
	if jitter == 0 {
		jitter = duration(cfg.Schedule.Jitter, 30*time.Second)
	}
	sched, err := bot.ParseSchedule(interval, cronExpr, jitter)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}

	s := &service{g: g, cfg: cfg, metrics: server.NewMetrics(), events: server.NewEventLog(server.DefaultEventLogSize), started: g.now()}
	s.metrics.SetVersion(buildVersion().Version)
	rf := registryFlags{rps: cfg.Registry.RPS, concurrency: cfg.Registry.Concurrency, insecure: cfg.Registry.Insecure, pageSize: 1000, retries: 5, timeout: 30 * time.Second}
	if rf.rps == 0 {
		rf.rps = 20
	}
	s.reg = rf.client()
	s.reg.Transport().OnRequest = s.metrics.RegistryRequest

	tmp, err := os.MkdirTemp("", "ferry-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for i, rc := range cfg.Repos {
		bf := bumpFlags{url: rc.URL, branch: cmp.Or(rc.Branch, "main"), mode: cmp.Or(rc.Mode, string(bot.ModePullRequest)),
			depth: 50, githubURL: rc.GitHub.URL, githubRepo: rc.GitHub.Repo, githubTokenFile: rc.GitHub.TokenFile,
			appID: rc.GitHub.App.ID, appInstall: rc.GitHub.App.InstallationID, appKeyFile: rc.GitHub.App.PrivateKeyFile,
			gitUser: cmp.Or(rc.Git.Username, "x-access-token"), gitTokenFile: rc.Git.TokenFile, sshKey: rc.Git.SSHKeyFile,
			sshKnownHosts: rc.Git.KnownHostsFile, authorName: rc.Author.Name, authorEmail: rc.Author.Email,
			workdir: cmp.Or(rc.Workdir, filepath.Join(tmp, "repo-"+strconv.Itoa(i)))}
		opts, err := bumpOptions(g, &bf)
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return &exitError{code: exitConfig, err: fmt.Errorf("%s: repos[%d]: %w", f.config, i, ee.err)}
			}
			return err
		}
		s.repos = append(s.repos, opts)
	}

	s.loop = &bot.Loop{Schedule: sched, Cycle: s.cycle, Log: g.log}
	if cfg.Sync.Enabled {
		s.syncOn = true
		s.syncInterval = duration(cfg.Sync.Interval, time.Minute)
		s.syncKube, s.syncCtx = cmp.Or(f.kubeconfig, cfg.Sync.Kubeconfig), cmp.Or(f.kubeCx, cfg.Sync.Context)
		s.syncDir = filepath.Join(tmp, "sync")
		// Fail early on a cluster that cannot be reached at all.
		if _, err := s.syncerFor(""); err != nil {
			return &exitError{code: exitConfig, err: fmt.Errorf("sync needs a cluster: %w", err)}
		}
		defer s.closeSyncers()
	}
	ghSecret, err := webhookSecret(g.log, "github", cfg.Webhooks.GitHubSecretFile)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	ecrToken, err := webhookSecret(g.log, "ecr", cfg.Webhooks.ECRTokenFile)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	regToken, err := webhookSecret(g.log, "registry", cfg.Webhooks.RegistryTokenFile)
	if err != nil {
		return &exitError{code: exitConfig, err: err}
	}
	srv := server.New(server.Options{
		Addr:          listen,
		GitHubSecret:  []byte(ghSecret),
		ECRToken:      ecrToken,
		RegistryToken: regToken,
		BaseBranch:    s.repos[0].Branch,
		Trigger:       s.trigger,
		Ready:         s.isReady,
		Status:        s.snapshot,
		Metrics:       s.metrics,
		Events:        s.events,
		Log:           g.log,
	})

	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe(ctx) }()
	fmt.Fprintf(g.stderr, "ferry: serving on %s; %d repositories; first cycle now\n", listen, len(s.repos))

	leaderElect := f.leaderElect || cfg.LeaderElection.Enabled
	s.elect = leaderElect
	if leaderElect {
		go func() {
			errc <- s.runAsLeader(ctx, f)
		}()
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
func (s *service) runAsLeader(ctx context.Context, f *runFlags) error {
	restCfg, err := kubeConfig(cmp.Or(f.kubeconfig, s.cfg.Sync.Kubeconfig), cmp.Or(f.kubeCx, s.cfg.Sync.Context))
	if err != nil {
		return &exitError{code: exitConfig, err: fmt.Errorf("leader election needs a cluster: %w", err)}
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	ns := cmp.Or(f.leaseNamespace, s.cfg.LeaderElection.Namespace, podNamespace())
	name := cmp.Or(f.leaseName, s.cfg.LeaderElection.Name, "ferry")
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
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					s.leading.Store(true)
					defer s.leading.Store(false)
					s.g.log.Info("leading", "lease", ns+"/"+name, "identity", id)
					s.events.Add("leader", "became the leader ("+id+")", false)
					_ = s.work(lctx)
				},
				OnStoppedLeading: func() {
					s.g.log.Info("not leading", "identity", id)
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

// kubeConfig loads a kubeconfig (and context), or the in-cluster config.
func kubeConfig(path, context string) (*rest.Config, error) {
	if path == "" && context == "" {
		if c, err := rest.InClusterConfig(); err == nil {
			return c, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
}

// work is what the leader does: the bump loop and, with sync on, a Watch
// per app of every repository.
func (s *service) work(ctx context.Context) error {
	if s.syncOn {
		s.mu.Lock()
		s.apps = nil
		s.mu.Unlock()
		var apps []deploy.App
		for _, r := range s.repos {
			found, _, err := deploy.ReadApps(ctx, r.URL, r.Branch, deploy.Options{GitAuth: r.Auth})
			if err != nil {
				s.g.log.Error("reading apps", "repo", r.URL, "error", err)
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
					s.g.log.Info("app left to the Ferry of its cluster", "app", app.Name, "context", app.Context, "this cluster", c)
					continue
				}
				app.Context = ""
			}
			syncer, err := s.syncerFor(app.Context)
			if err != nil {
				s.g.log.Error("app not synced: its cluster is not reachable", "app", app.Name, "context", app.Context, "error", err)
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
func (s *service) trigger(ev server.Event) {
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
func (s *service) governed(repository string) bool {
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
func (s *service) syncerFor(context string) (*deploy.Syncer, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if sy, ok := s.syncers[context]; ok {
		return sy, nil
	}
	restCfg, err := deploy.RESTConfig(s.syncKube, cmp.Or(context, s.syncCtx))
	if err != nil {
		return nil, err
	}
	sy, err := deploy.New(restCfg, deploy.Options{
		WorkDir: filepath.Join(s.syncDir, "context-"+cmp.Or(context, "default")),
		GitAuth: s.repos[0].Auth,
		Log:     s.g.log,
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

func (s *service) closeSyncers() {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	for _, sy := range s.syncers {
		_ = sy.Close()
	}
}

// onTick records a sync round for the status page, metrics and events.
func (s *service) onTick(t deploy.Tick) {
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
func (s *service) cycle(ctx context.Context, reason string) error {
	start := s.g.now()
	var errs []error
	var last *bot.BumpResult
	for _, opts := range s.repos {
		opts.Now = s.g.now()
		opts.Log = s.g.log
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
	info := &server.CycleInfo{Time: start, Duration: s.g.now().Sub(start), Trigger: reason}
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
func (s *service) isReady() bool {
	if s.elect && !s.leading.Load() {
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

func (s *service) snapshot() server.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := server.Snapshot{Version: buildVersion().Version, Started: s.started, LastCycle: s.last, Bump: s.bump, Apps: []server.AppStatus{}}
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
