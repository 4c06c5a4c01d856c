package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ferrygitops/ferry/cluster"
	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/gitrepo"
)

// ConfigError is an error of the caller's making: a wrong flag, an unknown
// app, invalid documents in .ferry/, a cluster the kubeconfig does not
// name. The CLI exits 2 on it. Its message names the CLI's flags.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configError(format string, args ...any) error {
	return &ConfigError{Err: fmt.Errorf(format, args...)}
}

// Overrides are the settings a caller gives over the app's own; nil
// leaves the app's.
type Overrides struct {
	Namespace          *string
	InventoryNamespace *string
	Prune              *bool
	AllowEmpty         *bool
	Interval           *time.Duration
	// Timeout applies when TimeoutGiven or the app names none; 0 means
	// do not wait for health.
	Timeout      *time.Duration
	TimeoutGiven bool
}

// ResolveOptions say which app a command works on and how to reach its
// repository.
type ResolveOptions struct {
	// Name is the app's name.
	Name string
	// RepoURL is the manifest repository's clone URL, whose .ferry/
	// declares the app; "" when the app is named by namespace alone.
	RepoURL, Branch string
	// AppPath, when set, makes an ad-hoc app of this path of RepoURL
	// instead of reading .ferry/; it self-heals.
	AppPath string
	// WorkDir keeps the clone; "" means a temporary directory that
	// Target.Close removes.
	WorkDir string
	// Depth is the clone depth (0: the whole history).
	Depth int
	// Auth are the credentials for RepoURL's host (only).
	Auth gitrepo.Auth
	// NeedGit is false for commands that only read the cluster: they
	// accept an app named by Overrides.Namespace or InventoryNamespace
	// without a repository, and read .ferry/ from a shallow clone.
	NeedGit bool
	// Overrides apply over the app's settings.
	Overrides Overrides
	// Options are the Syncer's; ResolveApp sets WorkDir and
	// GitCredentials.
	Options Options
}

// Target is a resolved app: the App and the Syncer Options to work on it
// with. Close removes its temporary work directory.
type Target struct {
	App     App
	Options Options
	cleanup func()
}

// Close removes the temporary work directory, if one was made.
func (t *Target) Close() { t.cleanup() }

// ResolveApp reads app o.Name from .ferry/ of o.RepoURL (or makes it from
// o.AppPath, or from the namespace alone when !o.NeedGit), applies the
// overrides and prepares the work directory.
func ResolveApp(ctx context.Context, o ResolveOptions) (*Target, error) {
	t := &Target{cleanup: func() {}}
	workdir := o.WorkDir
	if workdir == "" {
		tmp, err := os.MkdirTemp("", "ferry-sync-")
		if err != nil {
			return nil, err
		}
		workdir = tmp
		t.cleanup = func() { _ = os.RemoveAll(tmp) }
	}
	fail := func(err error) (*Target, error) {
		t.cleanup()
		return nil, err
	}
	// The credentials are for the repository's host only: an App naming
	// another host is cloned without them.
	var creds gitrepo.Credentials
	if o.RepoURL != "" {
		if err := creds.Add(o.RepoURL, o.Auth); err != nil {
			return fail(configError("--repo: %v", err))
		}
	}
	t.Options = o.Options
	t.Options.WorkDir, t.Options.GitCredentials, t.Options.GitDepth = workdir, &creds, o.Depth
	t.Options.ParseCache = o.WorkDir != "" // kept for the next run

	var app App
	ov := o.Overrides
	switch {
	case o.AppPath != "":
		if o.RepoURL == "" {
			return fail(configError("--app-path needs --repo"))
		}
		app = App{Name: o.Name, RepoURL: o.RepoURL, Branch: o.Branch, Path: o.AppPath, SelfHeal: true}
	case o.RepoURL != "":
		var err error
		if app, err = findApp(ctx, o, t.Options); err != nil {
			return fail(err)
		}
	case !o.NeedGit && (nonEmpty(ov.Namespace) || nonEmpty(ov.InventoryNamespace)):
		app = App{Name: o.Name}
	default:
		if o.NeedGit {
			return fail(configError("--repo is required"))
		}
		return fail(configError("give --repo (to read the app from .ferry/) or --namespace/--inventory-namespace"))
	}
	ov.apply(&app)
	if o.NeedGit {
		if err := app.Validate(); err != nil {
			return fail(configError("%v", err))
		}
	}
	t.App = app
	return t, nil
}

