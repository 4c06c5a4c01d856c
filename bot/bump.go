package bot

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/internal/scratch"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
	"github.com/ferrygitops/ferry/updater"
)

// WriteMode says how a bump reaches the repository.
type WriteMode string

// The write-back modes.
const (
	ModePullRequest WriteMode = "pull-request" // push a bot branch and open or update its pull request
	ModeBranch      WriteMode = "branch"       // push the bot branch only
	ModePush        WriteMode = "push"         // commit straight to the base branch
)

// The commit author when neither flags nor .ferry/config.yaml name one.
const (
	DefaultAuthorName  = "Ferry"
	DefaultAuthorEmail = "ferry@users.noreply.github.com"
)

// Commit trailers Ferry writes; they identify its commits and change sets.
const (
	trailerChangeset = "Ferry-Changeset"
	trailerPolicies  = "Ferry-Policies"
)

// Forge is what the bump needs from a pull-request host (forge.Client).
type Forge interface {
	Ensure(ctx context.Context, pr forge.PullRequest) (forge.Result, error)
	Find(ctx context.Context, owner, repo, head string) (*forge.Found, error)
	LastClosed(ctx context.Context, owner, repo, head string) (*forge.Closed, error)
	Close(ctx context.Context, owner, repo, head, comment string, deleteBranch bool) (forge.Result, error)
}

// BumpOptions configure one bump cycle.
type BumpOptions struct {
	URL    string       // the manifest repository
	Branch string       // the base branch; default "main"
	Auth   gitrepo.Auth // git credentials
	Depth  int          // clone depth; default 50 (deepened when the hold check needs more); <0: full
	// Dir is where the clone lives. A clone already there (from an earlier
	// cycle) is reused and refreshed. Default: a temporary directory,
	// removed afterwards. A memory-backed directory (tmpfs, an emptyDir
	// with medium Memory) makes checkouts of large repositories much faster.
	Dir string

	Mode        WriteMode // default ModePullRequest
	Forge       Forge     // required in ModePullRequest unless DryRun
	Owner, Repo string    // the GitHub repository (ParseRepoURL derives them)

	Author gitrepo.Signature // Name and Email of Ferry's commits; When is set from Now
	Signer gitrepo.Signer    // optional commit signing

	DryRun      bool // compute and show; no git push, no pull-request writes
	Force       bool // see ScanOptions.Force
	Now         time.Time
	MaxAttempts int // attempts when the base moves under a push; default 3
	Log         *slog.Logger
	// Progress, if set, is told of each group as it is done (for people
	// watching a long cycle).
	Progress func(GroupResult)
}

// GroupResult is what the cycle did for one pull-request group.
type GroupResult struct {
	Group    string           `json:"group"`
	Branch   string           `json:"branch"`
	Policies []string         `json:"policies"`
	Changes  []updater.Change `json:"changes"`
	Title    string           `json:"title,omitempty"`
	Body     string           `json:"body,omitempty"`
	Commit   string           `json:"commit,omitempty"`
	// Action: created, updated, unchanged, closed, pushed, up-to-date,
	// skipped, declined (people closed the pull request for this very
	// change set without merging it), or for a dry run would-create,
	// would-update, would-close, would-push.
	Action     string        `json:"action"`
	Pushed     bool          `json:"pushed"`
	PullNumber int           `json:"pullNumber,omitempty"`
	PullURL    string        `json:"pullURL,omitempty"`
	Diff       string        `json:"diff,omitempty"`
	Error      string        `json:"error,omitempty"`
	Duplicates []int         `json:"duplicates,omitempty"`
	Holds      []Hold        `json:"holds,omitempty"`
	Took       time.Duration `json:"-"`
}

// BumpResult is the outcome of a cycle.
type BumpResult struct {
	Repo       string        `json:"repo"`
	Base       string        `json:"base"`
	BaseCommit string        `json:"baseCommit"`
	Mode       WriteMode     `json:"mode"`
	DryRun     bool          `json:"dryRun"`
	Groups     []GroupResult `json:"groups"`
	Holds      []Hold        `json:"holds,omitempty"`
	Scan       *Report       `json:"scan"`
}

// Failed reports whether anything in the cycle failed.
func (r *BumpResult) Failed() bool {
	if r.Scan != nil && r.Scan.Failed() {
		return true
	}
	for _, g := range r.Groups {
		if g.Error != "" {
			return true
		}
	}
	return false
}

// errBaseMoved asks Bump to start over on the new base.
var errBaseMoved = errors.New("the base branch moved")

