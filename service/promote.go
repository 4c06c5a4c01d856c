package service

// Promotion in ferry run: after sync rounds, the repository's Promotions
// run (package promote), at most once per sync interval unless a sync
// applied something; every sync's outcome is reported to GitHub as a
// deployment of the synced commit to the app's environment.

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/cluster"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/promote"
)

// promoteLoop runs r's promotions whenever kick fires (a sync round of
// one of its apps ended), and every sync interval for soaks that end
// without a sync, until ctx ends.
func (s *Service) promoteLoop(ctx context.Context, r *repo, kick <-chan struct{}) {
	log := s.log.With("repo", r.url)
	f, ok := r.opts.Forge.(promote.Forge)
	if !ok || r.opts.Mode != bot.ModePullRequest {
		log.Debug("promotions off: they open pull requests, which need pull-request mode and GitHub credentials")
		return
	}
	timer := time.NewTimer(s.syncInterval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		case <-timer.C:
		}
		opts := promote.FromBump(r.opts, s.now(), log)
		opts.Forge, opts.Dir, opts.DryRun = f, r.opts.Dir+"-promote", false
		opts.Connect = func(ctx context.Context, app deploy.App) (promote.Staging, kubernetes.Interface, func(), error) {
			dest := cluster.Destination{Context: app.Context, Server: app.Server}
			if c := s.cfg.Sync.Cluster; c != "" {
				// One Ferry per cluster: staging's reads its records.
				if app.Context != "" && app.Context != c || app.Server != "" && app.Server != cluster.InClusterServer {
					return nil, nil, nil, promote.ErrElsewhere
				}
				dest = cluster.Destination{}
			}
			sy, err := s.syncerFor(dest)
			if err != nil {
				return nil, nil, nil, err
			}
			if dest.Context == "" && dest.Server == "" {
				dest.Context = s.cfg.Sync.Context
			}
			cfg, _, err := cluster.Resolve(cluster.Options{Kubeconfig: s.cfg.Sync.Kubeconfig, Aliases: s.cfg.Sync.ContextMap}, dest)
			if err != nil {
				return nil, nil, nil, err
			}
			kc, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return nil, nil, nil, err
			}
			return sy, kc, func() {}, nil
		}
		results, err := promote.Run(ctx, opts, "")
		if err != nil && ctx.Err() == nil {
			log.Error("promotions", "error", err)
			s.events.Add("promote", r.url+": "+err.Error(), true)
		}
		for _, res := range results {
			switch {
			case res.Error != "":
				s.events.Add("promote", fmt.Sprintf("%s: %s", res.Promotion, res.Error), true)
			case res.Action == "created" || res.Action == "updated":
				s.events.Add("promote", fmt.Sprintf("%s: pull request #%d %s (%s at %s)", res.Promotion, res.PullNumber, res.Action, res.From, short(res.Revision)), false)
			}
		}
		timer.Reset(s.syncInterval)
	}
}

// reportSync tells GitHub what a sync round did, once per app, revision
// and outcome, and kicks the repository's promotions.
func (s *Service) reportSync(t deploy.Tick) {
	s.mu.Lock()
	r, ok := s.claims[t.App]
	s.mu.Unlock()
	if !ok || t.Record.DryRun || t.Record.Revision == "" {
		return
	}
	select {
	case r.promoteKick <- struct{}{}:
	default:
	}
	d, ok := r.opts.Forge.(promote.Deployer)
	if !ok || r.opts.Owner == "" {
		return
	}
	key := fmt.Sprintf("%s|%s|%v", t.Record.Revision, t.Record.Result, t.Record.Healthy())
	s.mu.Lock()
	if s.reported == nil {
		s.reported = map[string]string{}
	}
	same := s.reported[t.App] == key
	s.reported[t.App] = key
	s.mu.Unlock()
	if same {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := promote.ReportSync(ctx, d, r.opts.Owner, r.opts.Repo, t.Record); err != nil {
		s.log.Warn("reporting the sync to GitHub", "app", t.App, "error", err)
		s.mu.Lock()
		delete(s.reported, t.App) // try again next round
		s.mu.Unlock()
	}
}
