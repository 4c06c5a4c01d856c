package service

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/ferrygitops/ferry/bot"
	"github.com/ferrygitops/ferry/document"
)

// Config is the file `ferry run --config` reads (kind: RunConfig). Secrets
// are never inline: the file names files that hold them (mounted Secrets).
type Config struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Listen     string `yaml:"listen"`
	// Schedule is every repository's, unless the repository has its own.
	Schedule Schedule `yaml:"schedule"`
	// Concurrency is how many repositories' cycles may run at once;
	// default 4.
	Concurrency int          `yaml:"concurrency"`
	Repos       []RepoConfig `yaml:"repos"`
	Webhooks    struct {
		GitHubSecretFile  string `yaml:"githubSecretFile"`
		ECRTokenFile      string `yaml:"ecrTokenFile"`
		RegistryTokenFile string `yaml:"registryTokenFile"`
	} `yaml:"webhooks"`
	Sync struct {
		Enabled    bool   `yaml:"enabled"`
		Kubeconfig string `yaml:"kubeconfig"` // empty: in-cluster
		Context    string `yaml:"context"`
		Interval   string `yaml:"interval"` // drift check / poll interval; default 1m
		// Cluster names the cluster this Ferry runs in: apps whose
		// destination.context is this name (or empty) are applied here,
		// apps for other contexts are left to the Ferry of their cluster.
		// Empty: every app is applied through its context of the kubeconfig.
		Cluster string `yaml:"cluster"`
		// ContextMap maps an app's destination.context to a kubeconfig
		// context (as --context-map does for the sync commands).
		ContextMap map[string]string `yaml:"contextMap"`
		// Namespace holds the apps' inventories, records and sync leases
		// (unless an App names its inventoryNamespace); default the
		// namespace Ferry's pod runs in, else ferry-system.
		Namespace string `yaml:"namespace"`
		// Secrets: SOPS decryption and AWS Secrets Manager references
		// (secrets.go).
		Secrets SecretsConfig `yaml:"secrets"`
	} `yaml:"sync"`
	LeaderElection struct {
		Enabled   bool   `yaml:"enabled"`
		Namespace string `yaml:"namespace"`
		Name      string `yaml:"name"`
	} `yaml:"leaderElection"`
	// UI is the web UI (package ui), served on the HTTP server at /ui/
	// and /api/v1/.
	UI struct {
		Enabled bool `yaml:"enabled"`
		// AnonymousRead lets people who did not sign in see the pages,
		// never act.
		AnonymousRead bool `yaml:"anonymousRead"`
		// SecureCookies marks the session cookie Secure although Ferry
		// itself serves plain HTTP (TLS ends at an ingress).
		SecureCookies bool `yaml:"secureCookies"`
		// Namespace is where SubjectAccessReviews ask (where the UI
		// Roles are bound); default sync.namespace, else Ferry's.
		Namespace string `yaml:"namespace"`
	} `yaml:"ui"`
	Registry struct {
		RPS         float64 `yaml:"rps"`
		Concurrency int     `yaml:"concurrency"`
		Insecure    []string
	} `yaml:"registry"`
}

// Schedule says when cycles run: every interval, or at the times of a cron
// expression, each plus a random delay of up to jitter.
type Schedule struct {
	Interval string `yaml:"interval"` // Go duration, e.g. 5m
	Cron     string `yaml:"cron"`     // or a five-field cron expression
	Jitter   string `yaml:"jitter"`
}

// RepoConfig is one manifest repository of a Config.
type RepoConfig struct {
	URL     string `yaml:"url"`
	Branch  string `yaml:"branch"`
	Mode    string `yaml:"mode"`
	Workdir string `yaml:"workdir"`
	// Schedule overrides the Config's: an interval or cron given here
	// replaces both of the Config's, a jitter its jitter.
	Schedule Schedule `yaml:"schedule"`
	Git      struct {
		Username       string `yaml:"username"`
		TokenFile      string `yaml:"tokenFile"`
		SSHKeyFile     string `yaml:"sshKeyFile"`
		KnownHostsFile string `yaml:"knownHostsFile"`
	} `yaml:"git"`
	GitHub struct {
		URL       string `yaml:"url"`
		Repo      string `yaml:"repo"`
		TokenFile string `yaml:"tokenFile"`
		App       struct {
			ID             int64  `yaml:"id"`
			InstallationID int64  `yaml:"installationId"`
			PrivateKeyFile string `yaml:"privateKeyFile"`
		} `yaml:"app"`
	} `yaml:"github"`
	Author struct {
		Name  string `yaml:"name"`
		Email string `yaml:"email"`
	} `yaml:"author"`
	// Signing signs Ferry's commits with one key: an armored OpenPGP
	// private key or an SSH private key (its passphrase, if any, from
	// $FERRY_SIGNING_PASSPHRASE).
	Signing struct {
		GPGKeyFile string `yaml:"gpgKeyFile"`
		SSHKeyFile string `yaml:"sshKeyFile"`
	} `yaml:"signing"`
}