// Bump runs one write-back cycle: clone, scan, plan (with holds), then per
// group commit, push and open, update or close its pull request. It is
// idempotent: with nothing new it makes no git or pull-request writes.
func Bump(ctx context.Context, reg Registry, opts BumpOptions) (*BumpResult, error) {
	if opts.Now.IsZero() {
		return nil, errors.New("bumping: no current time given")
	}
	if opts.Branch == "" {
		opts.Branch = "main"
	}
	if opts.Mode == "" {
		opts.Mode = ModePullRequest
	}
	switch opts.Mode {
	case ModePullRequest, ModeBranch, ModePush:
	default:
		return nil, fmt.Errorf("bumping: unknown mode %q (use pull-request, branch or push)", opts.Mode)
	}
	if opts.Mode == ModePullRequest && (opts.Owner == "" || opts.Repo == "") {
		return nil, errors.New("bumping: pull-request mode needs the GitHub owner and repository")
	}
	if opts.Mode == ModePullRequest && opts.Forge == nil && !opts.DryRun {
		return nil, errors.New("bumping: pull-request mode needs GitHub credentials")
	}
	if opts.Depth == 0 {
		opts.Depth = 50
	}
	if opts.Depth < 0 {
		opts.Depth = 0
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	dir := opts.Dir
	if dir == "" {
		tmpDir, err := scratch.New("ferry-bump-")
		if err != nil {
			return nil, err
		}
		defer tmpDir.Close()
		tmp := tmpDir.Path
		dir = filepath.Join(tmp, "repo")
	}
	// A GitHub App's installation token authenticates git too, when git
	// was given no credentials of its own; it is minted (or refreshed) per
	// cycle, so a long-running Ferry never pushes with an expired one.
	if tg, ok := opts.Forge.(interface {
		GitToken(ctx context.Context) (string, error)
	}); ok && opts.Auth.Token == "" && opts.Auth.SSHKeyFile == "" {
		tok, err := tg.GitToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting a token for git from GitHub: %w", err)
		}
		if opts.Auth.Username == "" {
			opts.Auth.Username = gitrepo.DefaultUsername
		}
		opts.Auth.Token = tok
	}
	repo, err := openOrClone(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		res, err := bumpOnce(ctx, reg, repo, opts)
		if !errors.Is(err, errBaseMoved) || attempt >= opts.MaxAttempts {
			return res, err
		}
		opts.Log.Info("base branch moved during the cycle; starting over on the new base", "attempt", attempt+1)
		if err := repo.Refresh(ctx); err != nil {
			return nil, err
		}
	}
}

// openOrClone reuses the clone in dir when there is one (ferry run keeps
// it between cycles: only what changed upstream is fetched and rewritten),
// else clones. A clone that cannot be reused is replaced.
func openOrClone(ctx context.Context, dir string, opts BumpOptions) (*gitrepo.Repo, error) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		repo, err := gitrepo.Open(ctx, opts.URL, opts.Branch, dir, opts.Auth, opts.Depth)
		if err == nil {
			opts.Log.Debug("reusing the clone", "dir", dir)
			return repo, nil
		}
		opts.Log.Warn("cannot reuse the clone; cloning again", "dir", dir, "error", err)
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	opts.Log.Info("cloning", "repo", gitrepo.RedactURL(opts.URL), "branch", opts.Branch)
	return gitrepo.Clone(ctx, opts.URL, opts.Branch, dir, opts.Auth, opts.Depth)
}