// findApp reads the app from .ferry/ of the repository.
func findApp(ctx context.Context, o ResolveOptions, opts Options) (App, error) {
	if opts.Log != nil {
		opts.Log.Info("reading apps", "repo", gitrepo.RedactURL(o.RepoURL), "branch", o.Branch)
	}
	if !o.NeedGit && opts.GitDepth == 0 && o.WorkDir == "" {
		opts.GitDepth = 1 // only .ferry/ at the head is read, from a clone thrown away after
	}
	apps, _, err := ReadApps(ctx, o.RepoURL, o.Branch, opts)
	var pe document.Errors
	if errors.As(err, &pe) {
		return App{}, configError("invalid documents in .ferry/:\n%v", pe)
	}
	if err != nil {
		return App{}, err
	}
	app, ok := dotferry.FindApp(apps, o.Name)
	if !ok {
		var names []string
		for _, a := range apps {
			names = append(names, a.Name)
		}
		have := "none"
		if len(names) > 0 {
			have = strings.Join(names, ", ")
		}
		return App{}, configError("no app %q in .ferry/ of %s (apps: %s); use --app-path for an ad-hoc app", o.Name, gitrepo.RedactURL(o.RepoURL), have)
	}
	return app, nil
}

func nonEmpty(s *string) bool { return s != nil && *s != "" }

func (ov Overrides) apply(app *App) {
	if ov.Namespace != nil {
		app.Namespace = *ov.Namespace
	}
	if ov.InventoryNamespace != nil {
		app.InventoryNamespace = *ov.InventoryNamespace
	}
	if ov.Prune != nil {
		app.Prune = *ov.Prune
	}
	if ov.AllowEmpty != nil {
		app.AllowEmpty = *ov.AllowEmpty
	}
	if ov.Timeout != nil && (ov.TimeoutGiven || app.Timeout == 0) {
		app.Timeout = *ov.Timeout
		if app.Timeout == 0 {
			app.Timeout = -1 // do not wait
		}
	}
	if ov.Interval != nil {
		app.Interval = *ov.Interval
	}
}

// ConnectOptions say how to reach a Target's cluster.
type ConnectOptions struct {
	// Kubeconfig, Context and ContextMap (NAME=CONTEXT entries) are as
	// cluster.Resolve's; Context, when set, overrides the app's
	// destination.
	Kubeconfig, Context string
	ContextMap          []string
	// ConnectTimeout must be positive.
	ConnectTimeout time.Duration
	// QPS must not be 0, Burst not negative, Concurrency positive.
	QPS         float32
	Burst       int
	Concurrency int
}

// Connect builds a Syncer for t's app on its cluster: the kubeconfig
// context its destination names (or c.Context).
func (t *Target) Connect(c ConnectOptions) (*Syncer, error) {
	aliases, err := cluster.ParseAliases(c.ContextMap)
	if err != nil {
		return nil, configError("%v", err)
	}
	dest := cluster.Destination{Context: t.App.Context, Server: t.App.Server}
	if c.Context != "" {
		dest = cluster.Destination{Context: c.Context}
	}
	cfg, where, err := cluster.Resolve(cluster.Options{Kubeconfig: c.Kubeconfig, Aliases: aliases}, dest)
	if err != nil {
		return nil, configError("app %s: %v", t.App.Name, err)
	}
	if t.Options.Log != nil {
		t.Options.Log.Debug("cluster", "app", t.App.Name, "context", where.Context, "server", where.Server, "how", where.How)
	}
	if c.ConnectTimeout <= 0 {
		return nil, configError("invalid --connect-timeout %s", c.ConnectTimeout)
	}
	if c.QPS == 0 || c.Burst < 0 || c.Concurrency <= 0 {
		return nil, configError("invalid --kube-qps %g, --kube-burst %d or --concurrency %d", c.QPS, c.Burst, c.Concurrency)
	}
	opts := t.Options
	opts.ConnectTimeout, opts.QPS, opts.Burst, opts.Concurrency = c.ConnectTimeout, c.QPS, c.Burst, c.Concurrency
	return New(cfg, opts)
}
