package main

import (
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/cluster"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/printer"
	"github.com/ferrygitops/ferry/promote"
)

type promoteFlags struct {
	bump       bumpFlags
	kubeconfig string
	contextMap []string
	invNS      string
}

func newPromoteCmd(g *globals) *cobra.Command {
	var f promoteFlags
	cmd := &cobra.Command{
		Use:   "promote PROMOTION|APP --repo URL",
		Short: "Open or update the pull request promoting what staging proved to production",
		Long: `Promote runs the kind: Promotion documents of .ferry/ once (for a CronJob; 'ferry run'
does it after every sync). PROMOTION names one, or an App it promotes from or to.

For each, it reads staging's sync record and live health from staging's cluster (the
App's context), checks the gates — the newest sync Succeeded with every object Current,
staging has been healthy for spec.soak, the verification Job (run once per version in
staging's namespace) completed or the HTTP check answered, no Rejection names the
version — and, when all pass, opens or updates one pull request (branch
ferry/promote-NAME) setting production's references to exactly what staging runs: the
same tags and digests, written byte-exactly. Its body carries the evidence; a commit
status ferry/promotion marks its head. A newer version that passes updates the same pull
request; one that fails leaves it alone. Production already newer is never promoted
backwards; a promotion people rolled back is held.

Exit codes: 0 done (promoted, up to date, or waiting for a gate); 1 a gate failed
(blocked); 2 invalid flags or documents, or no such promotion; 3 git, GitHub or the
cluster failed.`,
		Example: `  # What would happen, without starting a Job or writing anything
  GITHUB_TOKEN=... ferry promote web --repo https://github.com/acme/manifests --dry-run

  # Every 5 minutes from a CronJob
  GITHUB_TOKEN=... ferry promote web --repo https://github.com/acme/manifests --context-map staging=kind-staging`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPromote(cmd, g, &f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.bump.url, "repo", "", "the manifest repository: its clone URL (https://, ssh://, git@host:..., file://) or a local clone's directory")
	fs.StringVar(&f.bump.branch, "branch", "main", "the base branch")
	fs.BoolVar(&f.bump.dryRun, "dry-run", false, "check the gates and show the pull request; start no Job, write nothing")
	fs.StringVar(&f.bump.workdir, "workdir", "", "keep the clone here and reuse it on the next run (default: a temporary directory, removed after)")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config; in-cluster when unset in a pod and no context is named)")
	fs.StringArrayVar(&f.contextMap, "context-map", nil, "map an app's destination context to a kubeconfig context: NAME=CONTEXT (repeatable)")
	fs.StringVar(&f.invNS, "inventory-namespace", "", "namespace of staging's records (default: the App's spec.destination.inventoryNamespace, else Ferry's namespace)")
	f.bump.registerWriteBack(cmd)
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func runPromote(cmd *cobra.Command, g *globals, f *promoteFlags, name string) error {
	f.bump.mode = string(bot.ModePullRequest)
	f.bump.depth = 0
	bo, err := bumpOptions(g, &f.bump)
	if err != nil {
		return err
	}
	aliases, err := cluster.ParseAliases(f.contextMap)
	if err != nil {
		return usageError("%v", err)
	}
	opts := promote.Options{URL: bo.URL, Branch: bo.Branch, Auth: bo.Auth, Dir: bo.Dir, Owner: bo.Owner, Repo: bo.Repo,
		Author: bo.Author, Signer: bo.Signer, Now: g.now(), DryRun: bo.DryRun, Log: g.log}
	if pf, ok := bo.Forge.(promote.Forge); ok {
		opts.Forge = pf
	}
	opts.Connect = promote.KubeconfigConnect(f.kubeconfig, aliases, f.invNS, g.log)
	g.progress("Cloning %s and checking the promotion gates…", gitrepo.RedactURL(bo.URL))
	results, err := promote.Run(cmd.Context(), opts, name)
	if errors.Is(err, promote.ErrNoPromotion) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	if g.machine() {
		if err := g.write(results); err != nil {
			return err
		}
	} else {
		printer.Promote(g.stdout, results, opts.DryRun)
	}
	code := 0
	for _, r := range results {
		switch {
		case r.Error != "":
			code = exitFailure
		case r.Action == "blocked" && code == 0:
			code = exitDiff
		}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

type rejectFlags struct {
	bump   bumpFlags
	reason string
	by     string
	undo   bool
}

func newRejectCmd(g *globals) *cobra.Command {
	var f rejectFlags
	cmd := &cobra.Command{
		Use:   "reject IMAGE:TAG|IMAGE@DIGEST --reason TEXT --repo URL",
		Short: "Reject a version everywhere: no bump or promotion writes it",
		Long: `Reject records a kind: Rejection document in .ferry/rejections.yaml of the manifest
repository (a file Ferry writes whole), by pull request (default), branch or direct push
(--mode). Once it is on the base branch, bumps never choose the version (the next one
down is chosen, or none), promotions never promote it, and 'ferry scan' lists it as
"rejected: REASON". --undo lifts the rejection the same way.

Exit codes: 0 done (or already so); 2 invalid flags or version, or --undo of a version
not rejected; 3 git or GitHub failed.`,
		Example: `  GITHUB_TOKEN=... ferry reject ghcr.io/acme/web:1.4.2 --reason "leaks memory" --repo https://github.com/acme/manifests
  ferry reject ghcr.io/acme/web@sha256:... --reason CVE-2026-1234 --mode push --repo git@github.com:acme/manifests.git
  GITHUB_TOKEN=... ferry reject ghcr.io/acme/web:1.4.2 --undo --repo https://github.com/acme/manifests`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReject(cmd, g, &f, args[0])
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.reason, "reason", "", "why the version is rejected (required unless --undo)")
	fs.StringVar(&f.by, "by", "", "who rejects it (recorded in spec.by)")
	fs.BoolVar(&f.undo, "undo", false, "lift the rejection instead")
	fs.StringVar(&f.bump.url, "repo", "", "the manifest repository: its clone URL or a local clone's directory")
	fs.StringVar(&f.bump.branch, "branch", "main", "the base branch")
	fs.StringVar(&f.bump.mode, "mode", "pull-request", "write-back mode: pull-request, branch or push")
	fs.BoolVar(&f.bump.dryRun, "dry-run", false, "show the change; write nothing")
	f.bump.registerWriteBack(cmd)
	_ = cmd.MarkFlagRequired("repo")
	return cmd
}

func runReject(cmd *cobra.Command, g *globals, f *rejectFlags, version string) error {
	if !f.undo && strings.TrimSpace(f.reason) == "" {
		return usageError("give --reason (or --undo)")
	}
	if _, err := dotferry.ParseRejected(version); err != nil {
		return usageError("%v", err)
	}
	bo, err := bumpOptions(g, &f.bump)
	if err != nil {
		return err
	}
	opts := promote.RejectOptions{URL: bo.URL, Branch: bo.Branch, Auth: bo.Auth, Mode: bo.Mode, Owner: bo.Owner, Repo: bo.Repo,
		Author: bo.Author, Signer: bo.Signer, Now: g.now(), DryRun: bo.DryRun, Log: g.log}
	if pf, ok := bo.Forge.(promote.Forge); ok {
		opts.Forge = pf
	}
	res, err := promote.Reject(cmd.Context(), opts, version, f.reason, f.by, f.undo)
	if errors.Is(err, promote.ErrNotRejected) {
		return usageError("%v", err)
	}
	if err != nil {
		return err
	}
	if g.machine() {
		return g.write(res)
	}
	printer.Reject(g.stdout, res, bo.DryRun)
	return nil
}
