package service

import (
	"fmt"
	"strings"

	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/server"
)

// targets returns the repositories an event concerns, or why it concerns
// none:
//   - an image push: every repository with a policy for that image (before
//     a repository's first cycle, every image counts for it);
//   - a GitHub push: the repositories with that GitHub name and that base
//     branch;
//   - a merged pull request: the repositories with that GitHub name and
//     base branch whose bot branch template names the pull request's head
//     branch.
func (s *Service) targets(ev server.Event) ([]*repo, string) {
	var out []*repo
	switch ev.Kind {
	case server.KindImage:
		img, err := image.NormalizeRepository(ev.Repository)
		if err != nil {
			return nil, "not an image repository"
		}
		for _, r := range s.repos {
			if r.governs(img) {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil, "no policy governs that image"
		}
	case server.KindPush, server.KindMerged:
		name := strings.ToLower(ev.Repo)
		base := ev.Branch
		if ev.Kind == server.KindMerged {
			base = ev.Base
		}
		known := false
		for _, r := range s.repos {
			if r.fullName != name {
				continue
			}
			known = true
			if r.opts.Branch == base && (ev.Kind == server.KindPush || r.isBotBranch(ev.Branch)) {
				out = append(out, r)
			}
		}
		switch {
		case !known:
			return nil, fmt.Sprintf("%s is not a configured repository", ev.Repo)
		case len(out) > 0:
		case ev.Kind == server.KindPush:
			return nil, fmt.Sprintf("%s is not the base branch of %s", base, ev.Repo)
		default:
			return nil, fmt.Sprintf("not one of Ferry's pull requests into the base branch of %s", ev.Repo)
		}
	default:
		return nil, "not an event Ferry acts on"
	}
	return out, ""
}

// filter is the server's: an event is accepted when it concerns a
// repository.
func (s *Service) filter(ev server.Event) string {
	_, why := s.targets(ev)
	return why
}

// trigger hands an accepted event to the current term: a cycle of each
// repository it concerns and, for a push or merge with sync on, an
// immediate round of that repository's apps (read again, then synced).
// Outside a term (a standby, or while stopping) it does nothing.
func (s *Service) trigger(ev server.Event) {
	t := s.currentTerm()
	if t == nil {
		return
	}
	targets, _ := s.targets(ev)
	reason := ev.Source + ": " + ev.Summary()
	for _, r := range targets {
		s.log.Debug("webhook routed", "repo", r.url, "event", ev.Summary())
		t.loops[r.i].Trigger(reason)
		if s.syncOn && (ev.Kind == server.KindPush || ev.Kind == server.KindMerged) {
			select {
			case t.refresh[r.i] <- reason:
			default: // a refresh is already pending
			}
		}
	}
}
