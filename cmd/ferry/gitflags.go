package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/service"
)

// gitFlags are the credentials for git over HTTPS and SSH, the same on
// every command that clones.
type gitFlags struct {
	user, tokenFile, sshKey, knownHosts string
}

// register adds the flags; tokenDefault says where the token comes from
// without --git-token-file.
func (f *gitFlags) register(fs *pflag.FlagSet, tokenDefault string) {
	fs.StringVar(&f.user, "git-username", gitrepo.DefaultUsername, "username for git over HTTPS")
	fs.StringVar(&f.tokenFile, "git-token-file", "", "file holding the token for git over HTTPS (default: "+tokenDefault+")")
	fs.StringVar(&f.sshKey, "ssh-key", "", "private key for git over SSH")
	fs.StringVar(&f.knownHosts, "ssh-known-hosts", "", "known_hosts file for git over SSH (default: ~/.ssh/known_hosts)")
}

// auth reads the credentials the flags name; the token is $GITHUB_TOKEN
// unless --git-token-file is given.
func (f *gitFlags) auth() (gitrepo.Auth, error) {
	auth := gitrepo.Auth{Username: f.user, Token: os.Getenv("GITHUB_TOKEN"), SSHKeyFile: f.sshKey, SSHKnownHostsFile: f.knownHosts}
	if f.tokenFile != "" {
		t, err := service.ReadSecretFile(f.tokenFile)
		if err != nil {
			return auth, usageError("%v", err)
		}
		auth.Token = t
	}
	return auth, nil
}