func bumpOnce(ctx context.Context, reg Registry, repo *gitrepo.Repo, opts BumpOptions) (*BumpResult, error) {
	rep, err := Scan(ctx, reg, ScanOptions{Repo: repo.Dir(), Now: opts.Now, Force: opts.Force})
	if err != nil {
		return nil, err
	}
	rep.Repo = gitrepo.RedactURL(opts.URL)
	cfg := rep.Set.Config
	opts.Author.Name = cmp.Or(opts.Author.Name, cfg.AuthorName, DefaultAuthorName)
	opts.Author.Email = cmp.Or(opts.Author.Email, cfg.AuthorEmail, DefaultAuthorEmail)
	policies := map[string]*policy.Policy{}
	for _, p := range rep.Set.Policies {
		policies[p.Name] = p
	}
	bot := newBotDetector(opts.Author.Email, cfg.BranchPrefix())
	holds, err := findHolds(ctx, repo, rep.Decisions, policies, bot)
	if err != nil {
		return nil, err
	}
	applyHolds(rep.Decisions, holds, policies)
	rep.fillReferences()
	opts.Log.Debug("scanned", "base", repo.BaseHead().String()[:12], "files", rep.Files, "policies", len(rep.Policies),
		"fileErrors", len(rep.FileErrors), "holds", len(holds), "branchTemplate", cfg.Branch)
	for _, p := range rep.Policies {
		opts.Log.Debug("policy", "policy", p.Name, "image", p.Image, "tag", p.Tag, "tagsSeen", p.TagsSeen, "tagsMatched", p.TagsMatched,
			"references", len(p.References), "error", p.Error)
	}

	res := &BumpResult{Repo: rep.Repo, Base: opts.Branch, BaseCommit: repo.BaseHead().String(), Mode: opts.Mode, DryRun: opts.DryRun, Holds: holds, Scan: rep}

	// Which policies failed this cycle: their groups are left as they are.
	failed := map[string]string{}
	for _, p := range rep.Policies {
		if p.Error != "" {
			failed[p.Name] = p.Error
		}
	}
	for _, fe := range rep.FileErrors {
		for _, name := range fe.Policies {
			if _, ok := failed[name]; !ok {
				failed[name] = fmt.Sprintf("%s:%d: %s", fe.File, fe.Line, fe.Error)
			}
		}
	}

	groups := groupPolicies(rep.Set.Policies)
	changes := rep.Changes()
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		pols := groups[name]
		g := GroupResult{Group: name, Branch: cfg.BranchFor(name), Changes: []updater.Change{}}
		for _, p := range pols {
			g.Policies = append(g.Policies, p.Name)
		}
		for _, c := range changes {
			if slices.Contains(g.Policies, c.Policy) {
				g.Changes = append(g.Changes, c)
			}
		}
		for _, h := range holds {
			if slices.Contains(g.Policies, h.Policy) {
				g.Holds = append(g.Holds, h)
			}
		}
		var why []string
		for _, p := range g.Policies {
			if e, ok := failed[p]; ok {
				why = append(why, fmt.Sprintf("policy %s: %s", p, e))
			}
		}
		start := time.Now()
		switch {
		case len(why) > 0:
			g.Action = "skipped"
			g.Error = "left as it is because this cycle could not complete it: " + strings.Join(why, "; ")
		default:
			err = bumpGroup(ctx, repo, opts, cfg, rep, pols, bot, &g)
		}
		g.Took = time.Since(start)
		if errors.Is(err, errBaseMoved) {
			return res, err
		}
		if err != nil {
			g.Error = err.Error()
			opts.Log.Error("group failed", "group", name, "error", err)
		}
		opts.Log.Debug("group done", "group", name, "branch", g.Branch, "changes", len(g.Changes), "action", g.Action,
			"pull", g.PullNumber, "took", g.Took.Round(time.Millisecond))
		if opts.Progress != nil {
			opts.Progress(g)
		}
		res.Groups = append(res.Groups, g)
	}
	return res, nil
}

// groupPolicies maps each pull-request group to its policies; a policy with
// no group is a group of its own.
func groupPolicies(ps []*policy.Policy) map[string][]*policy.Policy {
	out := map[string][]*policy.Policy{}
	for _, p := range ps {
		g := p.PullRequest.Group
		if g == "" {
			g = p.Name
		}
		out[g] = append(out[g], p)
	}
	return out
}

