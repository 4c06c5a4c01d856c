package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/printer"
)

type scanFlags struct {
	repo     string
	policies string
	branch   string
	explain  bool
	exitCode bool
	stats    bool
	force    bool
	registry registryFlags
}

func (f *scanFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.repo, "repo", ".", "the manifest repository: a local directory, or (for scan) a clone URL read at --branch (HTTPS with $GITHUB_TOKEN)")
	fs.StringVar(&f.branch, "branch", "main", "the branch to read when --repo is a clone URL")
	fs.StringVar(&f.policies, "policies", "", "directory of policy files (default: REPO/.ferry)")
	fs.BoolVar(&f.explain, "explain", false, "also list the files not read and why, markers that update nothing, and what Ferry reads but does differently")
	fs.BoolVar(&f.exitCode, "exit-code", false, "exit 1 when references would change (for CI gates; a failure still exits 3)")
	fs.BoolVar(&f.stats, "stats", false, "report the registry calls made")
	f.registry.register(cmd)
}

func newScanCmd(g *globals) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Show, for each policy, the newest allowed tag and where the image is used",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := runScan(cmd, g, &f)
			if err != nil {
				return err
			}
			if g.machine() {
				if err := g.write(rep); err != nil {
					return err
				}
			} else {
				printer.Scan(g.stdout, rep, f.explain)
			}
			if rep.Failed() {
				return &exitError{code: exitFailure}
			}
			if f.exitCode && pending(rep) {
				return &exitError{code: exitDiff}
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func runScan(cmd *cobra.Command, g *globals, f *scanFlags) (*bot.Report, error) {
	client := f.registry.client()
	remote := bot.IsRemote(f.repo)
	if remote && cmd.Name() != "scan" {
		return nil, usageError("--repo %s is a clone URL, but %s rewrites a working tree: give a local clone's directory (ferry bump clones, updates and opens pull requests)", gitrepo.RedactURL(f.repo), cmd.Name())
	}
	opts := bot.ScanOptions{Repo: f.repo, PoliciesDir: f.policies, Now: g.now(), Explain: f.explain, Force: f.force}
	var rep *bot.Report
	var err error
	if remote {
		g.progress("Cloning %s…", gitrepo.RedactURL(f.repo))
	}
	g.log.Info("scanning", "repo", gitrepo.RedactURL(f.repo))
	g.progress("Scanning %s and listing its images' tags…", gitrepo.RedactURL(f.repo))
	if remote {
		auth := gitrepo.Auth{Username: gitrepo.DefaultUsername, Token: os.Getenv("GITHUB_TOKEN")}
		rep, err = bot.ScanURL(cmd.Context(), client, f.repo, f.branch, auth, opts)
	} else {
		rep, err = bot.Scan(cmd.Context(), client, opts)
	}
	if err != nil {
		return nil, err
	}
	if f.stats {
		rep.CountCalls(client.Stats().Total())
	}
	for _, p := range rep.Policies {
		if p.Error != "" {
			// The report says it too; the log line is for -o json and log collectors.
			g.log.Debug("policy failed", "policy", p.Name, "error", p.Error)
		}
	}
	return rep, nil
}

// pending reports whether a scan's plan would change any reference.
func pending(rep *bot.Report) bool { return len(rep.Changes()) > 0 }
