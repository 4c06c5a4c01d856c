package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/bot"
)

// runConfig is the file `ferry run --config` reads. Secrets are never
// inline: the file names files that hold them (mounted Secrets).
type runConfig struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Listen     string `yaml:"listen"`
	Schedule   struct {
		Interval string `yaml:"interval"` // Go duration, e.g. 5m
		Cron     string `yaml:"cron"`     // or a five-field cron expression
		Jitter   string `yaml:"jitter"`
	} `yaml:"schedule"`
	Repos    []repoConfig `yaml:"repos"`
	Webhooks struct {
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
	} `yaml:"sync"`
	LeaderElection struct {
		Enabled   bool   `yaml:"enabled"`
		Namespace string `yaml:"namespace"`
		Name      string `yaml:"name"`
	} `yaml:"leaderElection"`
	Registry struct {
		RPS         float64 `yaml:"rps"`
		Concurrency int     `yaml:"concurrency"`
		Insecure    []string
	} `yaml:"registry"`
}

type repoConfig struct {
	URL     string `yaml:"url"`
	Branch  string `yaml:"branch"`
	Mode    string `yaml:"mode"`
	Workdir string `yaml:"workdir"`
	Git     struct {
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
}

// loadRunConfig reads and validates the file; errors name the file and line.
func loadRunConfig(path string) (*runConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the config: %w", err)
	}
	var c runConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

func (c *runConfig) validate() error {
	var errs []error
	if c.APIVersion != "" && c.APIVersion != "ferry.dev/v1alpha1" {
		errs = append(errs, fmt.Errorf("apiVersion %q: want ferry.dev/v1alpha1", c.APIVersion))
	}
	if c.Kind != "" && c.Kind != "RunConfig" {
		errs = append(errs, fmt.Errorf("kind %q: want RunConfig", c.Kind))
	}
	for _, d := range []struct{ name, v string }{{"schedule.interval", c.Schedule.Interval}, {"schedule.jitter", c.Schedule.Jitter}, {"sync.interval", c.Sync.Interval}} {
		if d.v != "" {
			if _, err := time.ParseDuration(d.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
			}
		}
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

// webhookSecret reads the shared secret of one webhook from file. Webhooks
// are optional and their Secret is mounted with optional: true, so an
// absent file (the Secret or its key was not created) or an empty one
// disables that webhook, with a log line saying so; any other read error
// is an error. No file named: the webhook is off.
func webhookSecret(log *slog.Logger, webhook, file string) (string, error) {
	if file == "" {
		return "", nil
	}
	v, err := readSecretFile(file)
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

func duration(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	d, _ := time.ParseDuration(s)
	return d
}