// LoadConfig reads and validates the file; errors name the file and line.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	// Ferry's one document reader: unknown fields, wrong types and
	// duplicates are reported with file, line, field and the allowed
	// fields, all at once.
	var c Config
	var errs document.Errors
	docs := 0
	document.ReadFile(path, data, &errs, func(d *document.Doc) {
		if docs++; docs > 1 {
			d.Errorf(d.Root, "", "a run config is one document; this file has more")
			return
		}
		d.Decode(d.Root, "", &c)
	})
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if docs == 0 {
		return nil, fmt.Errorf("%s: the run config is empty", path)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Validate checks the values a decoder cannot.
func (c *Config) Validate() error {
	var errs []error
	if c.APIVersion != "" && c.APIVersion != "ferry.dev/v1alpha1" {
		errs = append(errs, fmt.Errorf("apiVersion %q: want ferry.dev/v1alpha1", c.APIVersion))
	}
	if c.Kind != "" && c.Kind != "RunConfig" {
		errs = append(errs, fmt.Errorf("kind %q: want RunConfig", c.Kind))
	}
	durations := []struct{ name, v string }{{"schedule.interval", c.Schedule.Interval}, {"schedule.jitter", c.Schedule.Jitter}, {"sync.interval", c.Sync.Interval}}
	for i, r := range c.Repos {
		durations = append(durations,
			struct{ name, v string }{fmt.Sprintf("repos[%d].schedule.interval", i), r.Schedule.Interval},
			struct{ name, v string }{fmt.Sprintf("repos[%d].schedule.jitter", i), r.Schedule.Jitter})
	}
	for _, d := range durations {
		if d.v != "" {
			if _, err := time.ParseDuration(d.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
			}
		}
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency %d: must not be negative", c.Concurrency))
	}
	if len(c.Repos) == 0 {
		errs = append(errs, errors.New("repos: name at least one manifest repository"))
	}
	for i, r := range c.Repos {
		if r.URL == "" {
			errs = append(errs, fmt.Errorf("repos[%d].url: required", i))
		}
		switch bot.WriteMode(r.Mode) {
		case "", bot.ModePullRequest, bot.ModeBranch, bot.ModePush:
		default:
			errs = append(errs, fmt.Errorf("repos[%d].mode %q: use pull-request, branch or push", i, r.Mode))
		}
	}
	if c.LeaderElection.Enabled && c.LeaderElection.Namespace == "" {
		errs = append(errs, errors.New("leaderElection.namespace: required when enabled"))
	}
	return errors.Join(errs...)
}

// schedule is the repository's schedule: its own where it has one, else
// the Config's, with the defaults (every 5m, jitter 30s).
func (c *Config) schedule(r RepoConfig) (bot.Schedule, error) {
	s := c.Schedule
	if r.Schedule.Interval != "" || r.Schedule.Cron != "" {
		s.Interval, s.Cron = r.Schedule.Interval, r.Schedule.Cron
	}
	if r.Schedule.Jitter != "" {
		s.Jitter = r.Schedule.Jitter
	}
	interval := time.Duration(0)
	if s.Cron == "" {
		interval = duration(s.Interval, 5*time.Minute)
	}
	return bot.ParseSchedule(interval, s.Cron, duration(s.Jitter, 30*time.Second))
}

// webhookSecret reads the shared secret of one webhook from file. Webhooks
// are optional and their Secret is mounted with optional: true, so an
// absent file (the Secret or its key was not created) or an empty one
// disables that webhook, with a log line saying so; any other read error
// is an error. No file named: the webhook is off.
func webhookSecret(log *slog.Logger, webhook, file string) (string, error) {
	if file == "" {
		return "", nil
	}
	v, err := ReadSecretFile(file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		log.Warn("webhook disabled: its secret file does not exist", "webhook", webhook, "file", file)
		return "", nil
	case err != nil:
		return "", fmt.Errorf("webhook %s: %w", webhook, err)
	case v == "":
		log.Warn("webhook disabled: its secret file is empty", "webhook", webhook, "file", file)
	}
	return v, nil
}

// duration parses a validated duration, def when empty.
func duration(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, _ := time.ParseDuration(s)
	return d
}

// Overrides are settings given over the config file's (`ferry run`'s
// flags); a zero field leaves the file's.
type Overrides struct {
	Listen           string
	Interval, Jitter time.Duration
	// Cron replaces the schedule's interval; Interval replaces its cron.
	Cron                      string
	LeaderElect               bool
	LeaseNamespace, LeaseName string
	Kubeconfig, Context       string
}

// Apply sets cfg's settings that o gives.
func (o Overrides) Apply(cfg *Config) {
	if o.Listen != "" {
		cfg.Listen = o.Listen
	}
	if o.Cron != "" {
		cfg.Schedule.Cron, cfg.Schedule.Interval = o.Cron, ""
	}
	if o.Interval > 0 {
		cfg.Schedule.Interval, cfg.Schedule.Cron = o.Interval.String(), ""
	}
	if o.Jitter > 0 {
		cfg.Schedule.Jitter = o.Jitter.String()
	}
	if o.LeaderElect {
		cfg.LeaderElection.Enabled = true
	}
	if o.LeaseNamespace != "" {
		cfg.LeaderElection.Namespace = o.LeaseNamespace
	}
	if o.LeaseName != "" {
		cfg.LeaderElection.Name = o.LeaseName
	}
	if o.Kubeconfig != "" {
		cfg.Sync.Kubeconfig = o.Kubeconfig
	}
	if o.Context != "" {
		cfg.Sync.Context = o.Context
	}
}
