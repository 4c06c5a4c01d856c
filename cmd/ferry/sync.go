package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/deploy"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/printer"
)

// revertPRHook opens revert pull requests for `ferry rollback --pr`;
// revertpr.go sets it to openRevertPR (git push and the forge package).
var revertPRHook deploy.RevertPRFunc

// syncFlags are the flags of sync, diff, status and rollback.
type syncFlags struct {
	repo, branch                string
	kubeconfig, kubeContext     string
	contextMap                  []string
	appPath, namespace, invNS   string
	workdir                     string
	depth                       int
	git                         gitFlags
	dryRun, prune, allowEmpty   bool
	watch                       bool
	timeout, interval, lockWait time.Duration
	connectTimeout              time.Duration
	qps                         float32
	burst, concurrency          int
	to, revision                string
	release, pr, showSecrets    bool
	secrets                     secretsFlags
}

func (f *syncFlags) register(cmd *cobra.Command) {
	f.registerSource(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config; in-cluster when unset in a pod and no context is named)")
	fs.StringVar(&f.kubeContext, "context", "", "kubeconfig context (default: the app's spec.destination.context or .server, else the current context)")
	fs.StringArrayVar(&f.contextMap, "context-map", nil, "map an app's destination context to a kubeconfig context: NAME=CONTEXT (repeatable); EKS ARNs, GKE, eksctl and kind context names that end in NAME are found without it")
	fs.StringVar(&f.invNS, "inventory-namespace", "", "namespace of the app's inventory, record and lease (default: the app's spec.destination.inventoryNamespace, else Ferry's namespace: the pod's when run in one, else "+deploy.DefaultInventoryNamespace+")")
	fs.DurationVar(&f.lockWait, "lock-timeout", deploy.DefaultLockTimeout, "how long to wait for another sync of the app to finish")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", deploy.DefaultConnectTimeout, "how long to try reaching an API server that does not answer before giving up")
	fs.Float32Var(&f.qps, "kube-qps", deploy.DefaultQPS, "cap on requests per second to the API server (negative: none; the load is bounded by --concurrency and the server's priority and fairness)")
	fs.IntVar(&f.burst, "kube-burst", deploy.DefaultBurst, "requests the client may send at once above --kube-qps (0: as many as --kube-qps)")
	fs.IntVar(&f.concurrency, "concurrency", deploy.DefaultConcurrency, "requests in flight at once (lists, dry-runs, applies, deletes)")
	f.secrets.register(cmd)
}

// registerSource registers the flags that say where the app and its
// manifests are.
func (f *syncFlags) registerSource(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.repo, "repo", "", "the manifest repository, whose .ferry/ declares the apps: its clone URL (https://, ssh://, git@host:..., file://) or a local clone's directory")
	fs.StringVar(&f.branch, "branch", "main", "the branch to deploy (and to read .ferry/ from)")
	fs.StringVar(&f.appPath, "app-path", "", "deploy this path of --repo as an ad-hoc app named APP instead of reading .ferry/")
	fs.StringVarP(&f.namespace, "namespace", "n", "", "destination namespace (overrides the app's)")
	fs.StringVar(&f.workdir, "workdir", "", "keep the clone and the parsed manifests here and reuse them on the next run (default: a temporary directory, removed after)")
	fs.IntVar(&f.depth, "depth", 0, "clone depth; 0 clones the whole history, which rollbacks to old revisions need")
	f.git.register(fs, "$GITHUB_TOKEN")
}

func (f *syncFlags) registerApply(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVar(&f.prune, "prune", false, "delete the objects of earlier syncs no longer in git (default: the app's syncPolicy.prune)")
	fs.BoolVar(&f.allowEmpty, "allow-empty", false, "let a pruning sync that renders no object prune every object of the app")
	fs.DurationVar(&f.timeout, "timeout", deploy.DefaultTimeout, "how long to wait for the applied objects to become healthy; 0s: do not wait (objects still rolling out are reported, not held against the sync)")
}

func usageError(format string, args ...any) error {
	return &exitError{code: exitConfig, err: fmt.Errorf(format, args...)}
}

// session is a command's app and Syncer.
type session struct {
	app     deploy.App
	s       *deploy.Syncer
	cleanup func()
}

