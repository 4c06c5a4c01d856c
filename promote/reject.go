package promote

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/atomicfile"
)

// RejectOptions configure Reject.
type RejectOptions struct {
	URL    string
	Branch string // default "main"
	Auth   gitrepo.Auth
	Dir    string // keeps the clone; default a temporary directory

	// Mode: bot.ModePush commits to the base branch; bot.ModeBranch
	// pushes the branch ferry/reject-VERSION; bot.ModePullRequest (the
	// default) also opens its pull request.
	Mode        bot.WriteMode
	Forge       Forge
	Owner, Repo string

	Author gitrepo.Signature
	Signer gitrepo.Signer
	Now    time.Time // required: the commit time and spec.at
	DryRun bool
	Log    *slog.Logger
}

// RejectResult is what Reject did.
type RejectResult struct {
	Version string `json:"version"`
	Undo    bool   `json:"undo"`
	File    string `json:"file"`
	// Action: pushed, created, updated, unchanged (the pull request
	// already proposes it), already (the repository already says so), or
	// would-push, would-create for a dry run.
	Action     string `json:"action"`
	Branch     string `json:"branch,omitempty"`
	Commit     string `json:"commit,omitempty"`
	PullNumber int    `json:"pullNumber,omitempty"`
	PullURL    string `json:"pullURL,omitempty"`
	Diff       string `json:"diff,omitempty"`
}

// ErrNotRejected is an undo of a version no Rejection names.
var ErrNotRejected = errors.New("not rejected")

var slugRE = regexp.MustCompile(`[^a-z0-9.-]+`)

