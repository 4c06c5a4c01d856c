package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/updater"
)

// trailerPromotion names the promotion in its commits.
const trailerPromotion = "Ferry-Promotion"

// writeBack commits the changes on the promotion branch and opens or
// updates its pull request (or closes it when nothing is left to do).
func writeBack(ctx context.Context, opts Options, repo *gitrepo.Repo, set *dotferry.Set, p dotferry.Promotion, res *Result) error {
	if len(res.Changes) == 0 {
		return closeStale(ctx, opts, res)
	}
	res.Title = title(res)
	diff, err := updater.Diff(repo.Dir(), res.Changes)
	if err != nil {
		return err
	}
	res.Diff = diff
	written, err := updater.Apply(ctx, repo.Dir(), res.Changes)
	if err != nil {
		return err
	}
	defer repo.RestoreFromBase(written)
	fp, err := bot.Fingerprint(repo.Dir(), written)
	if err != nil {
		return err
	}
	res.Body = body(res, opts.Branch, fp)

	var open *forge.Found
	if opts.Forge != nil {
		if open, err = opts.Forge.Find(ctx, opts.Owner, opts.Repo, res.Branch); err != nil {
			return fmt.Errorf("finding the pull request for %s: %w", res.Branch, err)
		}
		if open == nil {
			closed, err := opts.Forge.LastClosed(ctx, opts.Owner, opts.Repo, res.Branch)
			if err != nil {
				return fmt.Errorf("looking for a declined pull request for %s: %w", res.Branch, err)
			}
			if closed != nil && !closed.Merged && strings.Contains(closed.Body, "changeset="+fp+" ") {
				res.Action, res.PullNumber, res.PullURL = "declined", closed.Number, closed.URL
				return nil
			}
		}
	}
	author := opts.Author
	author.When = opts.Now
	msg := fmt.Sprintf("%s\n\nStaging (%s) ran %s, healthy since %s.\n\n%s: %s\n%s: %s\n", res.Title, p.From, short(res.Revision),
		res.HealthySince.UTC().Format(time.RFC3339), bot.TrailerChangeset, fp, trailerPromotion, p.Name)
	commit, err := repo.Commit(ctx, written, msg, author, opts.Signer)
	if errors.Is(err, gitrepo.ErrNoChanges) {
		return closeStale(ctx, opts, res)
	}
	if err != nil {
		return err
	}
	head, pushed, err := pushBranch(ctx, opts, repo, res.Branch, commit, fp)
	if err != nil {
		return err
	}
	res.Pushed = pushed && !opts.DryRun
	if opts.DryRun {
		switch {
		case open == nil:
			res.Action = "would-create"
		case !pushed && open.Title == res.Title && open.Body == res.Body:
			res.Action, res.PullNumber, res.PullURL = "unchanged", open.Number, open.URL
		default:
			res.Action, res.PullNumber, res.PullURL = "would-update", open.Number, open.URL
		}
		return nil
	}
	pr := forge.PullRequest{Owner: opts.Owner, Repo: opts.Repo, Base: opts.Branch, Head: res.Branch, Title: res.Title, Body: res.Body}
	prs := p.PullRequest
	if len(prs.Labels)+len(prs.Reviewers)+len(prs.TeamReviewers)+len(prs.Assignees) == 0 && !prs.Draft {
		prs = set.Config.PullRequest
	}
	pr.Labels, pr.Reviewers, pr.TeamReviewers, pr.Assignees, pr.Draft = prs.Labels, prs.Reviewers, prs.TeamReviewers, prs.Assignees, prs.Draft
	r, err := opts.Forge.Ensure(ctx, pr)
	if err != nil {
		return fmt.Errorf("pull request for %s: %w", res.Branch, err)
	}
	res.Action, res.PullNumber, res.PullURL = string(r.Outcome), r.Number, r.URL
	if ss, ok := opts.Forge.(StatusSetter); ok {
		err := ss.SetStatus(ctx, opts.Owner, opts.Repo, head.String(), forge.Status{
			State: "success", Context: StatusContext,
			Description: fmt.Sprintf("staging %s healthy since %s; %s", short(res.Revision), res.HealthySince.UTC().Format("2006-01-02 15:04Z"), verification(res)),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// pushBranch pushes commit to the promotion branch under a lease, unless
// the branch already holds a Ferry commit of the same change set. It
// returns the branch's head after it and whether it pushed (or would).
func pushBranch(ctx context.Context, opts Options, repo *gitrepo.Repo, branch string, commit plumbing.Hash, fp string) (plumbing.Hash, bool, error) {
	for try := 0; try < 2; try++ {
		head, exists, err := repo.RemoteHead(ctx, branch)
		if err != nil {
			return head, false, err
		}
		lease := gitrepo.Lease{MustNotExist: true}
		if exists {
			if _, err := repo.FetchBranch(ctx, branch); err != nil {
				return head, false, err
			}
			info, err := repo.CommitInfo(head)
			if err != nil {
				return head, false, err
			}
			if !strings.Contains(info.Message, "\n"+bot.TrailerChangeset+":") {
				return head, false, fmt.Errorf("branch %s has a commit Ferry did not make (%s by %s); leaving it alone — delete the branch or close its pull request to let Ferry take over",
					branch, short(head.String()), info.Author.Name)
			}
			if bot.Trailer(info.Message, bot.TrailerChangeset) == fp {
				return head, false, nil
			}
			lease = gitrepo.Lease{Expect: head}
		}
		if opts.DryRun {
			return commit, true, nil
		}
		err = repo.Push(ctx, commit, branch, lease)
		if errors.Is(err, gitrepo.ErrLeaseBroken) && try == 0 {
			continue
		}
		return commit, err == nil, err
	}
	return commit, false, nil
}

// closeStale closes the promotion's pull request: production already runs
// what staging does.
func closeStale(ctx context.Context, opts Options, res *Result) error {
	res.Action = "up-to-date"
	if opts.Forge == nil {
		return nil
	}
	comment := fmt.Sprintf("Closing: production already runs what staging runs (%s). Ferry opens a new pull request when staging proves a newer version.", short(res.Revision))
	found, action, err := bot.CloseStale(ctx, opts.Forge, opts.Owner, opts.Repo, res.Branch, comment, opts.DryRun)
	if found != nil {
		res.PullNumber, res.PullURL = found.Number, found.URL
	}
	res.Action = action
	return err
}

func verification(res *Result) string {
	for _, g := range res.Gates {
		if g.Name == "verification" {
			return "verification " + g.State + ": " + g.Detail
		}
	}
	return "no verification asked"
}

// title is "Promote api release.20240301 to production".
func title(res *Result) string {
	var parts []string
	for _, c := range res.Changes {
		name, tag, digest := c.To, "", ""
		if c.Form == updater.FormImage {
			name, tag, digest = image.Split(c.To)
			if i := strings.LastIndexByte(name, '/'); i >= 0 {
				name = name[i+1:]
			}
		} else {
			name = c.Policy
			if c.Form == updater.FormTag {
				tag = c.To
			} else {
				digest = c.To
			}
		}
		v := tag
		if v == "" {
			v = image.ShortDigest(digest)
		}
		if s := name + " " + v; !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	slices.Sort(parts)
	what := strings.Join(parts, ", ")
	if len(parts) > 3 {
		what = fmt.Sprintf("%d images", len(parts))
	}
	return fmt.Sprintf("Promote %s from %s to %s", what, res.From, res.To)
}

// body is the evidence and the diff.
func body(res *Result, base, fp string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Ferry promotes to **%s** exactly what runs in **%s** (same tags and digests), which passed its gates:\n\n", res.To, res.From)
	fmt.Fprintf(&b, "- Staging revision: `%s`\n", res.Revision)
	fmt.Fprintf(&b, "- Healthy since: %s\n", res.HealthySince.UTC().Format(time.RFC3339))
	for _, g := range res.Gates {
		fmt.Fprintf(&b, "- %s: %s — %s\n", g.Name, g.State, g.Detail)
	}
	b.WriteString("\n| File | Change |\n|---|---|\n")
	for _, c := range res.Changes {
		fmt.Fprintf(&b, "| `%s:%d` | `%s` → `%s` |\n", c.File, c.Line, bot.ShortValue(c.Form, c.From), bot.ShortValue(c.Form, c.To))
	}
	if len(res.Skipped) > 0 {
		b.WriteString("\nLeft as they are:\n\n")
		for _, s := range res.Skipped {
			fmt.Fprintf(&b, "- `%s:%d`: %s\n", s.File, s.Line, s.Why)
		}
	}
	diff := res.Diff
	if len(diff) > 30000 {
		diff = diff[:30000] + "\n… (cut)\n"
	}
	fmt.Fprintf(&b, "\n<details><summary>Diff</summary>\n\n```diff\n%s```\n</details>\n", diff)
	fmt.Fprintf(&b, "\nApprove and merge to roll it out to %s (merging into `%s`). Ferry updates this pull request when staging proves a newer version; a version that fails in staging leaves it as it is. Close it without merging to decline this version.\n\n<!-- ferry:promotion=%s changeset=%s -->\n", res.To, base, res.Promotion, fp)
	return b.String()
}
