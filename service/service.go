package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ferrygitops/ferry/internal/scratch"

	"github.com/ferrygitops/ferry/cluster"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
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

// DefaultConcurrency is how many repositories' cycles run at once when the
// Config does not say.
const DefaultConcurrency = 4

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

// Service is `ferry run`: per repository, bump cycles on the repository's
// schedule and on the webhooks that concern it, and a watch of each of its
// apps; the HTTP server; optionally all of it only while the replica holds
// a Lease.
//
// The work happens in terms: one term is one spell of leadership (or,
// without leader election, the whole run). A term's context ends when the
// lease is lost or the service shuts down, and every goroutine of the
// term — cycles (which may finish their current step within the loop's
// grace period), watches, webhook-triggered syncs — ends before the next
// term starts and before Run returns.
type Service struct {
	cfg     *Config
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	listen  string
	reg     *registry.Client
	repos   []*repo
	creds   gitrepo.Credentials // every repository's, each bound to its host
	cycles  chan struct{}       // a semaphore: Config.Concurrency cycles at once
	metrics *server.Metrics
	events  *server.EventLog
	started time.Time
	elected bool // leader election is on

	webhooks struct{ github, ecr, registry string }

	syncOn       bool
	syncInterval time.Duration
	tmp          string // removed when Run returns
	syncMu       sync.Mutex
	syncers      map[string]*deploy.Syncer // by destination context

	// termMu is held by a term's work: terms never overlap.
	termMu sync.Mutex

	mu      sync.Mutex
	term    *term                       // nil while not working (a standby, or stopped)
	claims  map[string]*repo            // app name → the repository whose app it is
	appStat map[string]server.AppStatus // app name → its last sync round
	// reported: app name → the revision and outcome last reported to GitHub.
	reported map[string]string
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
	if len(cfg.Repos) == 0 {
		return nil, configErrorf("repos: name at least one manifest repository")
	}

	s := &Service{cfg: cfg, opts: opts, log: opts.Log, now: opts.Now, listen: cmp.Or(cfg.Listen, ":8080"),
		cycles:  make(chan struct{}, cmp.Or(cfg.Concurrency, DefaultConcurrency)),
		metrics: server.NewMetrics(), events: server.NewEventLog(server.DefaultEventLogSize), started: opts.Now(),
		elected: cfg.LeaderElection.Enabled, claims: map[string]*repo{}, appStat: map[string]server.AppStatus{},
		syncOn: cfg.Sync.Enabled, syncInterval: duration(cfg.Sync.Interval, time.Minute)}
	s.metrics.SetVersion(opts.Version)
	s.reg = registry.New(registry.Options{
		Limits:   registry.Limits{RatePerSecond: cfg.Registry.RPS, Concurrency: cfg.Registry.Concurrency, Timeout: 30 * time.Second, MaxRetries: 5},
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
		sched, err := cfg.schedule(rc)
		if err != nil {
			return nil, configErrorf("repos[%d]: %w", i, err)
		}
		if err := s.creds.Add(rc.URL, bo.Auth); err != nil {
			return nil, configErrorf("repos[%d].url: %w", i, err)
		}
		r := &repo{i: i, promoteKick: make(chan struct{}, 1), url: gitrepo.StripCredentials(rc.URL), opts: bo, sched: sched, fullName: strings.ToLower(rc.GitHub.Repo),
			config: dotferry.Config{Branch: dotferry.DefaultBranchTemplate}}
		if r.fullName == "" {
			if owner, name, err := forge.ParseRepoURL(rc.URL); err == nil {
				r.fullName = strings.ToLower(owner + "/" + name)
			}
		}
		s.repos = append(s.repos, r)
		s.metrics.AddRepo(r.url)
	}
	// Webhooks are optional: an absent or empty secret file turns one off.
	secret := func(webhook, path string) (string, error) {
		v, err := webhookSecret(s.log, webhook, path)
		if err != nil {
			return "", &ConfigError{Err: err}
		}
		return v, nil
	}
	var err error
	if s.webhooks.github, err = secret("github", cfg.Webhooks.GitHubSecretFile); err != nil {
		return nil, err
	}
	if s.webhooks.ecr, err = secret("ecr", cfg.Webhooks.ECRTokenFile); err != nil {
		return nil, err
	}
	if s.webhooks.registry, err = secret("registry", cfg.Webhooks.RegistryTokenFile); err != nil {
		return nil, err
	}
	return s, nil
}

// Listen is the address the HTTP server listens on.
func (s *Service) Listen() string { return s.listen }

// Repos is the number of repositories the service bumps.
func (s *Service) Repos() int { return len(s.repos) }

// Run serves and works until ctx ends, then stops: cycles in progress may
// finish their current step. It returns once everything it started has
// ended: nil after a shutdown, an error when the server or leader election
// cannot start (a *ConfigError for a cluster that cannot be reached).
func (s *Service) Run(ctx context.Context) error {
	tmpDir, err := scratch.New("ferry-run-")
	if err != nil {
		return err
	}
	defer tmpDir.Close()
	tmp := tmpDir.Path
	s.tmp = tmp
	for _, r := range s.repos {
		r.opts.Dir = cmp.Or(r.opts.Dir, filepath.Join(tmp, "repo-"+strconv.Itoa(r.i)))
	}
	if s.syncOn {
		// Fail early on a cluster that cannot be reached at all.
		if _, err := s.syncerFor(cluster.Destination{}); err != nil {
			return configErrorf("sync needs a cluster: %w", err)
		}
		defer s.closeSyncers()
	}
	webUI, err := s.newUI()
	if err != nil {
		return err
	}
	srv := server.New(server.Options{
		Routes:        uiRoutes(webUI),
		Addr:          s.listen,
		GitHubSecret:  []byte(s.webhooks.github),
		ECRToken:      s.webhooks.ecr,
		RegistryToken: s.webhooks.registry,
		Filter:        s.filter,
		Standby:       s.standby,
		Trigger:       s.trigger,
		Ready:         s.isReady,
		Status:        s.snapshot,
		Metrics:       s.metrics,
		Events:        s.events,
		Log:           s.log,
	})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		if errs[0] = srv.ListenAndServe(ctx); errs[0] != nil {
			cancel()
		}
	})
	if webUI != nil {
		wg.Go(func() { webUI.Run(ctx) })
	}
	wg.Go(func() {
		if s.elected {
			errs[1] = s.runAsLeader(ctx)
		} else {
			s.work(ctx)
		}
		cancel()
	})
	wg.Wait()
	return errors.Join(errs...)
}

// isReady: every repository had its first cycle, and with sync on, its
// apps were read and every app had its first sync round; a standby (leader
// election) is ready at once.
func (s *Service) isReady() bool {
	if s.elected && s.currentTerm() == nil {
		return true // ready to take over; serves health and metrics
	}
	for _, r := range s.repos {
		r.mu.Lock()
		ready := r.lastCycle != nil && (!s.syncOn || r.appsRead)
		r.mu.Unlock()
		if !ready {
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.claims {
		if _, ok := s.appStat[name]; !ok {
			return false
		}
	}
	return true
}
