package service

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/cluster"
)

// term is one spell of work: per repository its bump loop and the channel
// that wakes its apps' watch up.
type term struct {
	ctx     context.Context
	loops   []*bot.Loop
	refresh []chan string
}

func (s *Service) currentTerm() *term {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.term
}

// standby reports whether this replica does no work right now: another
// replica leads, or the service is starting or stopping. Webhooks are
// then answered 503, so that senders retry.
func (s *Service) standby() bool { return s.currentTerm() == nil }

// work runs one term until ctx ends, and returns once all of the term's
// work has ended: each repository's bump loop (whose cycle in progress may
// finish its current step within the loop's grace period), its apps'
// watches and the syncs webhooks started. Terms never overlap: a term
// that starts while the previous one still winds down waits for it.
func (s *Service) work(ctx context.Context) {
	s.termMu.Lock()
	defer s.termMu.Unlock()
	if ctx.Err() != nil {
		return // a term that ended before it could start
	}
	t := &term{ctx: ctx}
	for _, r := range s.repos {
		t.loops = append(t.loops, &bot.Loop{Schedule: r.sched, Cycle: s.cycle(r), Log: s.log.With("repo", r.url)})
		t.refresh = append(t.refresh, make(chan string, 1))
	}
	s.mu.Lock()
	s.term = t
	s.mu.Unlock()
	s.log.Debug("term started", "repositories", len(s.repos), "sync", s.syncOn)

	var wg sync.WaitGroup
	for i, r := range s.repos {
		wg.Go(func() { _ = t.loops[i].Run(ctx) })
		if s.syncOn {
			wg.Go(func() { s.watchApps(ctx, r, t.refresh[i]) })
			wg.Go(func() { s.promoteLoop(ctx, r, r.promoteKick) })
		}
	}
	<-ctx.Done()
	s.mu.Lock()
	s.term = nil
	s.mu.Unlock()
	wg.Wait()
	s.log.Debug("term ended")
}

// runAsLeader works only while this replica holds the Lease, one term per
// spell of leadership, until ctx ends.
func (s *Service) runAsLeader(ctx context.Context) error {
	restCfg, _, err := cluster.Resolve(cluster.Options{Kubeconfig: s.cfg.Sync.Kubeconfig, Aliases: s.cfg.Sync.ContextMap}, cluster.Destination{Context: s.cfg.Sync.Context})
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
					s.log.Info("leading", "lease", ns+"/"+name, "identity", id)
					s.events.Add("leader", "became the leader ("+id+")", false)
					s.work(lctx)
				},
				OnStoppedLeading: func() {
					s.log.Info("not leading", "lease", ns+"/"+name, "identity", id)
				},
			},
		})
		// RunOrDie returns when the lease is lost without waiting for the
		// term's work: compete again only once that work has ended.
		s.termMu.Lock()
		s.termMu.Unlock() //nolint:staticcheck // an empty critical section: waiting is the point
	}
	return nil
}

func podNamespace() string {
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		return strings.TrimSpace(string(b))
	}
	return "default"
}
