package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ferrygitops/ferry/deploy/inventory"
)

// ErrLocked is returned (wrapped, with the holder) when another sync of
// the app held its lease for longer than Options.LockTimeout.
var ErrLocked = errors.New("another sync of the app is in progress")

// ErrLeaseLost is the cause of a sync's context being cancelled when its
// lease could not be renewed before it expired, or was taken over.
var ErrLeaseLost = errors.New("the sync lease was lost")

// LockInfo describes a held lease.
type LockInfo struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

// syncLock is a held lease.
type syncLock struct {
	s         *Syncer
	app       App
	lock      *resourcelock.LeaseLock
	stopElect context.CancelFunc // stops the elector
	stopped   chan struct{}      // closed when the elector stopped
	unlocking atomic.Bool
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ensureNamespace creates the app's inventory namespace when missing.
func (s *Syncer) ensureNamespace(ctx context.Context, app App) error {
	ns := s.inventoryNamespace(app)
	err := s.retry(ctx, func() error {
		_, err := s.core.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	})
	if err == nil || apierrors.IsForbidden(err) {
		// Forbidden: RBAC scoped to namespaces; the lease's creation will
		// tell if it is missing.
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading namespace %s: %w", ns, err)
	}
	err = s.retry(ctx, func() error {
		_, err := s.core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "ferry"},
		}}, metav1.CreateOptions{FieldManager: FieldManager})
		return err
	})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return nil
}

// lock acquires the app's Lease with client-go's leader election (a
// resourcelock.LeaseLock), waiting up to LockTimeout for another holder,
// and keeps renewing it (every LeaseDuration/15, between 100 ms and 2 s,
// giving up after two thirds of LeaseDuration without a renewal). The
// returned context is cancelled, with cause ErrLeaseLost, when renewing
// fails; unlock releases the lease.
//
// Leader election judges a holder expired once it has watched the lease
// unchanged for its duration; a sync also takes over at once a lease whose
// holder's renew time is older than its duration (a process that died),
// as this package always did.
func (s *Syncer) lock(ctx context.Context, app App) (context.Context, *syncLock, error) {
	if err := s.ensureNamespace(ctx, app); err != nil {
		return nil, nil, err
	}
	ns, name := s.inventoryNamespace(app), LeasePrefix+app.Name
	if err := s.freeExpiredLease(ctx, ns, name); err != nil {
		return nil, nil, err
	}
	l := &syncLock{s: s, app: app, stopped: make(chan struct{}), lock: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: ns, Name: name},
		Client:     s.core.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: s.opts.Identity + "-" + randomSuffix()},
		Labels:     map[string]string{"app.kubernetes.io/managed-by": "ferry", inventory.LabelOwner: app.Name},
	}}
	lease := s.opts.LeaseDuration
	retry := min(max(lease/15, 100*time.Millisecond), 2*time.Second)
	started := make(chan context.Context, 1)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          l.lock,
		LeaseDuration: lease,
		RenewDeadline: lease * 2 / 3,
		RetryPeriod:   retry,
		Name:          ns + "/" + name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { started <- ctx },
			OnStoppedLeading: func() { close(l.stopped) },
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("lease %s/%s: %w", ns, name, err)
	}
	ectx, cancel := context.WithCancel(klog.NewContext(ctx, logr.FromSlogHandler(s.log.Handler())))
	l.stopElect = cancel
	go le.Run(ectx)

	timeout := time.NewTimer(max(s.opts.LockTimeout, 0))
	defer timeout.Stop()
	waiting := time.NewTicker(5 * time.Second)
	defer waiting.Stop()
	for {
		select {
		case <-started:
			sctx, cancelSync := context.WithCancelCause(ctx)
			go func() {
				<-l.stopped
				if !l.unlocking.Load() {
					cancelSync(fmt.Errorf("%w: could not renew it for %s", ErrLeaseLost, lease*2/3))
				}
			}()
			return sctx, l, nil
		case <-l.stopped:
			return nil, nil, fmt.Errorf("taking lease %s/%s: %w", ns, name, context.Cause(ectx))
		case <-waiting.C:
			s.log.Info("waiting for another sync of the app", "app", app.Name, "holder", le.GetLeader())
			continue
		case <-timeout.C:
		case <-ctx.Done():
		}
		cancel()
		<-l.stopped
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		info, err := s.lockInfo(ctx, app)
		if err != nil || info == nil {
			return nil, nil, fmt.Errorf("syncing app %s: %w: lease %s/%s could not be taken in %s", app.Name, ErrLocked, ns, name, s.opts.LockTimeout)
		}
		return nil, nil, fmt.Errorf("syncing app %s: %w: lease %s/%s is held by %s since %s, until %s unless renewed",
			app.Name, ErrLocked, ns, name, info.Holder, info.Since.Format(time.RFC3339), info.Until.Format(time.RFC3339))
	}
}

