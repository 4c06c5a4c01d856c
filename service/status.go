package service

import (
	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/server"
)

// snapshot is the status page's view of the service, built from the
// results of the loop's steps.
func (s *Service) snapshot() server.Snapshot {
	snap := server.Snapshot{Version: s.opts.Version, Started: s.started, Standby: s.elected && s.standby(),
		Repos: []server.RepoStatus{}, Apps: []server.AppStatus{}}
	var names []string
	for _, r := range s.repos {
		rs := r.status()
		if c := rs.LastCycle; c != nil && (snap.LastCycle == nil || c.Time.After(snap.LastCycle.Time)) {
			snap.LastCycle = c
		}
		snap.Repos = append(snap.Repos, rs)
		r.mu.Lock()
		for _, a := range r.apps {
			names = append(names, a.Name)
		}
		r.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, name := range names {
		st, ok := s.appStat[name]
		if !ok {
			st = server.AppStatus{Name: name, Result: "pending"}
			if r := s.claims[name]; r != nil {
				st.Repo = r.url
			}
		}
		snap.Apps = append(snap.Apps, st)
	}
	return snap
}

// status is the repository's part of the page.
func (r *repo) status() server.RepoStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := server.RepoStatus{URL: r.url, Branch: r.opts.Branch, Mode: string(r.opts.Mode), Groups: nil}
	if r.lastCycle != nil {
		c := *r.lastCycle
		rs.LastCycle = &c
	}
	res := r.last
	if res == nil {
		return rs
	}
	rs.DryRun, rs.BaseCommit, rs.Failed = res.DryRun, res.BaseCommit, res.Failed()
	if res.Scan != nil {
		rs.Scan = scanStatus(res.Scan)
	}
	rs.Groups = []server.GroupStatus{}
	for _, g := range res.Groups {
		gs := server.GroupStatus{Group: g.Group, Branch: g.Branch, Commit: g.Commit, Action: g.Action, Took: g.Took,
			PullNumber: g.PullNumber, PullURL: g.PullURL, Title: g.Title, Error: g.Error, Changes: []server.ChangeStatus{}}
		for _, c := range g.Changes {
			gs.Changes = append(gs.Changes, server.ChangeStatus{File: c.File, Line: c.Line, From: bot.ShortValue(c.Form, c.From), To: bot.ShortValue(c.Form, c.To)})
		}
		for _, h := range g.Holds {
			gs.Holds = append(gs.Holds, server.HoldStatus{File: h.File, Tag: h.Tag, By: h.By})
		}
		rs.Groups = append(rs.Groups, gs)
	}
	return rs
}

func scanStatus(rep *bot.Report) *server.ScanStatus {
	ss := &server.ScanStatus{Files: rep.Files, Parsed: rep.Parsed, Policies: []server.PolicyStatus{}}
	for _, p := range rep.Policies {
		ps := server.PolicyStatus{Name: p.Name, Image: p.Image, Strategy: p.Strategy, Tag: p.Tag, Digest: p.Digest,
			TagsSeen: p.TagsSeen, TagsMatched: p.TagsMatched, Error: p.Error, References: []server.ReferenceStatus{}}
		if p.PushedAt != nil {
			ps.PushedAt = *p.PushedAt
		}
		for _, sk := range p.Skipped {
			ps.Skipped = append(ps.Skipped, server.SkippedTag{Tag: sk.Tag, Reason: sk.Reason})
		}
		for _, ref := range p.References {
			ps.References = append(ps.References, server.ReferenceStatus{File: ref.File, Line: ref.Line, Object: bot.ObjectName(ref.Object),
				Current: bot.ShortValue(ref.Form, ref.Current), Wanted: wanted(ref), Status: string(ref.Status), Why: ref.Why})
		}
		ss.Policies = append(ss.Policies, ps)
	}
	for _, fe := range rep.FileErrors {
		ss.FileErrors = append(ss.FileErrors, server.FileErrorStatus{File: fe.File, Line: fe.Line, Error: fe.Error, Policies: fe.Policies})
	}
	return ss
}

func wanted(ref bot.RefReport) string {
	if ref.Wanted == "" {
		return ""
	}
	return bot.ShortValue(ref.Form, ref.Wanted)
}
