package main

import (
	"cmp"
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
	git                   gitFlags
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
		Args:  cobra.NoArgs,
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
	f.git.register(fs, "the GitHub token")
	fs.StringVar(&f.authorName, "author-name", "", "commit author name (default: .ferry/config.yaml spec.commit.authorName, else Ferry)")
	fs.StringVar(&f.authorEmail, "author-email", "", "commit author e-mail, also how Ferry recognises its own commits (default: spec.commit.authorEmail, else "+bot.DefaultAuthorEmail+")")
	fs.StringVar(&f.gpgKey, "signing-gpg-key", "", "armored OpenPGP private key file to sign commits with")
	fs.StringVar(&f.sshSigningKey, "signing-ssh-key", "", "SSH private key file to sign commits with")
}

// bumpOptions turns the flags into BumpOptions. Errors are usage errors
// (exit 2).
func bumpOptions(g *globals, f *bumpFlags) (bot.BumpOptions, error) {
	url, err := bot.CloneURL(f.url)
	if err != nil {
		return bot.BumpOptions{}, err
	}
	rc := service.RepoConfig{URL: url, Branch: f.branch, Mode: f.mode, Workdir: f.workdir}
	rc.Git.Username, rc.Git.TokenFile, rc.Git.SSHKeyFile, rc.Git.KnownHostsFile = f.git.user, f.git.tokenFile, f.git.sshKey, f.git.knownHosts
	rc.GitHub.URL, rc.GitHub.Repo, rc.GitHub.TokenFile = f.githubURL, f.githubRepo, f.githubTokenFile
	rc.GitHub.App.ID, rc.GitHub.App.InstallationID, rc.GitHub.App.PrivateKeyFile = f.appID, f.appInstall, f.appKeyFile
	rc.Author.Name, rc.Author.Email = f.authorName, f.authorEmail
	rc.Signing.GPGKeyFile, rc.Signing.SSHKeyFile = f.gpgKey, f.sshSigningKey
	opts, err := service.BumpOptions(rc, f.dryRun, os.Getenv)
	if err != nil {
		return bot.BumpOptions{}, usageError("%v", err)
	}
	opts.Depth, opts.Force, opts.Now, opts.Log = f.depth, f.force, g.now(), g.log
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
