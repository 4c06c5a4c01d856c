package promote

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
	"github.com/ferrygitops/ferry/updater"
)

// Staging is what Run reads of staging's cluster (deploy.Syncer).
type Staging interface {
	Status(ctx context.Context, app deploy.App) (deploy.AppStatus, error)
}

// Forge is what Run needs from the pull-request host (forge.Client): what
// a bump needs.
type Forge = bot.Forge

// StatusSetter is a Forge that also sets commit statuses (forge.Client).
type StatusSetter interface {
	SetStatus(ctx context.Context, owner, repo, sha string, s forge.Status) error
}

// StatusContext is the context of the promotion gate's commit status.
const StatusContext = "ferry/promotion"

// Options configure Run.
type Options struct {
	URL    string       // the manifest repository
	Branch string       // its base branch; default "main"
	Auth   gitrepo.Auth // git credentials
	// Dir keeps the clone between runs; default a temporary directory.
	Dir string

	Forge       Forge  // required unless DryRun
	Owner, Repo string // the GitHub repository

	// Staging reads staging's record and health (a deploy.Syncer on
	// staging's cluster); Kube runs the verification Job there.
	Staging Staging
	Kube    kubernetes.Interface
	// Connect, when Staging is nil, opens them for staging's App (its
	// context or server): how `ferry promote` reaches the cluster. close
	// is called when the promotion is done.
	Connect func(ctx context.Context, app deploy.App) (s Staging, kube kubernetes.Interface, close func(), err error)
	// HTTP makes the HTTP checks; default a client with a 30 s timeout.
	HTTP *http.Client

	Author gitrepo.Signature // Ferry's commits; When is set from Now
	Signer gitrepo.Signer
	Now    time.Time // required
	DryRun bool      // decide and show; no Job, no push, no pull-request write
	Log    *slog.Logger
}

// Result is what Run decided and did for one promotion.
type Result struct {
	Promotion    string    `json:"promotion"`
	From         string    `json:"from"`
	To           string    `json:"to"`
	Revision     string    `json:"revision,omitempty"` // staging's synced revision
	HealthySince time.Time `json:"healthySince,omitzero"`
	Gates        []Gate    `json:"gates"`
	// Action: waiting (a gate is pending), blocked (a gate failed),
	// up-to-date, created, updated, unchanged, closed, declined, or for a
	// dry run would-create, would-update, would-close.
	Action     string           `json:"action"`
	Branch     string           `json:"branch"`
	Changes    []updater.Change `json:"changes"`
	Skipped    []Skip           `json:"skipped,omitempty"`
	Holds      []bot.Hold       `json:"holds,omitempty"`
	Pushed     bool             `json:"pushed"`
	PullNumber int              `json:"pullNumber,omitempty"`
	PullURL    string           `json:"pullURL,omitempty"`
	Title      string           `json:"title,omitempty"`
	Body       string           `json:"body,omitempty"`
	Diff       string           `json:"diff,omitempty"`
	Error      string           `json:"error,omitempty"`
}

// Skip is a production reference left alone, and why.
type Skip struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Current string `json:"current"`
	Staging string `json:"staging"`
	Why     string `json:"why"`
}

// Passed reports whether every gate passed.
func (r *Result) Passed() bool {
	for _, g := range r.Gates {
		if g.State != Passed {
			return false
		}
	}
	return true
}

// ErrElsewhere, from Options.Connect, says staging's cluster is not this
// Ferry's to read: the promotion is left to the Ferry of that cluster
// (Result.Action "elsewhere").
var ErrElsewhere = errors.New("staging is another cluster's")

// ErrNoPromotion is a name that matches no Promotion document.
var ErrNoPromotion = errors.New("no such promotion")