func bumpGroup(ctx context.Context, repo *gitrepo.Repo, opts BumpOptions, cfg dotferry.Config, rep *Report, pols []*policy.Policy, bot botDetector, g *GroupResult) error {
	if len(g.Changes) == 0 {
		return closeStale(ctx, repo, opts, g)
	}
	g.Title = title(g.Changes, pols)

	var err error
	if opts.DryRun {
		if g.Diff, err = updater.Diff(repo.Dir(), g.Changes); err != nil {
			return err
		}
	}
	// Render the change set on the worktree, commit it on the base, and put
	// the worktree back as the base has it for the next group.
	written, err := updater.Apply(ctx, repo.Dir(), g.Changes)
	if err != nil {
		return err
	}
	defer repo.RestoreFromBase(written)
	fp, err := Fingerprint(repo.Dir(), written)
	if err != nil {
		return err
	}
	msg := commitMessage(g, fp)
	g.Body = body(g, rep, opts.Branch, fp)
	var open *forge.Found // the group's open pull request, if any
	if opts.Mode == ModePullRequest {
		if open, err = findPR(ctx, opts, g.Branch); err != nil {
			return err
		}
		if open == nil {
			if closed, err := declined(ctx, opts, g.Branch, fp); err != nil {
				return err
			} else if closed != nil {
				g.Action, g.PullNumber, g.PullURL = "declined", closed.Number, closed.URL
				return nil
			}
		}
	}
	author := opts.Author
	author.When = opts.Now
	commit, err := repo.Commit(ctx, written, msg, author, opts.Signer)
	if errors.Is(err, gitrepo.ErrNoChanges) {
		return closeStale(ctx, repo, opts, g)
	}
	if err != nil {
		return err
	}
	g.Commit = commit.String()

	if opts.Mode == ModePush {
		if opts.DryRun {
			g.Action = "would-push"
			return nil
		}
		switch err := repo.Push(ctx, commit, opts.Branch, gitrepo.Lease{FastForward: true}); {
		case errors.Is(err, gitrepo.ErrNonFastForward):
			return errBaseMoved
		case err != nil:
			return err
		}
		g.Action, g.Pushed = "pushed", true
		// The next group commits on top of this one.
		return repo.Refresh(ctx)
	}

	// The bot branch: push unless it already holds this change set.
	pushed, err := pushBranch(ctx, repo, opts, bot, g.Branch, commit, fp)
	if err != nil {
		return err
	}
	g.Pushed = pushed
	if opts.Mode == ModeBranch {
		g.Action = map[bool]string{true: "pushed", false: "up-to-date"}[pushed]
		if opts.DryRun && pushed {
			g.Action, g.Pushed = "would-push", false
		}
		return nil
	}
	if opts.DryRun {
		g.Pushed = false
		found := open
		switch {
		case found == nil:
			g.Action = "would-create"
		case found.Title == g.Title && found.Body == g.Body:
			g.Action, g.PullNumber, g.PullURL = "unchanged", found.Number, found.URL
		default:
			g.Action, g.PullNumber, g.PullURL = "would-update", found.Number, found.URL
		}
		return nil
	}
	pr := pullRequest(opts, cfg, pols, g)
	if !pushed && current(open, pr) {
		// Nothing to write: spare the create-or-update step its listing.
		g.Action, g.PullNumber, g.PullURL, g.Duplicates = string(forge.OutcomeUnchanged), open.Number, open.URL, open.Duplicates
		return nil
	}
	r, err := opts.Forge.Ensure(ctx, pr)
	if err != nil {
		return fmt.Errorf("pull request for %s: %w", g.Branch, err)
	}
	g.Action, g.PullNumber, g.PullURL, g.Duplicates = string(r.Outcome), r.Number, r.URL, r.Duplicates
	return nil
}

// pushBranch pushes commit to the bot branch under a lease, unless the
// branch already holds a Ferry commit with the same change set. It reports
// whether it pushed (or, in a dry run, would push).
func pushBranch(ctx context.Context, repo *gitrepo.Repo, opts BumpOptions, bot botDetector, branch string, commit plumbing.Hash, fp string) (bool, error) {
	for try := 0; try < 2; try++ {
		head, exists, err := repo.RemoteHead(ctx, branch)
		if err != nil {
			return false, err
		}
		lease := gitrepo.Lease{MustNotExist: true}
		if exists {
			if _, err := repo.FetchBranch(ctx, branch); err != nil {
				return false, err
			}
			info, err := repo.CommitInfo(head)
			if err != nil {
				return false, err
			}
			if !strings.EqualFold(info.Author.Email, opts.Author.Email) || !strings.Contains(info.Message, "\n"+trailerChangeset+":") {
				return false, fmt.Errorf("branch %s has a commit Ferry did not make (%s by %s); leaving it alone — delete the branch or close its pull request to let Ferry take over",
					branch, head.String()[:12], info.Author.Name)
			}
			if Trailer(info.Message, trailerChangeset) == fp {
				return false, nil
			}
			lease = gitrepo.Lease{Expect: head}
		}
		if opts.DryRun {
			return true, nil
		}
		opts.Log.Info("pushing", "branch", branch, "commit", commit.String()[:12])
		err = repo.Push(ctx, commit, branch, lease)
		if errors.Is(err, gitrepo.ErrLeaseBroken) && try == 0 {
			// Someone moved the branch meanwhile (another Ferry?): look again.
			continue
		}
		if errors.Is(err, gitrepo.ErrLeaseBroken) {
			return false, fmt.Errorf("branch %s moved while Ferry was pushing to it; leaving it alone: %w", branch, err)
		}
		return err == nil, err
	}
	return false, nil
}