// resolve reads the app (from .ferry/ of --repo, or from the flags) and
// prepares the work directory. needGit is false for commands that only
// read the cluster, which then accept --namespace without --repo.
func (f *syncFlags) resolve(cmd *cobra.Command, g *globals, name string, needGit bool, onTick func(deploy.Tick)) (*deploy.Target, error) {
	auth, err := f.git.auth()
	if err != nil {
		return nil, err
	}
	if f.depth < 0 {
		return nil, usageError("invalid --depth %d", f.depth)
	}
	if f.repo, err = bot.CloneURL(f.repo); err != nil {
		return nil, err
	}
	opts := deploy.Options{Log: g.log, Now: g.now, OnTick: onTick, RevertPR: revertPRHook, LockTimeout: f.lockWait, Secrets: f.secrets.options()}
	if f.lockWait == 0 {
		opts.LockTimeout = -1
	}
	fl := cmd.Flags()
	given := func(flag string) bool { return fl.Lookup(flag) != nil && fl.Changed(flag) }
	has := func(flag string) bool { return fl.Lookup(flag) != nil }
	var ov deploy.Overrides
	if given("namespace") {
		ov.Namespace = &f.namespace
	}
	if given("inventory-namespace") {
		ov.InventoryNamespace = &f.invNS
	}
	if has("prune") && (given("prune") || f.appPath != "") {
		ov.Prune = &f.prune
	}
	if has("allow-empty") && (given("allow-empty") || f.appPath != "") {
		ov.AllowEmpty = &f.allowEmpty
	}
	if has("timeout") {
		ov.Timeout, ov.TimeoutGiven = &f.timeout, given("timeout")
	}
	if given("interval") {
		ov.Interval = &f.interval
	}
	t, err := deploy.ResolveApp(cmd.Context(), deploy.ResolveOptions{Name: name, RepoURL: f.repo, Branch: f.branch, AppPath: f.appPath,
		WorkDir: f.workdir, Depth: f.depth, Auth: auth, NeedGit: needGit, Overrides: ov, Options: opts})
	return t, configError(err)
}

// configError gives deploy's configuration errors exit code 2.
func configError(err error) error {
	var ce *deploy.ConfigError
	if errors.As(err, &ce) {
		return &exitError{code: exitConfig, err: ce.Err}
	}
	return err
}

// open resolves the app and builds a Syncer for its cluster.
func (f *syncFlags) open(cmd *cobra.Command, g *globals, name string, needGit bool, onTick func(deploy.Tick)) (*session, error) {
	t, err := f.resolve(cmd, g, name, needGit, onTick)
	if err != nil {
		return nil, err
	}
	s, err := t.Connect(deploy.ConnectOptions{Kubeconfig: f.kubeconfig, Context: f.kubeContext, ContextMap: f.contextMap,
		ConnectTimeout: f.connectTimeout, QPS: f.qps, Burst: f.burst, Concurrency: f.concurrency})
	if err != nil {
		t.Close()
		return nil, configError(err)
	}
	return &session{app: t.App, s: s, cleanup: func() { _ = s.Close(); t.Close() }}, nil
}

func newSyncCmds(g *globals) []*cobra.Command {
	return []*cobra.Command{newSyncCmd(g), newDiffCmd(g), newStatusCmd(g), newRollbackCmd(g), newRenderCmd(g)}
}

func newSyncCmd(g *globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync APP --repo URL",
		Short: "Apply an app's manifests to its cluster, prune what left git, wait for health",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSync(cmd, g, &f, args[0])
		},
	}
	f.register(cmd)
	f.registerApply(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&f.dryRun, "dry-run", false, "report what would be applied and pruned (server-side dry-run); write nothing")
	fs.BoolVar(&f.watch, "watch", false, "keep syncing new commits and healing drift every --interval, until interrupted")
	fs.DurationVar(&f.interval, "interval", 0, "polling interval of --watch (default: the app's syncPolicy.interval, else 1m)")
	return cmd
}

func runSync(cmd *cobra.Command, g *globals, f *syncFlags, name string) error {
	if f.watch && f.dryRun {
		return usageError("--watch and --dry-run do not go together")
	}
	var onTick func(deploy.Tick)
	if f.watch {
		onTick = func(t deploy.Tick) { printer.Tick(g.stdout, g.output, t) }
	}
	sess, err := f.open(cmd, g, name, true, onTick)
	if err != nil {
		return err
	}
	defer sess.cleanup()
	if f.watch {
		sess.app.Automated = true
		g.log.Info("watching", "app", sess.app.Name, "interval", sess.app.Interval)
		return sess.s.Watch(cmd.Context(), sess.app, f.interval)
	}
	rec, err := sess.s.Sync(cmd.Context(), sess.app, deploy.SyncOptions{
		DryRun: f.dryRun, Prune: sess.app.Prune, AllowEmpty: sess.app.AllowEmpty, Timeout: sess.app.Timeout,
	})
	return reportRecord(g, rec, err, "")
}

// reportRecord prints a sync's record and maps its result to an exit code.
func reportRecord(g *globals, rec deploy.Record, err error, note string) error {
	if rec.Revision == "" && err != nil {
		return err // nothing to show: it failed before rendering
	}
	if g.machine() {
		if werr := g.write(rec); werr != nil {
			return werr
		}
	} else {
		printer.Record(g.stdout, rec)
		if note != "" {
			fmt.Fprintln(g.stdout, note)
		}
	}
	switch {
	case err != nil:
		return &exitError{code: exitFailure, err: err}
	case rec.Result == deploy.Degraded:
		return &exitError{code: exitDegraded, err: fmt.Errorf("app %s is degraded: %s", rec.App, rec.Error)}
	}
	return nil
}

