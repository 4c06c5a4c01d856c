package service

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/forge"
	"github.com/ferrygitops/ferry/gitrepo"
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
	if mode != bot.ModePullRequest {
		return opts, nil
	}
	var err error
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