// closeStale closes the group's pull request, if one is open: its change is
// no longer needed (the base already has it, someone bumped by hand).
func closeStale(ctx context.Context, repo *gitrepo.Repo, opts BumpOptions, g *GroupResult) error {
	g.Action = "up-to-date"
	if opts.Mode != ModePullRequest || opts.Forge == nil {
		return nil
	}
	comment := fmt.Sprintf("Closing: %s no longer needs these changes (the manifests on `%s` already have them, or no policy wants them any more). Ferry will open a new pull request when a newer image appears.", g.Branch, opts.Branch)
	found, action, err := CloseStale(ctx, opts.Forge, opts.Owner, opts.Repo, g.Branch, comment, opts.DryRun)
	if found != nil {
		g.PullNumber, g.PullURL = found.Number, found.URL
	}
	g.Action = action
	return err
}

// CloseStale closes the open pull request from branch, if there is one,
// with comment and deleting the branch: its change is no longer needed.
// It returns the pull request it found and the action: "up-to-date" when
// none is open or closing failed, "would-close" for a dry run, else the
// forge's outcome.
func CloseStale(ctx context.Context, f Forge, owner, repo, branch, comment string, dryRun bool) (*forge.Found, string, error) {
	found, err := f.Find(ctx, owner, repo, branch)
	if err != nil {
		return nil, "up-to-date", fmt.Errorf("finding the pull request for %s: %w", branch, err)
	}
	if found == nil {
		return nil, "up-to-date", nil
	}
	if dryRun {
		return found, "would-close", nil
	}
	r, err := f.Close(ctx, owner, repo, branch, comment, true)
	if err != nil {
		return found, "up-to-date", fmt.Errorf("closing the pull request for %s: %w", branch, err)
	}
	return found, string(r.Outcome), nil
}

// current reports whether the open pull request already says what pr
// says: same base, title and body (line endings aside), and no label,
// reviewer or assignee missing. Ensure would then write nothing.
func current(open *forge.Found, pr forge.PullRequest) bool {
	if open == nil || open.Base != pr.Base || open.Title != pr.Title ||
		strings.ReplaceAll(open.Body, "\r\n", "\n") != strings.ReplaceAll(pr.Body, "\r\n", "\n") {
		return false
	}
	return !open.Lacks(pr)
}

// declined returns the pull request people closed without merging when it
// proposed exactly this change set (the group has no open one): Ferry does
// not propose it again (only a newer change set reopens the question).
func declined(ctx context.Context, opts BumpOptions, branch, fp string) (*forge.Closed, error) {
	if opts.Forge == nil {
		return nil, nil
	}
	closed, err := opts.Forge.LastClosed(ctx, opts.Owner, opts.Repo, branch)
	if err != nil {
		return nil, fmt.Errorf("looking for a declined pull request for %s: %w", branch, err)
	}
	if closed == nil || closed.Merged || !strings.Contains(closed.Body, "changeset="+fp+" ") {
		return nil, nil
	}
	return closed, nil
}

func findPR(ctx context.Context, opts BumpOptions, branch string) (*forge.Found, error) {
	if opts.Forge == nil {
		return nil, nil
	}
	f, err := opts.Forge.Find(ctx, opts.Owner, opts.Repo, branch)
	if err != nil {
		return nil, fmt.Errorf("finding the pull request for %s: %w", branch, err)
	}
	return f, nil
}

// pullRequest assembles the pull request of a group: the union of its
// policies' settings, or the repository's defaults where none are set.
func pullRequest(opts BumpOptions, cfg dotferry.Config, pols []*policy.Policy, g *GroupResult) forge.PullRequest {
	pr := forge.PullRequest{Owner: opts.Owner, Repo: opts.Repo, Base: opts.Branch, Head: g.Branch, Title: g.Title, Body: g.Body}
	add := func(dst *[]string, src []string) {
		for _, s := range src {
			if !slices.Contains(*dst, s) {
				*dst = append(*dst, s)
			}
		}
	}
	for _, p := range pols {
		add(&pr.Labels, p.PullRequest.Labels)
		add(&pr.Reviewers, p.PullRequest.Reviewers)
		add(&pr.TeamReviewers, p.PullRequest.TeamReviewers)
		add(&pr.Assignees, p.PullRequest.Assignees)
		pr.Draft = pr.Draft || p.PullRequest.Draft
	}
	d := cfg.PullRequest
	if len(pr.Labels) == 0 {
		add(&pr.Labels, d.Labels)
	}
	if len(pr.Reviewers) == 0 && len(pr.TeamReviewers) == 0 {
		add(&pr.Reviewers, d.Reviewers)
		add(&pr.TeamReviewers, d.TeamReviewers)
	}
	if len(pr.Assignees) == 0 {
		add(&pr.Assignees, d.Assignees)
	}
	pr.Draft = pr.Draft || d.Draft
	return pr
}

