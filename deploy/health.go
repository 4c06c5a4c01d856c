package deploy

import (
	"context"
	"time"

	"github.com/ferrygitops/ferry/deploy/health"
)

// evaluateHealth sets every item's health from what the sync already has
// (the apply result, else the listed live object), making no request.
func (s *Syncer) evaluateHealth(p *plan) {
	for _, it := range p.items {
		obj := it.seen
		if obj == nil {
			obj = it.result
		}
		if obj == nil && !it.changed {
			obj = it.live
		}
		if obj == nil {
			it.health, it.healthMsg = "", ""
			continue
		}
		it.health, it.healthMsg = health.Of(obj)
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
	for _, it := range p.items {
		if it.result != nil && !health.Settled(it.health) && it.mapping != nil {
			pending = append(pending, it)
		}
	}
	s.pollHealth(ctx, pending, timeout)
}

// pollHealth polls pending (one labelled List per resource and
// namespace) until every item is Current or Failed, or timeout passes.
func (s *Syncer) pollHealth(ctx context.Context, pending []*planItem, timeout time.Duration) {
	if len(pending) == 0 {
		return
	}
	app := pending[0].m.Object.GetLabels()[LabelApp]
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
			keys.add(it.mapping, it.m.Key)
		}
		live, err := s.listLive(ctx, App{Name: app}, keys)
		if err != nil {
			s.log.Warn("health check failed; retrying", "app", app, "error", err)
			continue
		}
		next := pending[:0]
		for _, it := range pending {
			it.seen = live.get(it.m.Key)
			it.health, it.healthMsg = health.Of(it.seen)
			if !health.Settled(it.health) {
				next = append(next, it)
			}
		}
		pending = next
	}
}
