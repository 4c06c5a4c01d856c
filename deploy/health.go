package deploy

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// Health returns the kstatus status of a live object (Current,
// InProgress, Failed, Terminating, Unknown; NotFound for nil) and, unless
// Current, kstatus's message: Current means Deployments rolled out,
// StatefulSets and DaemonSets updated, Jobs complete, CRDs established,
// objects with a Ready condition ready, and so on.
func Health(u *unstructured.Unstructured) (string, string) {
	if u == nil {
		return string(status.NotFoundStatus), ""
	}
	r, err := status.Compute(u)
	if err != nil {
		return string(status.UnknownStatus), err.Error()
	}
	if r.Status == status.CurrentStatus {
		return string(r.Status), ""
	}
	return string(r.Status), r.Message
}

// settled reports whether waiting for an object longer is pointless.
func settled(h string) bool {
	return h == string(status.CurrentStatus) || h == string(status.FailedStatus)
}

// evaluateHealth sets every item's health from what the sync already has
// (the apply result, else the listed live object), making no request.
func (s *Syncer) evaluateHealth(p *plan) {
	for _, it := range p.items {
		obj := it.result
		if obj == nil && !it.changed {
			obj = it.live
		}
		if obj == nil {
			it.health, it.healthMsg = "", ""
			continue
		}
		it.health, it.healthMsg = Health(obj)
	}
}

// waitHealthy evaluates health, then polls the applied objects that are
// not Current (one labelled List per resource and namespace) until they
// are, or Failed, or timeout passes (negative: no wait). Unchanged
// objects are evaluated from the plan's lists only, so a sync that
// applied nothing makes no request here.
func (s *Syncer) waitHealthy(ctx context.Context, p *plan, timeout time.Duration) {
	s.evaluateHealth(p)
	if timeout < 0 {
		return
	}
	var pending []*planItem
	app := ""
	for _, it := range p.items {
		if it.result != nil && !settled(it.health) && it.m.mapping != nil {
			pending = append(pending, it)
			app = it.m.Object.GetLabels()[LabelApp]
		}
	}
	deadline := time.Now().Add(timeout)
	wait := 250 * time.Millisecond
	for len(pending) > 0 {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return
		}
		t := time.NewTimer(min(wait, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if wait *= 2; wait > 2*time.Second {
			wait = 2 * time.Second
		}
		keys := listKeys{}
		for _, it := range pending {
			keys.add(it.m.mapping, it.m.Key)
		}
		live, err := s.listLive(ctx, App{Name: app}, keys)
		if err != nil {
			s.log.Warn("health check failed; retrying", "app", app, "error", err)
			continue
		}
		next := pending[:0]
		for _, it := range pending {
			it.health, it.healthMsg = Health(live.get(it.m.Key))
			if !settled(it.health) {
				next = append(next, it)
			}
		}
		pending = next
	}
}