// title is "Bump myapp to release.20240301", naming each image and tag.
func title(changes []updater.Change, pols []*policy.Policy) string {
	images := map[string]string{}
	for _, p := range pols {
		images[p.Name] = p.Image
	}
	var parts []string
	for _, c := range changes {
		tag := c.To
		if c.Form == updater.FormImage {
			_, t, d := image.Split(c.To)
			tag = t
			if tag == "" {
				tag = d
			}
		}
		name := image.Path(images[c.Policy])
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if c.Form == updater.FormDigest {
			tag = image.ShortDigest(c.To)
		}
		s := name + " to " + tag
		if !slices.Contains(parts, s) {
			parts = append(parts, s)
		}
	}
	sort.Strings(parts)
	if len(parts) > 3 {
		return fmt.Sprintf("Bump %d images", len(parts))
	}
	return "Bump " + strings.Join(parts, ", ")
}

// body is the pull request's description: a table of every change.
func body(g *GroupResult, rep *Report, base, fp string) string {
	byPolicy := map[string]PolicyReport{}
	for _, p := range rep.Policies {
		byPolicy[p.Name] = p
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Ferry found newer images allowed by the policies in `.ferry/` and updated the manifests on `%s`.\n\n", base)
	b.WriteString("| File | Object | Change | Pushed | Digest | Policy |\n|---|---|---|---|---|---|\n")
	for _, c := range g.Changes {
		p := byPolicy[c.Policy]
		pushed, digest := "", ""
		if p.PushedAt != nil {
			pushed = p.PushedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		if p.Digest != "" {
			digest = "`" + image.ShortDigest(p.Digest) + "`"
		}
		obj := ObjectName(c.Object)
		if obj == "" {
			obj = c.FieldPath
		}
		fmt.Fprintf(&b, "| `%s:%d` | %s | `%s` → `%s` | %s | %s | %s (%s) |\n",
			c.File, c.Line, escapeCell(obj), escapeCell(ShortValue(c.Form, c.From)), escapeCell(ShortValue(c.Form, c.To)), pushed, digest, p.Name, p.Strategy)
	}
	if len(g.Holds) > 0 {
		b.WriteString("\nHeld back (rolled back by people earlier; only newer tags are proposed):\n\n")
		for _, h := range g.Holds {
			fmt.Fprintf(&b, "- `%s` %s: %s was rolled back by %s\n", h.File, h.FieldPath, h.Tag, h.By)
		}
	}
	fmt.Fprintf(&b, "\nMerge to roll it out. Ferry keeps this pull request up to date while newer images appear, and closes it if the change is no longer needed. Close it without merging to decline these versions: Ferry will not propose them again, only newer ones.\n\n<!-- ferry:group=%s changeset=%s -->\n", g.Group, fp)
	return b.String()
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// commitMessage is the subject, a line per change, and Ferry's trailers.
func commitMessage(g *GroupResult, fp string) string {
	var b strings.Builder
	b.WriteString(g.Title)
	b.WriteString("\n\n")
	for _, c := range g.Changes {
		fmt.Fprintf(&b, "- %s:%d %s: %s -> %s\n", c.File, c.Line, c.FieldPath, c.From, c.To)
	}
	fmt.Fprintf(&b, "\n%s: %s\n%s: %s\n", trailerChangeset, fp, trailerPolicies, strings.Join(g.Policies, ", "))
	return b.String()
}

// Trailer returns the value of the last "Key: value" line in msg, "" when
// there is none.
func Trailer(msg, key string) string {
	v := ""
	for _, line := range strings.Split(msg, "\n") {
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			v = strings.TrimSpace(rest)
		}
	}
	return v
}

// Fingerprint identifies a change set by the resulting content of the
// files it writes (paths relative to dir), so a branch holding the same
// result is recognised whatever base it was made on.
func Fingerprint(dir string, files []string) (string, error) {
	h := sha256.New()
	sorted := slices.Clone(files)
	slices.Sort(sorted)
	for _, f := range sorted {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(h, "%s\x00%x\n", f, sum)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}