// freeExpiredLease releases a lease whose holder has not renewed it within
// its duration, judged by the holder's renew time (resourceVersion as
// precondition, so a holder renewing meanwhile keeps it).
func (s *Syncer) freeExpiredLease(ctx context.Context, ns, name string) error {
	leases := s.core.CoordinationV1().Leases(ns)
	var cur *coordinationv1.Lease
	err := s.retry(ctx, func() (err error) {
		cur, err = leases.Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading lease %s/%s: %w", ns, name, err)
	}
	if info, held := leaseHeld(cur); held || info.Holder == "" {
		return nil
	}
	s.log.Info("taking over an expired sync lease", "lease", ns+"/"+name, "holder", ptr.Deref(cur.Spec.HolderIdentity, ""))
	cur.Spec.HolderIdentity, cur.Spec.RenewTime = nil, nil
	_, err = leases.Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
	if err != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("taking over lease %s/%s: %w", ns, name, err)
	}
	return nil
}

// leaseHeld reports whether a lease is held and unexpired, by its renew
// time; the info names the holder either way.
func leaseHeld(l *coordinationv1.Lease) (LockInfo, bool) {
	holder := ptr.Deref(l.Spec.HolderIdentity, "")
	if holder == "" || l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return LockInfo{Holder: holder}, false
	}
	info := LockInfo{Holder: holder, Until: l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)}
	if l.Spec.AcquireTime != nil {
		info.Since = l.Spec.AcquireTime.Time
	}
	return info, time.Now().Before(info.Until)
}

// unlock stops the elector and releases the lease if still held: the
// holder is cleared, so the next sync takes it at once.
func (l *syncLock) unlock() {
	l.unlocking.Store(true)
	l.stopElect()
	<-l.stopped
	s := l.s
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	leases := s.core.CoordinationV1().Leases(l.lock.LeaseMeta.Namespace)
	err := s.retry(ctx, func() error {
		cur, err := leases.Get(ctx, l.lock.LeaseMeta.Name, metav1.GetOptions{})
		if err != nil || ptr.Deref(cur.Spec.HolderIdentity, "") != l.lock.Identity() {
			return err
		}
		cur.Spec.HolderIdentity = nil
		cur.Spec.RenewTime = nil
		_, err = leases.Update(ctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		s.log.Warn("releasing the sync lease failed; it expires on its own", "app", l.app.Name, "error", err)
	}
}

// lockInfo returns the current holder of the app's lease, if held.
func (s *Syncer) lockInfo(ctx context.Context, app App) (*LockInfo, error) {
	var cur *coordinationv1.Lease
	err := s.retry(ctx, func() (err error) {
		cur, err = s.core.CoordinationV1().Leases(s.inventoryNamespace(app)).Get(ctx, LeasePrefix+app.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if info, held := leaseHeld(cur); held {
		return &info, nil
	}
	return nil, nil
}
