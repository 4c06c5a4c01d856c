package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
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
	s        *Syncer
	app      App
	identity string
	cancel   context.CancelCauseFunc
	done     chan struct{}
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

// lock acquires the app's Lease, waiting up to LockTimeout for another
// holder, and keeps renewing it. The returned context is cancelled (with
// cause ErrLeaseLost) if the lease is lost; unlock releases it.
func (s *Syncer) lock(ctx context.Context, app App) (context.Context, *syncLock, error) {
	if err := s.ensureNamespace(ctx, app); err != nil {
		return nil, nil, err
	}
	l := &syncLock{s: s, app: app, identity: s.opts.Identity + "-" + randomSuffix(), done: make(chan struct{})}
	leases := s.core.CoordinationV1().Leases(s.inventoryNamespace(app))
	name := LeasePrefix + app.Name
	dur := int32((s.opts.LeaseDuration + time.Second - 1) / time.Second)
	deadline := time.Now().Add(max(s.opts.LockTimeout, 0))
	wait := 100 * time.Millisecond
	for {
		now := metav1.NewMicroTime(time.Now())
		var cur *coordinationv1.Lease
		err := s.retry(ctx, func() (err error) {
			cur, err = leases.Get(ctx, name, metav1.GetOptions{})
			return err
		})
		switch {
		case apierrors.IsNotFound(err):
			err = s.retry(ctx, func() error {
				_, err := leases.Create(ctx, &coordinationv1.Lease{
					ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "ferry", labelOwner: app.Name}},
					Spec: coordinationv1.LeaseSpec{
						HolderIdentity: &l.identity, LeaseDurationSeconds: &dur,
						AcquireTime: &now, RenewTime: &now, LeaseTransitions: ptr.To[int32](0),
					},
				}, metav1.CreateOptions{FieldManager: FieldManager})
				return err
			})
			if err == nil {
				return l.start(ctx)
			}
			if !apierrors.IsAlreadyExists(err) {
				return nil, nil, fmt.Errorf("creating lease %s/%s: %w", s.inventoryNamespace(app), name, err)
			}
		case err != nil:
			return nil, nil, fmt.Errorf("reading lease %s/%s: %w", s.inventoryNamespace(app), name, err)
		default:
			info, held := leaseHeld(cur)
			if !held {
				next := cur.DeepCopy()
				next.Spec.HolderIdentity = &l.identity
				next.Spec.LeaseDurationSeconds = &dur
				next.Spec.AcquireTime, next.Spec.RenewTime = &now, &now
				next.Spec.LeaseTransitions = ptr.To(ptr.Deref(cur.Spec.LeaseTransitions, 0) + 1)
				err = s.retry(ctx, func() error {
					_, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: FieldManager})
					return err
				})
				if err == nil {
					return l.start(ctx)
				}
				if !apierrors.IsConflict(err) {
					return nil, nil, fmt.Errorf("taking lease %s/%s: %w", s.inventoryNamespace(app), name, err)
				}
				continue // someone else took it first: look again
			}
			if time.Now().After(deadline) {
				return nil, nil, fmt.Errorf("syncing app %s: %w: lease %s/%s is held by %s since %s, until %s unless renewed",
					app.Name, ErrLocked, s.inventoryNamespace(app), name, info.Holder,
					info.Since.Format(time.RFC3339), info.Until.Format(time.RFC3339))
			}
			s.log.Info("waiting for another sync of the app", "app", app.Name, "holder", info.Holder)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
		if wait *= 2; wait > time.Second {
			wait = time.Second
		}
	}
}

// leaseHeld reports whether a lease is held and unexpired.
func leaseHeld(l *coordinationv1.Lease) (LockInfo, bool) {
	holder := ptr.Deref(l.Spec.HolderIdentity, "")
	if holder == "" || l.Spec.RenewTime == nil || l.Spec.LeaseDurationSeconds == nil {
		return LockInfo{}, false
	}
	info := LockInfo{Holder: holder, Until: l.Spec.RenewTime.Add(time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second)}
	if l.Spec.AcquireTime != nil {
		info.Since = l.Spec.AcquireTime.Time
	}
	return info, time.Now().Before(info.Until)
}

// start runs the renewal loop and returns the sync's context.
func (l *syncLock) start(parent context.Context) (context.Context, *syncLock, error) {
	ctx, cancel := context.WithCancelCause(parent)
	l.cancel = cancel
	go l.renew(ctx)
	return ctx, l, nil
}

func (l *syncLock) renew(ctx context.Context) {
	defer close(l.done)
	s := l.s
	leases := s.core.CoordinationV1().Leases(l.s.inventoryNamespace(l.app))
	name := LeasePrefix + l.app.Name
	every := s.opts.LeaseDuration / 3
	lastRenew := time.Now()
	var lastWarn time.Time
	t := time.NewTicker(every / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(lastRenew) < every {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		cur, err := leases.Get(rctx, name, metav1.GetOptions{})
		if err == nil {
			if ptr.Deref(cur.Spec.HolderIdentity, "") != l.identity {
				cancel()
				l.cancel(fmt.Errorf("%w: now held by %q", ErrLeaseLost, ptr.Deref(cur.Spec.HolderIdentity, "")))
				return
			}
			now := metav1.NewMicroTime(time.Now())
			cur.Spec.RenewTime = &now
			_, err = leases.Update(rctx, cur, metav1.UpdateOptions{FieldManager: FieldManager})
		}
		cancel()
		if err == nil {
			lastRenew = time.Now()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if time.Since(lastWarn) >= every {
			lastWarn = time.Now()
			s.log.Warn("renewing the sync lease failed; retrying", "app", l.app.Name, "error", err)
		}
		// Stop before the lease can expire and someone else apply.
		if time.Since(lastRenew) > s.opts.LeaseDuration-every/2 {
			l.cancel(fmt.Errorf("%w: could not renew it: %v", ErrLeaseLost, err))
			return
		}
	}
}

// unlock stops renewing and releases the lease if still held.
func (l *syncLock) unlock() {
	l.cancel(nil)
	<-l.done
	s := l.s
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	leases := s.core.CoordinationV1().Leases(l.s.inventoryNamespace(l.app))
	name := LeasePrefix + l.app.Name
	err := s.retry(ctx, func() error {
		cur, err := leases.Get(ctx, name, metav1.GetOptions{})
		if err != nil || ptr.Deref(cur.Spec.HolderIdentity, "") != l.identity {
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
