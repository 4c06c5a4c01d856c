package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/internal/klogslog"
	"github.com/ferrygitops/ferry/internal/printer"
	"github.com/ferrygitops/ferry/internal/profile"
	"github.com/ferrygitops/ferry/registry"
)

// Exit codes, the same on every command (the README's table), aligned with
// kubectl diff and argocd app diff: 1 is a difference, never a failure.
const (
	exitOK       = 0 // done; in sync; nothing pending
	exitDiff     = 1 // a difference found (diff; --exit-code on scan and update --dry-run)
	exitConfig   = 2 // usage or configuration: flags, documents, a wrong path or name
	exitFailure  = 3 // a run-time failure: a registry, git, GitHub or the cluster
	exitDegraded = 4 // applied, but not healthy within the timeout (sync, rollback)
)

// exitError carries an exit code; its message, if any, was already printed
// or is printed by Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// globals are the flags every command shares.
type globals struct {
	output    string
	logLevel  string
	logFormat string
	stdout    io.Writer
	stderr    io.Writer
	log       *slog.Logger
	now       func() time.Time
	profile   profile.Profiler
}

// write prints v for scripts, as JSON or YAML (-o).
func (g *globals) write(v any) error { return printer.Write(g.stdout, g.output, v) }

// machine reports whether the output is for scripts (-o json or yaml).
func (g *globals) machine() bool { return printer.Machine(g.output) }

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress tells a person at a terminal what a long command is doing, on
// stderr; it says nothing to scripts (-o json) or when stderr is not a
// terminal.
func (g *globals) progress(format string, args ...any) {
	if g.machine() || !isTerminal(g.stderr) {
		return
	}
	fmt.Fprintf(g.stderr, format+"\n", args...)
}

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr, now: time.Now}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if perr := g.profile.Stop(); perr != nil && err == nil {
		err = &exitError{code: exitFailure, err: perr}
	}
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "ferry: %v\n", ee.err)
		}
		return ee.code
	}
	var pe document.Errors
	if errors.As(err, &pe) {
		fmt.Fprintf(stderr, "ferry: invalid documents:\n%v\n", pe)
		return exitConfig
	}
	fmt.Fprintf(stderr, "ferry: %v\n", err)
	if isUsageError(err) || isConfigError(err) {
		return exitConfig
	}
	return exitFailure
}

// isConfigError reports the errors that are the command's or its
// configuration's fault: a wrong path, no policies where some are needed.
func isConfigError(err error) bool {
	var nf *bot.NotFoundError
	var np *bot.NoPoliciesError
	return errors.As(err, &nf) || errors.As(err, &np)
}

func isUsageError(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "invalid argument", "accepts ", "requires ", "flag needs", "required flag", "invalid output"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Keep Kubernetes manifests on the newest container images, the GitOps way",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if g.log, err = klogslog.New(g.stderr, g.logLevel, g.logFormat); err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			switch g.output {
			case "table", "text", "json", "yaml":
			default:
				return &exitError{code: exitConfig, err: fmt.Errorf("invalid output %q: use table, json or yaml", g.output)}
			}
			if err := g.profile.Start(); err != nil {
				return &exitError{code: exitConfig, err: err}
			}
			return nil
		},
	}
	root.PersistentFlags().StringVarP(&g.output, "output", "o", "table", "output format: table (for people), json or yaml (for scripts)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn, error (logs go to stderr)")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "text", "log format: text (key=value) or json (one object a line); client-go's logs too")
	root.PersistentFlags().StringVar(&g.profile.Name, "profile", "none", "Go profile to capture, as kubectl's: none, cpu, heap, allocs, goroutine, threadcreate, block or mutex")
	root.PersistentFlags().StringVar(&g.profile.Output, "profile-output", "profile.pprof", "file the --profile is written to")
	root.AddGroup(
		&cobra.Group{ID: "images", Title: "Image updates:"},
		&cobra.Group{ID: "sync", Title: "The sync loop (git to the cluster):"},
		&cobra.Group{ID: "service", Title: "Running Ferry:"},
	)
	for _, c := range []*cobra.Command{newScanCmd(g), newUpdateCmd(g), newBumpCmd(g), newPromoteCmd(g), newRejectCmd(g), newImportCmd(g)} {
		c.GroupID = "images"
		root.AddCommand(c)
	}
	for _, c := range newSyncCmds(g) {
		c.GroupID = "sync"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newRunCmd(g), newUICmd(g), newDemoCmd()} {
		c.GroupID = "service"
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(g))
	setHelp(root)
	return root
}

// registryFlags are the registry client's knobs, shared by commands that scan.
type registryFlags struct {
	rps         float64
	concurrency int
	timeout     time.Duration
	retries     int
	insecure    []string
	pageSize    int
}

func (f *registryFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.Float64Var(&f.rps, "registry-rps", 0, "cap on requests per second to each registry (0: adapt to the registry's answers, within its published quota)")
	fs.IntVar(&f.concurrency, "registry-concurrency", 0, "cap on requests in flight to each registry (0: adapt, up to 32, 8 for Docker Hub and GHCR, 16 for the ECR API)")
	fs.DurationVar(&f.timeout, "registry-timeout", 30*time.Second, "timeout of one registry request")
	fs.IntVar(&f.retries, "registry-retries", 5, "retries of a registry request on 429, 5xx, throttling and timeouts")
	fs.StringSliceVar(&f.insecure, "insecure-registry", nil, "registry host spoken to over plain HTTP (loopback hosts always are)")
	fs.IntVar(&f.pageSize, "page-size", 1000, "tags per listing page")
}

func (f *registryFlags) client() *registry.Client {
	retries := f.retries
	if retries == 0 {
		retries = -1
	}
	return registry.New(registry.Options{
		Limits: registry.Limits{
			RatePerSecond: f.rps,
			Concurrency:   f.concurrency,
			Timeout:       f.timeout,
			MaxRetries:    retries,
		},
		Insecure: f.insecure,
		PageSize: f.pageSize,
	})
}