func newDiffCmd(g *globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "diff APP --repo URL",
		Short: "Show how the cluster differs from an app's manifests in git",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sess, err := f.open(cmd, g, args[0], true, nil)
			if err != nil {
				return err
			}
			defer sess.cleanup()
			res, pin, derr := sess.s.DiffApp(cmd.Context(), sess.app)
			if res.Revision == "" && derr != nil {
				return derr // nothing to show: it failed before rendering
			}
			note := ""
			if pin != "" {
				note = fmt.Sprintf("%s is pinned to %s by a rollback; release with: %s", sess.app.Name, printer.Short(pin), releaseHint(cmd, sess.app.Name))
			}
			if g.machine() {
				if err := g.write(res); err != nil {
					return err
				}
			} else {
				printer.Diff(g.stdout, res, note)
			}
			switch {
			case derr != nil:
				return &exitError{code: exitFailure, err: derr}
			case !res.InSync:
				return &exitError{code: exitDiff}
			}
			return nil
		},
	}
	f.register(cmd)
	fs := cmd.Flags()
	fs.BoolVar(&f.prune, "prune", false, "also show the objects a pruning sync would delete (default: the app's syncPolicy.prune)")
	return cmd
}

func newStatusCmd(g *globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "status APP",
		Short: "Show an app's last syncs, rollback pin, lock and object health",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sess, err := f.open(cmd, g, args[0], false, nil)
			if err != nil {
				return err
			}
			defer sess.cleanup()
			st, err := sess.s.Status(cmd.Context(), sess.app)
			if err != nil {
				return err
			}
			if st.Last == nil && len(st.Objects) == 0 && st.Lock == nil && f.repo == "" {
				// Named by --namespace alone: nothing says the app exists.
				return usageError("no app %q has synced with its records in namespace %s (a typo? ferry status reads the records a sync writes; give --repo to read the app from .ferry/)", sess.app.Name, st.InventoryNamespace)
			}
			if g.machine() {
				return g.write(st)
			}
			printer.Status(g.stdout, st, releaseHint(cmd, args[0]))
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newRollbackCmd(g *globals) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "rollback APP --repo URL [--to REVISION | --release | --pr]",
		Short: "Apply an earlier revision of an app and pin it there, or release the pin",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRollback(cmd, g, &f, args[0])
		},
	}
	f.register(cmd)
	f.registerApply(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.to, "to", "", "the revision to roll back to (default: the previous successful one)")
	fs.BoolVar(&f.release, "release", false, "remove the rollback pin: the next sync applies the branch head")
	fs.BoolVar(&f.pr, "pr", false, "open a revert pull request instead of rolling back the cluster")
	return cmd
}

func runRollback(cmd *cobra.Command, g *globals, f *syncFlags, name string) error {
	if f.release && (f.to != "" || f.pr) {
		return usageError("--release does not go with --to or --pr")
	}
	sess, err := f.open(cmd, g, name, !f.release, nil)
	if err != nil {
		return err
	}
	defer sess.cleanup()
	ctx := cmd.Context()
	switch {
	case f.release:
		released, err := sess.s.Release(ctx, sess.app)
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("%s was not pinned", name)
		if released {
			msg = fmt.Sprintf("released the rollback pin of %s: the next sync applies the branch head", name)
		}
		if g.machine() {
			return g.write(map[string]any{"app": name, "released": released})
		}
		fmt.Fprintln(g.stdout, msg)
		return nil
	case f.pr:
		url, err := sess.s.RevertPR(ctx, sess.app, f.to)
		if errors.Is(err, deploy.ErrNoRevertPR) {
			return usageError("--pr: this build has no forge integration to open pull requests with")
		}
		if err != nil {
			return err
		}
		if g.machine() {
			return g.write(map[string]any{"app": name, "pullRequest": url})
		}
		fmt.Fprintf(g.stdout, "opened %s\n", url)
		return nil
	}
	rec, err := sess.s.Rollback(ctx, sess.app, f.to)
	if errors.Is(err, deploy.ErrNoPreviousRevision) {
		return usageError("%v: give --to REVISION", err)
	}
	note := ""
	if err == nil && rec.Result != deploy.Failed {
		note = fmt.Sprintf("\n%s is pinned to %s; release with: %s", name, printer.Short(rec.Revision), releaseHint(cmd, name))
	}
	return reportRecord(g, rec, err, note)
}

// locating are the flags that say where an app is: a printed hint repeats
// those given, so that it runs as printed.
var locating = []string{"repo", "branch", "app-path", "namespace", "inventory-namespace", "kubeconfig", "context", "context-map", "workdir", "git-username", "git-token-file", "ssh-key", "ssh-known-hosts"}

// releaseHint is the command that releases app's rollback pin, with the
// locating flags this command was given.
func releaseHint(cmd *cobra.Command, app string) string {
	args := []string{"ferry", "rollback", app, "--release"}
	for _, name := range locating {
		fl := cmd.Flags().Lookup(name)
		if fl == nil || !fl.Changed {
			continue
		}
		vals := []string{fl.Value.String()}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			vals = sv.GetSlice()
		}
		for _, v := range vals {
			if name == "repo" {
				v = gitrepo.RedactURL(v)
			}
			args = append(args, "--"+name, v)
		}
	}
	return printer.Command(args...)
}

// Compile-time check of the hook's type against deploy's.
var _ func(context.Context, deploy.RevertRequest) (string, error) = revertPRHook