// Run clones (or refreshes) the repository and runs the promotions
// matching name (a Promotion's name, or the App it promotes from or to);
// "" runs every promotion.
func Run(ctx context.Context, opts Options, name string) ([]Result, error) {
	if opts.Now.IsZero() {
		return nil, errors.New("promoting: no current time given")
	}
	if opts.Staging == nil && opts.Connect == nil {
		return nil, errors.New("promoting: no access to staging's cluster given")
	}
	if !opts.DryRun && (opts.Forge == nil || opts.Owner == "" || opts.Repo == "") {
		return nil, errors.New("promoting: pull requests need the GitHub repository and credentials")
	}
	opts.Branch = cmp.Or(opts.Branch, "main")
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	var err error
	if opts.Auth, err = gitAuth(ctx, opts.Forge, opts.Auth); err != nil {
		return nil, err
	}
	repo, set, cleanup, err := checkout(ctx, opts, "ferry-promote-")
	defer cleanup()
	if err != nil {
		return nil, err
	}
	var todo []dotferry.Promotion
	for _, p := range set.Promotions {
		if name == "" || p.Name == name || p.From == name || p.ToApp == name {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		if name == "" {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %q names no Promotion in %s (nor an App one promotes from or to)", ErrNoPromotion, name, dotferry.Dir)
	}
	opts.Author.Name = cmp.Or(opts.Author.Name, set.Config.AuthorName, bot.DefaultAuthorName)
	opts.Author.Email = cmp.Or(opts.Author.Email, set.Config.AuthorEmail, bot.DefaultAuthorEmail)
	var out []Result
	for _, p := range todo {
		r := runOne(ctx, opts, repo, set, p)
		opts.Log.Info("promotion", "promotion", p.Name, "action", r.Action, "revision", short(r.Revision), "pull", r.PullNumber, "error", r.Error)
		out = append(out, r)
	}
	return out, nil
}

// gitAuth gives git a GitHub App's installation token, minted now, when
// it was given no credentials of its own (as the bump cycle does).
func gitAuth(ctx context.Context, f any, auth gitrepo.Auth) (gitrepo.Auth, error) {
	tg, ok := f.(interface {
		GitToken(ctx context.Context) (string, error)
	})
	if !ok || auth.Token != "" || auth.SSHKeyFile != "" {
		return auth, nil
	}
	tok, err := tg.GitToken(ctx)
	if err != nil {
		return auth, fmt.Errorf("getting a token for git from GitHub: %w", err)
	}
	auth.Username = cmp.Or(auth.Username, gitrepo.DefaultUsername)
	auth.Token = tok
	return auth, nil
}

// checkout opens the clone of opts.URL's opts.Branch in opts.Dir (a
// temporary directory named prefix… when "", which cleanup removes) and
// reads its .ferry (none: an empty set, no promotion).
func checkout(ctx context.Context, opts Options, prefix string) (repo *gitrepo.Repo, set *dotferry.Set, cleanup func(), err error) {
	cleanup = func() {}
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", prefix)
		if err != nil {
			return nil, nil, cleanup, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		dir = filepath.Join(tmp, "repo")
	}
	if repo, err = openOrClone(ctx, dir, opts); err != nil {
		return nil, nil, cleanup, err
	}
	set, err = dotferry.LoadDir(filepath.Join(repo.Dir(), dotferry.Dir))
	if errors.Is(err, fs.ErrNotExist) {
		set, err = &dotferry.Set{}, nil
	}
	if err != nil {
		return nil, nil, cleanup, err
	}
	return repo, set, cleanup, nil
}

func openOrClone(ctx context.Context, dir string, opts Options) (*gitrepo.Repo, error) {
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		if repo, err := gitrepo.Open(ctx, opts.URL, opts.Branch, dir, opts.Auth, 0); err == nil {
			return repo, nil
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
	return gitrepo.Clone(ctx, opts.URL, opts.Branch, dir, opts.Auth, 0)
}

func runOne(ctx context.Context, opts Options, repo *gitrepo.Repo, set *dotferry.Set, p dotferry.Promotion) Result {
	res := Result{Promotion: p.Name, From: p.From, To: cmp.Or(p.ToApp, p.ToPath), Branch: set.Config.BranchFor("promote-" + p.Name), Changes: []updater.Change{}}
	if err := promote(ctx, opts, repo, set, p, &res); err != nil {
		res.Error = err.Error()
		if res.Action == "" {
			res.Action = "error"
		}
	}
	return res
}

func promote(ctx context.Context, opts Options, repo *gitrepo.Repo, set *dotferry.Set, p dotferry.Promotion, res *Result) error {
	apps := dotferry.WithRepository(set.Apps, opts.URL, opts.Branch)
	staging, _ := dotferry.FindApp(apps, p.From)
	prodPath := p.ToPath
	if p.ToApp != "" {
		a, _ := dotferry.FindApp(apps, p.ToApp)
		prodPath = a.CleanPath()
	}
	if opts.Staging == nil {
		s, kube, closeFn, err := opts.Connect(ctx, staging)
		if errors.Is(err, ErrElsewhere) {
			res.Action = "elsewhere"
			return nil
		}
		if err != nil {
			return fmt.Errorf("connecting to staging's cluster (app %s): %w", staging.Name, err)
		}
		defer closeFn()
		opts.Staging, opts.Kube = s, kube
	}
	st, err := opts.Staging.Status(ctx, staging)
	if err != nil {
		return fmt.Errorf("reading staging's status (app %s): %w", staging.Name, err)
	}
	gates, rev := syncedGates(st)
	res.Gates, res.Revision = gates, rev
	if stop(res) {
		return nil
	}
	gr, err := git.PlainOpen(repo.Dir())
	if err != nil {
		return err
	}
	tree, err := treeAt(gr, rev)
	if err != nil {
		return fmt.Errorf("staging's revision %s: %w", short(rev), err)
	}
	// What staging runs: its references at the synced revision.
	want, err := stagingVersions(ctx, tree, staging.CleanPath(), set.Policies)
	if err != nil {
		return fmt.Errorf("reading staging's manifests at %s: %w", short(rev), err)
	}
	key := versionKey(want)
	res.HealthySince = healthySince(st, func(r string) bool {
		if r == rev {
			return true
		}
		t, err := treeAt(gr, r)
		if err != nil {
			return false
		}
		w, err := stagingVersions(ctx, t, staging.CleanPath(), set.Policies)
		return err == nil && versionKey(w) == key
	})
	if res.HealthySince.IsZero() {
		res.Gates = append(res.Gates, Gate{Name: "healthy", State: Failed, Detail: "no healthy sync of " + short(rev)})
		stop(res)
		return nil
	}
	res.Gates = append(res.Gates, Gate{Name: "healthy", State: Passed, Detail: "healthy since " + res.HealthySince.UTC().Format(time.RFC3339)})
	byName := map[string]*policy.Policy{}
	for _, pol := range set.Policies {
		byName[pol.Name] = pol
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		v := version(want[name])
		if rj, bad := dotferry.FindRejection(set.Rejections, byName[name].Image, v.tag, v.digest); bad {
			res.Gates = append(res.Gates, Gate{Name: "rejected", State: Failed, Detail: fmt.Sprintf("%s is rejected (%s): %s", rj.Written, rj.Source, rj.Reason)})
		}
	}
	if stop(res) {
		return nil
	}

	// Production's references, planned to staging's versions: read with
	// the policies that govern staging's, and only those (a policy bumping
	// production by itself is not the promotion's).
	var stagingPols []*policy.Policy
	for _, name := range slices.Sorted(maps.Keys(want)) {
		stagingPols = append(stagingPols, byName[name])
	}
	prodPols := scoped(stagingPols, prodPath)
	scan, err := updater.Scan(ctx, repo.Dir(), prodPols, updater.Options{})
	if err != nil {
		return err
	}
	if len(scan.Errors) > 0 {
		fe := scan.Errors[0]
		return fmt.Errorf("reading production's manifests: %s:%d: %v", fe.File, fe.Line, fe.Err)
	}
	var decisions []updater.Decision
	for _, r := range scan.References {
		s, ok := want[r.Policy]
		if !ok || !within(r.File, prodPath) {
			continue
		}
		to, why := target(r, s, byName[r.Policy])
		d := updater.Decision{Reference: r, Status: updater.StatusUpdate, Wanted: to}
		switch {
		case why != "":
			d.Status, d.Why = updater.StatusAhead, why
			res.Skipped = append(res.Skipped, Skip{File: r.File, Line: r.Line, Current: r.Current, Staging: s.Current, Why: why})
		case to == r.Current:
			d.Status = updater.StatusCurrent
		}
		decisions = append(decisions, d)
	}
	holds, err := bot.FindHolds(ctx, repo, decisions, prodPols, opts.Author.Email, set.Config.BranchPrefix())
	if err != nil {
		return err
	}
	bot.ApplyHolds(decisions, holds, prodPols)
	res.Holds = holds
	for _, d := range decisions {
		if d.Status == bot.StatusHeld {
			res.Skipped = append(res.Skipped, Skip{File: d.File, Line: d.Line, Current: d.Current, Staging: d.Wanted, Why: d.Why})
		}
	}
	res.Changes = updater.Changes(decisions)
	if len(res.Changes) == 0 {
		// Production runs what staging does (or is ahead, or held).
		return closeStale(ctx, opts, res)
	}

	res.Gates = append(res.Gates, soakGate(res.HealthySince, p.Soak, opts.Now))
	if stop(res) {
		return nil
	}
	switch {
	case p.Job != "":
		tmpl, err := gitrepo.TreeFS(tree).(fs.ReadFileFS).ReadFile(p.Job)
		if err != nil {
			res.Gates = append(res.Gates, Gate{Name: "verification", State: Failed, Detail: fmt.Sprintf("reading the Job template %s at %s: %v", p.Job, short(rev), err)})
		} else {
			res.Gates = append(res.Gates, verifyJob(ctx, opts, p, staging, rev, key, tmpl))
		}
	case p.HTTP != "":
		res.Gates = append(res.Gates, verifyHTTP(ctx, opts.HTTP, p))
	}
	if stop(res) {
		return nil
	}
	return writeBack(ctx, opts, repo, set, p, res)
}

func treeAt(gr *git.Repository, rev string) (*object.Tree, error) {
	commit, err := gr.CommitObject(plumbing.NewHash(rev))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, errors.New("not in the history of the branch")
	}
	if err != nil {
		return nil, err
	}
	return commit.Tree()
}

// stagingVersions maps each policy to the reference naming its image in
// staging's manifests; two versions of one image are an error.
func stagingVersions(ctx context.Context, tree *object.Tree, dir string, pols []*policy.Policy) (map[string]updater.Reference, error) {
	refs, err := scanTree(ctx, tree, dir, pols)
	if err != nil {
		return nil, err
	}
	want := map[string]updater.Reference{}
	for _, r := range refs {
		if r.Form != updater.FormImage && r.Form != updater.FormTag && r.Form != updater.FormDigest {
			continue
		}
		if prev, ok := want[r.Policy]; ok && version(prev) != version(r) {
			return nil, fmt.Errorf("staging runs two versions of policy %s's image (%s:%d and %s:%d): promote one", r.Policy, prev.File, prev.Line, r.File, r.Line)
		}
		want[r.Policy] = r
	}
	return want, nil
}

// VersionKey identifies the versions staging runs.
func versionKey(want map[string]updater.Reference) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		v := version(want[name])
		fmt.Fprintf(h, "%s=%s@%s\n", name, v.tag, v.digest)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// stop sets the action when a gate did not pass.
func stop(res *Result) bool {
	for _, g := range res.Gates {
		if g.State == Failed {
			res.Action = "blocked"
			return true
		}
	}
	for _, g := range res.Gates {
		if g.State == Pending {
			res.Action = "waiting"
			return true
		}
	}
	return false
}

type ver struct{ tag, digest string }

// version is the tag and digest a reference names.
func version(r updater.Reference) ver {
	switch r.Form {
	case updater.FormImage:
		_, t, d := image.Split(r.Current)
		return ver{t, d}
	case updater.FormTag:
		return ver{tag: r.Current}
	case updater.FormDigest:
		return ver{digest: r.Current}
	}
	return ver{}
}

// target is the value production's reference r takes to run what staging's
// reference s names, or why it is left alone.
func target(r, s updater.Reference, p *policy.Policy) (string, string) {
	sv, pv := version(s), version(r)
	if sv.tag != "" && pv.tag != "" && p != nil {
		if c, err := p.Compare(image.Tag{Name: sv.tag}, image.Tag{Name: pv.tag}); err == nil && c < 0 {
			return "", fmt.Sprintf("production's %s is newer than staging's %s: never promoted backwards", pv.tag, sv.tag)
		}
	}
	switch r.Form {
	case updater.FormImage:
		name, _, _ := image.Split(r.Current)
		out := name
		if sv.tag != "" {
			out += ":" + sv.tag
		}
		if sv.digest != "" {
			out += "@" + sv.digest
		}
		return out, ""
	case updater.FormTag:
		if sv.tag == "" {
			return "", "staging names no tag (only " + image.ShortDigest(sv.digest) + ") for this tag field"
		}
		return sv.tag, ""
	case updater.FormDigest:
		if sv.digest == "" {
			return "", "staging names no digest for this digest field"
		}
		return sv.digest, ""
	}
	return r.Current, ""
}

// scoped copies the policies to govern only the files under dir.
func scoped(pols []*policy.Policy, dir string) []*policy.Policy {
	out := make([]*policy.Policy, 0, len(pols))
	for _, p := range pols {
		q := *p
		if dir == "." {
			q.UpdatePaths = nil
		} else {
			q.UpdatePaths = []string{dir, dir + "/**"}
		}
		out = append(out, &q)
	}
	return out
}

func within(file, dir string) bool {
	return dir == "." || file == dir || strings.HasPrefix(file, dir+"/")
}

// scanTree finds the references under dir in a git tree, by writing its
// files to a scratch directory.
func scanTree(ctx context.Context, tree *object.Tree, dir string, pols []*policy.Policy) ([]updater.Reference, error) {
	tmp, err := os.MkdirTemp("", "ferry-staging-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	err = tree.Files().ForEach(func(f *object.File) error {
		if !within(f.Name, dir) || !f.Mode.IsFile() {
			return nil
		}
		data, err := gitrepo.ReadBlob(f)
		if err != nil {
			return err
		}
		p := filepath.Join(tmp, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, data, 0o644)
	})
	if err != nil {
		return nil, err
	}
	res, err := updater.Scan(ctx, tmp, scoped(pols, dir), updater.Options{})
	if err != nil {
		return nil, err
	}
	if len(res.Errors) > 0 {
		fe := res.Errors[0]
		return nil, fmt.Errorf("%s:%d: %v", fe.File, fe.Line, fe.Err)
	}
	return res.References, nil
}

// FromBump takes the repository, credentials, forge, commit identity and
// dry run of a bump's options, so that promotions reach the repository
// exactly as `ferry bump` does (the CLI's and the service's configuration).
func FromBump(bo bot.BumpOptions, now time.Time, log *slog.Logger) Options {
	return Options{URL: bo.URL, Branch: bo.Branch, Auth: bo.Auth, Dir: bo.Dir, Forge: bo.Forge, Owner: bo.Owner, Repo: bo.Repo,
		Author: bo.Author, Signer: bo.Signer, Now: now, DryRun: bo.DryRun, Log: log}
}

// Outcome folds results into what a one-shot run reports: failed when a
// promotion could not be decided or carried out, blocked when one is held
// by a failing gate.
func Outcome(results []Result) (failed, blocked bool) {
	for _, r := range results {
		failed = failed || r.Error != ""
		blocked = blocked || r.Action == "blocked"
	}
	return failed, blocked
}
