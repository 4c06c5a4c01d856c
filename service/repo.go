package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/server"
)

// ReadSecretFile returns the content of a file holding a secret (a mounted
// Secret), without surrounding white space.
func ReadSecretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return strings.TrimSpace(string(data)), nil
}

// BumpOptions turns a repository's settings into the options of its bump
// cycles: the git and GitHub credentials read from their files (the GitHub
// token from getenv("GITHUB_TOKEN") when no file names one), the GitHub
// repository (github.repo, else derived from the URL) and the forge client.
// `ferry bump` builds a RepoConfig from its flags and calls it too. A dry
// run needs no GitHub credentials. Errors are configuration errors.
func BumpOptions(rc RepoConfig, dryRun bool, getenv func(string) string) (bot.BumpOptions, error) {
	mode := bot.WriteMode(cmp.Or(rc.Mode, string(bot.ModePullRequest)))
	switch mode {
	case bot.ModePullRequest, bot.ModeBranch, bot.ModePush:
	default:
		return bot.BumpOptions{}, fmt.Errorf("invalid mode %q: use pull-request, branch or push", rc.Mode)
	}
	ghToken := getenv("GITHUB_TOKEN")
	if rc.GitHub.TokenFile != "" {
		t, err := ReadSecretFile(rc.GitHub.TokenFile)
		if err != nil {
			return bot.BumpOptions{}, err
		}
		ghToken = t
	}
	auth := gitrepo.Auth{Username: cmp.Or(rc.Git.Username, gitrepo.DefaultUsername), Token: ghToken, SSHKeyFile: rc.Git.SSHKeyFile, SSHKnownHostsFile: rc.Git.KnownHostsFile}
	if rc.Git.TokenFile != "" {
		t, err := ReadSecretFile(rc.Git.TokenFile)
		if err != nil {
			return bot.BumpOptions{}, err
		}
		auth.Token = t
	}
	opts := bot.BumpOptions{
		URL: rc.URL, Branch: cmp.Or(rc.Branch, "main"), Auth: auth, Dir: rc.Workdir, Mode: mode,
		Author: gitrepo.Signature{Name: rc.Author.Name, Email: rc.Author.Email}, DryRun: dryRun,
	}
	var err error
	switch pass := getenv("FERRY_SIGNING_PASSPHRASE"); {
	case rc.Signing.GPGKeyFile != "" && rc.Signing.SSHKeyFile != "":
		return bot.BumpOptions{}, errors.New("give one signing key: signing.gpgKeyFile (--signing-gpg-key) or signing.sshKeyFile (--signing-ssh-key)")
	case rc.Signing.GPGKeyFile != "":
		if opts.Signer, err = gitrepo.OpenPGPSignerFromFile(rc.Signing.GPGKeyFile, pass); err != nil {
			return bot.BumpOptions{}, err
		}
	case rc.Signing.SSHKeyFile != "":
		if opts.Signer, err = gitrepo.SSHSignerFromFile(rc.Signing.SSHKeyFile, pass); err != nil {
			return bot.BumpOptions{}, err
		}
	}
	if mode != bot.ModePullRequest {
		return opts, nil
	}
	if rc.GitHub.Repo != "" {
		owner, name, ok := strings.Cut(rc.GitHub.Repo, "/")
		if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
			return bot.BumpOptions{}, fmt.Errorf("invalid GitHub repository %q: want OWNER/NAME", rc.GitHub.Repo)
		}
		opts.Owner, opts.Repo = owner, name
	} else if opts.Owner, opts.Repo, err = forge.ParseRepoURL(rc.URL); err != nil {
		return bot.BumpOptions{}, fmt.Errorf("%w (or name the GitHub repository: --github-repo, github.repo)", err)
	}
	fo := forge.Options{BaseURL: rc.GitHub.URL, Token: ghToken}
	if app := rc.GitHub.App; app.ID != 0 || app.InstallationID != 0 || app.PrivateKeyFile != "" {
		if app.ID == 0 || app.InstallationID == 0 || app.PrivateKeyFile == "" {
			return bot.BumpOptions{}, errors.New("a GitHub App needs its ID, installation ID and private key file (--github-app-id, --github-app-installation-id, --github-app-key-file; github.app.id, installationId, privateKeyFile)")
		}
		key, err := os.ReadFile(app.PrivateKeyFile)
		if err != nil {
			return bot.BumpOptions{}, fmt.Errorf("reading the GitHub App key: %w", err)
		}
		fo.Token = ""
		fo.App = &forge.AppAuth{AppID: app.ID, InstallationID: app.InstallationID, PrivateKeyPEM: key}
	}
	if fo.Token == "" && fo.App == nil {
		if !dryRun {
			return bot.BumpOptions{}, errors.New("pull-request mode needs GitHub credentials: set GITHUB_TOKEN, a token file (--github-token-file, github.tokenFile) or a GitHub App")
		}
		return opts, nil
	}
	if opts.Forge, err = forge.New(fo); err != nil {
		return bot.BumpOptions{}, err
	}
	return opts, nil
}

