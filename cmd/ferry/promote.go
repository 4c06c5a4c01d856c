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
		Args:  cobra.ExactArgs(1),
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
	opts := promote.FromBump(bo, g.now(), g.log)
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
	switch failed, blocked := promote.Outcome(results); {
	case failed:
		return &exitError{code: exitFailure}
	case blocked:
		return &exitError{code: exitDiff}
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
		Args:  cobra.ExactArgs(1),
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
	opts := promote.RejectFromBump(bo, g.now(), g.log)
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
