package main

import (
	"cmp"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/printer"
	"github.com/ferrygitops/ferry/service"
)

type bumpFlags struct {
	url, branch, mode     string
	dryRun, once, force   bool
	depth                 int
	workdir               string
	githubURL, githubRepo string
	githubTokenFile       string
	appID, appInstall     int64
	appKeyFile            string
	gitUser, gitTokenFile string
	sshKey, sshKnownHosts string
	authorName            string
	authorEmail           string
	gpgKey, sshSigningKey string
	registry              registryFlags
}

func newBumpCmd(g *globals) *cobra.Command {
	var f bumpFlags
	cmd := &cobra.Command{
		Use:   "bump --repo URL",
		Short: "Clone the manifest repository, update images, and open or update one pull request per group",
		Long: `Bump runs one write-back cycle against a manifest repository:

  1. clone the base branch (HTTPS with a token, SSH with a key, or file://);
  2. scan and plan exactly like 'ferry update', holding back tags people rolled back;
  3. per group of policies (spec.pullRequest.group; default one per policy), commit the
     changes on top of the base and push them to the group's own branch (ferry/GROUP),
     force-updating only Ferry's own branch and only if nobody else pushed to it;
  4. open the group's pull request, or update it; close it when no longer needed.

It never opens a second pull request for a branch, and a run with nothing new makes no
git or GitHub writes. Modes: pull-request (default), branch (push only), push (commit
straight to the base branch).

Credentials: GITHUB_TOKEN (or --github-token-file) for the GitHub API, and for git over
HTTPS unless --git-token-file is given; or a GitHub App (--github-app-id,
--github-app-installation-id, --github-app-key-file), whose installation token also serves git
over HTTPS. Tokens never appear in logs, errors or the clone's .git/config.`,
		Example: `  # What would change, with the pull requests' titles, bodies and diffs; no writes
  GITHUB_TOKEN=... ferry bump --repo https://github.com/acme/manifests --dry-run

  # Open or update the pull requests (for example every 5 minutes from a CronJob)
  GITHUB_TOKEN=... ferry bump --repo https://github.com/acme/manifests

  # GitHub Enterprise, SSH for git
  ferry bump --repo git@ghe.example.com:acme/manifests.git --ssh-key ~/.ssh/id_ed25519 \
    --github-url https://ghe.example.com/api/v3/ --github-token-file /var/run/secrets/github/token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBump(cmd, g, &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.url, "repo", "", "the manifest repository: its clone URL (https://, ssh://, git@host:..., file://) or a local clone's directory")
	fs.StringVar(&f.branch, "branch", "main", "the base branch")
	fs.StringVar(&f.mode, "mode", "pull-request", "write-back mode: pull-request, branch or push")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the pull requests Ferry would create or update; write nothing")
	fs.BoolVar(&f.once, "once", true, "")
	_ = fs.MarkHidden("once")
	_ = fs.MarkDeprecated("once", "ferry bump always runs one cycle; 'ferry run' loops")
	fs.BoolVar(&f.force, "force", false, "also rewrite references whose current tag the policy cannot order")
	fs.StringVar(&f.workdir, "workdir", "", "keep the clone here and reuse it on the next run (default: a temporary directory, removed after)")
	fs.IntVar(&f.depth, "depth", 50, "clone depth (deepened when the rollback check needs more history); -1 for full")
	f.registerWriteBack(cmd)
	f.registry.register(cmd)
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

// registerWriteBack registers the flags of GitHub, git and commit
// credentials and identity (bump, promote, reject).
func (f *bumpFlags) registerWriteBack(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.githubURL, "github-url", "", "GitHub Enterprise API base URL, e.g. https://ghe.example.com/api/v3/")
	fs.StringVar(&f.githubRepo, "github-repo", "", "OWNER/NAME on GitHub (default: from --repo)")
	fs.StringVar(&f.githubTokenFile, "github-token-file", "", "file holding the GitHub token (default: $GITHUB_TOKEN)")
	fs.Int64Var(&f.appID, "github-app-id", 0, "GitHub App ID (with --github-app-installation-id and --github-app-key-file)")
	fs.Int64Var(&f.appInstall, "github-app-installation-id", 0, "GitHub App installation ID")
	fs.StringVar(&f.appKeyFile, "github-app-key-file", "", "GitHub App private key (PEM)")
	fs.StringVar(&f.gitUser, "git-username", gitrepo.DefaultUsername, "username for git over HTTPS")
	fs.StringVar(&f.gitTokenFile, "git-token-file", "", "file holding the token for git over HTTPS (default: the GitHub token)")
	fs.StringVar(&f.sshKey, "ssh-key", "", "private key for git over SSH")
	fs.StringVar(&f.sshKnownHosts, "ssh-known-hosts", "", "known_hosts file for git over SSH (default: ~/.ssh/known_hosts)")
	fs.StringVar(&f.authorName, "author-name", "", "commit author name (default: .ferry/config.yaml spec.commit.authorName, else Ferry)")
	fs.StringVar(&f.authorEmail, "author-email", "", "commit author e-mail, also how Ferry recognises its own commits (default: spec.commit.authorEmail, else "+bot.DefaultAuthorEmail+")")
	fs.StringVar(&f.gpgKey, "signing-gpg-key", "", "armored OpenPGP private key file to sign commits with")
	fs.StringVar(&f.sshSigningKey, "signing-ssh-key", "", "SSH private key file to sign commits with")
}

// bumpOptions turns the flags into BumpOptions. Errors are usage errors
// (exit 2).
func bumpOptions(g *globals, f *bumpFlags) (bot.BumpOptions, error) {
	usage := func(format string, args ...any) error {
		return &exitError{code: exitConfig, err: fmt.Errorf(format, args...)}
	}
	url, err := bot.CloneURL(f.url)
	if err != nil {
		return bot.BumpOptions{}, err
	}
	rc := service.RepoConfig{URL: url, Branch: f.branch, Mode: f.mode, Workdir: f.workdir}
	rc.Git.Username, rc.Git.TokenFile, rc.Git.SSHKeyFile, rc.Git.KnownHostsFile = f.gitUser, f.gitTokenFile, f.sshKey, f.sshKnownHosts
	rc.GitHub.URL, rc.GitHub.Repo, rc.GitHub.TokenFile = f.githubURL, f.githubRepo, f.githubTokenFile
	rc.GitHub.App.ID, rc.GitHub.App.InstallationID, rc.GitHub.App.PrivateKeyFile = f.appID, f.appInstall, f.appKeyFile
	rc.Author.Name, rc.Author.Email = f.authorName, f.authorEmail
	opts, err := service.BumpOptions(rc, f.dryRun, os.Getenv)
	if err != nil {
		return bot.BumpOptions{}, usage("%v", err)
	}
	opts.Depth, opts.Force, opts.Now, opts.Log = f.depth, f.force, g.now(), g.log
	switch {
	case f.gpgKey != "" && f.sshSigningKey != "":
		return bot.BumpOptions{}, usage("give one of --signing-gpg-key and --signing-ssh-key")
	case f.gpgKey != "":
		if opts.Signer, err = gitrepo.OpenPGPSignerFromFile(f.gpgKey, os.Getenv("FERRY_SIGNING_PASSPHRASE")); err != nil {
			return bot.BumpOptions{}, usage("%v", err)
		}
	case f.sshSigningKey != "":
		if opts.Signer, err = gitrepo.SSHSignerFromFile(f.sshSigningKey, os.Getenv("FERRY_SIGNING_PASSPHRASE")); err != nil {
			return bot.BumpOptions{}, usage("%v", err)
		}
	}
	return opts, nil
}

func runBump(cmd *cobra.Command, g *globals, f *bumpFlags) error {
	opts, err := bumpOptions(g, f)
	if err != nil {
		return err
	}
	g.progress("Cloning %s and scanning…", gitrepo.RedactURL(f.url))
	opts.Progress = func(gr bot.GroupResult) {
		g.progress("  %s: %s", gr.Group, cmp.Or(gr.Action, "error"))
	}
	res, err := bot.Bump(cmd.Context(), f.registry.client(), opts)
	if err != nil {
		return err
	}
	if g.machine() {
		if err := g.write(res); err != nil {
			return err
		}
	} else {
		printer.Bump(g.stdout, res)
	}
	if res.Failed() {
		return &exitError{code: exitFailure}
	}
	return nil
}