// Reject records (or, with undo, lifts) the rejection of version
// (IMAGE:TAG or IMAGE@DIGEST) in dotferry.RejectionsFile, by the write-back
// mode. The file is Ferry's: it is written whole, one Rejection document
// per version, sorted as they were added. A rejection declared in another
// file is reported, not edited.
func Reject(ctx context.Context, opts RejectOptions, version, reason, by string, undo bool) (*RejectResult, error) {
	rj, err := dotferry.ParseRejected(version)
	if err != nil {
		return nil, err
	}
	if !undo && strings.TrimSpace(reason) == "" {
		return nil, errors.New("rejecting needs a reason (--reason)")
	}
	if opts.Now.IsZero() {
		return nil, errors.New("rejecting: no current time given")
	}
	opts.Branch = cmp.Or(opts.Branch, "main")
	opts.Mode = bot.WriteMode(cmp.Or(string(opts.Mode), string(bot.ModePullRequest)))
	if opts.Mode == bot.ModePullRequest && !opts.DryRun && (opts.Forge == nil || opts.Owner == "" || opts.Repo == "") {
		return nil, errors.New("rejecting by pull request needs the GitHub repository and credentials")
	}
	if opts.Auth, err = gitAuth(ctx, opts.Forge, opts.Auth); err != nil {
		return nil, err
	}
	repo, set, cleanup, err := checkout(ctx, Options{URL: opts.URL, Branch: opts.Branch, Auth: opts.Auth, Dir: opts.Dir}, "ferry-reject-")
	defer cleanup()
	if err != nil {
		return nil, err
	}
	opts.Author.Name = cmp.Or(opts.Author.Name, set.Config.AuthorName, bot.DefaultAuthorName)
	opts.Author.Email = cmp.Or(opts.Author.Email, set.Config.AuthorEmail, bot.DefaultAuthorEmail)
	res := &RejectResult{Version: rj.Written, Undo: undo, File: dotferry.RejectionsFile}

	var mine []dotferry.Rejection // those of RejectionsFile
	found := -1
	for _, r := range set.Rejections {
		same := r.Image == rj.Image && r.Tag == rj.Tag && r.Digest == rj.Digest
		inFile := filepath.ToSlash(r.Source.File) == filepath.ToSlash(filepath.Join(repo.Dir(), dotferry.RejectionsFile)) ||
			strings.HasSuffix(filepath.ToSlash(r.Source.File), "/"+dotferry.RejectionsFile)
		if same && !inFile {
			if undo {
				return nil, fmt.Errorf("%s is rejected in %s, not in %s: remove it there", rj.Written, r.Source, dotferry.RejectionsFile)
			}
			res.Action = "already"
			return res, nil
		}
		if inFile {
			if same {
				found = len(mine)
			}
			mine = append(mine, r)
		}
	}
	switch {
	case undo && found < 0:
		return nil, fmt.Errorf("%s: %w", rj.Written, ErrNotRejected)
	case undo:
		mine = append(mine[:found], mine[found+1:]...)
	case found >= 0:
		res.Action = "already"
		return res, nil
	default:
		rj.Reason, rj.By, rj.At = strings.TrimSpace(reason), by, opts.Now.UTC().Format(time.RFC3339)
		mine = append(mine, rj)
	}

	content, err := renderRejections(mine)
	if err != nil {
		return nil, err
	}
	if _, err := dotferry.Parse(dotferry.RejectionsFile, content); err != nil {
		return nil, fmt.Errorf("the rejections Ferry would write do not read back: %w", err)
	}
	path := filepath.Join(repo.Dir(), filepath.FromSlash(dotferry.RejectionsFile))
	old, _ := os.ReadFile(path)
	if res.Diff, err = difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(old)), B: difflib.SplitLines(string(content)),
		FromFile: "a/" + dotferry.RejectionsFile, ToFile: "b/" + dotferry.RejectionsFile, Context: 3}); err != nil {
		return nil, err
	}
	if err := writeAtomic(path, content); err != nil {
		return nil, err
	}
	defer repo.RestoreFromBase([]string{dotferry.RejectionsFile})
	verb, subject := "Reject", fmt.Sprintf("Reject %s: %s", rj.Written, rj.Reason)
	if undo {
		verb, subject = "Unreject", "Lift the rejection of "+rj.Written
	}
	author := opts.Author
	author.When = opts.Now
	fp, err := bot.Fingerprint(repo.Dir(), []string{dotferry.RejectionsFile})
	if err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("%s\n\n%s by ferry reject.\n\n%s: %s\n", subject, verb, bot.TrailerChangeset, fp)
	commit, err := repo.Commit(ctx, []string{dotferry.RejectionsFile}, msg, author, opts.Signer)
	if err != nil {
		return nil, err
	}
	res.Commit = commit.String()
	if opts.Mode == bot.ModePush {
		if opts.DryRun {
			res.Action = "would-push"
			return res, nil
		}
		if err := repo.Push(ctx, commit, opts.Branch, gitrepo.Lease{FastForward: true}); err != nil {
			return nil, err
		}
		res.Action, res.Branch = "pushed", opts.Branch
		return res, nil
	}
	prefix := "reject-"
	if undo {
		prefix = "unreject-"
	}
	res.Branch = set.Config.BranchFor(prefix + strings.Trim(slugRE.ReplaceAllString(strings.ToLower(rj.Version()), "-"), "-"))
	_, pushed, err := pushBranch(ctx, Options{DryRun: opts.DryRun}, repo, res.Branch, commit, fp)
	if err != nil {
		return nil, err
	}
	if opts.Mode == bot.ModeBranch {
		res.Action = map[bool]string{true: "pushed", false: "unchanged"}[pushed]
		if opts.DryRun && pushed {
			res.Action = "would-push"
		}
		return res, nil
	}
	if opts.DryRun {
		res.Action = "would-create"
		return res, nil
	}
	body := fmt.Sprintf("%s `%s`", verb, rj.Written)
	if !undo {
		body += fmt.Sprintf(": %s\n\nOnce merged, no bump and no promotion writes this version anywhere; `ferry scan` shows it as rejected. `ferry reject --undo %s` lifts it.", rj.Reason, rj.Written)
	} else {
		body += ": once merged, bumps and promotions may write it again."
	}
	body += fmt.Sprintf("\n\n<!-- ferry:reject changeset=%s -->\n", fp)
	r, err := opts.Forge.Ensure(ctx, forge.PullRequest{Owner: opts.Owner, Repo: opts.Repo, Base: opts.Branch, Head: res.Branch, Title: subject, Body: body,
		Labels: set.Config.PullRequest.Labels, Reviewers: set.Config.PullRequest.Reviewers, TeamReviewers: set.Config.PullRequest.TeamReviewers})
	if err != nil {
		return nil, fmt.Errorf("pull request for %s: %w", res.Branch, err)
	}
	res.Action, res.PullNumber, res.PullURL = string(r.Outcome), r.Number, r.URL
	return res, nil
}

// renderRejections writes the Rejection documents of RejectionsFile.
func renderRejections(rs []dotferry.Rejection) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Versions no bump or promotion may write. `ferry reject` and `ferry reject --undo` edit this file.\n")
	if len(rs) == 0 {
		return b.Bytes(), nil
	}
	for i, r := range rs {
		if i > 0 {
			b.WriteString("---\n")
		}
		spec := map[string]string{"image": r.Written, "reason": r.Reason}
		if r.By != "" {
			spec["by"] = r.By
		}
		if r.At != "" {
			spec["at"] = r.At
		}
		doc := map[string]any{"apiVersion": dotferry.APIVersion, "kind": dotferry.KindRejection, "spec": spec}
		data, err := yaml.Marshal(doc)
		if err != nil {
			return nil, err
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}

// writeAtomic replaces path by data (mode 0644), making its directory.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, data, 0o644)
}

// RejectFromBump is FromBump for RejectOptions, with the bump's write mode.
func RejectFromBump(bo bot.BumpOptions, now time.Time, log *slog.Logger) RejectOptions {
	return RejectOptions{URL: bo.URL, Branch: bo.Branch, Auth: bo.Auth, Dir: bo.Dir, Mode: bo.Mode, Forge: bo.Forge, Owner: bo.Owner, Repo: bo.Repo,
		Author: bo.Author, Signer: bo.Signer, Now: now, DryRun: bo.DryRun, Log: log}
}