// repo is one configured repository and what the service knows of it.
type repo struct {
	i        int
	url      string // without credentials: shown, logged, a metrics label
	fullName string // "owner/name" on GitHub, lower case; "" when unknown
	opts     bot.BumpOptions
	sched    bot.Schedule
	// promoteKick asks the promotion loop for a run (a sync round ended).
	promoteKick chan struct{}

	mu        sync.Mutex
	last      *bot.BumpResult   // of the last cycle that completed
	config    dotferry.Config   // the last completed cycle's Config document (the defaults before)
	lastCycle *server.CycleInfo // the last cycle, completed or not
	apps      []deploy.App      // the apps being watched
	appsRead  bool              // this term read the apps once (or tried to)
}

// governs reports whether a pushed image is the image of one of the
// repository's policies in its last completed cycle; before the first,
// every image counts.
func (r *repo) governs(img string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil || r.last.Scan == nil || r.last.Scan.Set == nil {
		return true
	}
	for _, p := range r.last.Scan.Set.Policies {
		if p.Image == img {
			return true
		}
	}
	return false
}

// isBotBranch reports whether branch is one of the repository's bot
// branches, by its branch template (.ferry/config.yaml spec.branch, as the
// last completed cycle read it; the default before).
func (r *repo) isBotBranch(branch string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.config.BotBranch(branch)
	return ok
}

// cycle is one bump cycle of the repository; at most Config.Concurrency
// run at once.
func (s *Service) cycle(r *repo) func(ctx context.Context, reason string) error {
	log := s.log.With("repo", r.url)
	return func(ctx context.Context, reason string) error {
		select {
		case s.cycles <- struct{}{}:
			defer func() { <-s.cycles }()
		case <-ctx.Done():
			return ctx.Err()
		}
		opts := r.opts
		opts.Now, opts.Log = s.now(), log
		start, t0 := s.now(), time.Now()
		res, err := bot.Bump(ctx, s.reg, opts)
		took := time.Since(t0)
		var np *bot.NoPoliciesError
		if errors.As(err, &np) && np.Apps > 0 {
			// A repository of apps only: nothing to bump, nothing wrong.
			log.Debug("no image policies: the repository's apps are synced, nothing is bumped", "apps", np.Apps)
			res, err = &bot.BumpResult{Repo: r.url}, nil
		}
		s.metrics.ObserveCycle(cycleMetrics(r.url, res, took))
		info := &server.CycleInfo{Time: start, Duration: took, Trigger: reason}
		switch {
		case err != nil:
			info.Error = err.Error()
			s.events.Add("cycle", r.url+": bump failed: "+err.Error(), true)
		default:
			for _, gr := range res.Groups {
				if gr.Action != "unchanged" && gr.Action != "up-to-date" && gr.Action != "declined" {
					s.events.Add("bump", fmt.Sprintf("%s: %s: %s %s", r.url, gr.Group, gr.Action, gr.Title), gr.Error != "")
				}
			}
			if res.Failed() {
				err = fmt.Errorf("%s: some groups failed", r.url)
			}
			log.Debug("cycle done", "reason", reason, "took", took.Round(time.Millisecond), "groups", len(res.Groups), "failed", res.Failed())
		}
		r.mu.Lock()
		r.lastCycle = info
		if res != nil {
			r.last = res
			if res.Scan != nil && res.Scan.Set != nil {
				r.config = res.Scan.Set.Config
			}
		}
		r.mu.Unlock()
		return err
	}
}

// cycleMetrics is what the metrics count of a cycle.
func cycleMetrics(repo string, res *bot.BumpResult, took time.Duration) server.Cycle {
	c := server.Cycle{Repo: repo, Duration: took, Completed: res != nil}
	if res == nil {
		return c
	}
	c.Failed, c.Holds, c.TagsSeen = res.Failed(), len(res.Holds), map[string]int{}
	for _, g := range res.Groups {
		c.Actions = append(c.Actions, g.Action)
	}
	if res.Scan != nil {
		for _, p := range res.Scan.Policies {
			c.TagsSeen[p.Name] = p.TagsSeen
			if p.Verify == nil {
				continue
			}
			for _, r := range p.Verify.Rejected {
				if c.Unverified == nil {
					c.Unverified = map[string]map[string]int{}
				}
				if c.Unverified[p.Name] == nil {
					c.Unverified[p.Name] = map[string]int{}
				}
				c.Unverified[p.Name][string(r.Reason)]++
			}
		}
	}
	return c
}
