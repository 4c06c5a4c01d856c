package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrygitops/ferry/internal/testenv"
)

// The README's RunConfig is one LoadConfig accepts, and means what the
// README says.
func TestREADMEConfig(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var block string
	for _, part := range strings.Split(string(readme), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		if strings.Contains(body, "kind: RunConfig") {
			block = body
		}
	}
	if block == "" {
		t.Fatal("the README has no RunConfig example")
	}
	path := filepath.Join(t.TempDir(), "ferry.yaml")
	if err := os.WriteFile(path, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Repos) != 2 || cfg.Concurrency != 4 || !cfg.Sync.Enabled || cfg.Sync.Cluster != "staging" || !cfg.LeaderElection.Enabled {
		t.Errorf("the README's config: %+v", cfg)
	}
	first, err := cfg.schedule(cfg.Repos[0])
	if err != nil || first.Interval != 5*time.Minute || first.Jitter != 30*time.Second || first.Cron != nil {
		t.Errorf("repos[0]'s schedule: %+v %v", first, err)
	}
	second, err := cfg.schedule(cfg.Repos[1])
	if err != nil || second.Cron == nil || second.Jitter != 30*time.Second || cfg.Repos[1].Branch != "release" {
		t.Errorf("repos[1]'s schedule: %+v %v", second, err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want []string
	}{
		{"kind: RunConfig\nrepos:\n  - url: x\n    colour: blue\n", []string{"bad.yaml:4: repos[0].colour: unknown field", "allowed: url, branch, mode"}},
		{"kind: RunConfig\nrepos: [{url: x}]\nconcurrency: lots\nleaderElection: {enabled: maybe}\n", []string{"bad.yaml:3: concurrency: must be a whole number", "bad.yaml:4: leaderElection.enabled: must be true or false"}},
		{"kind: RunConfig\nrepos: [{url: x}]\nrepos: [{url: y}]\n", []string{"bad.yaml:3: repos: duplicate field"}},
		{"kind: RunConfig\nrepos: []\nschedule: {interval: soon}\n", []string{"schedule.interval", "repos: name at least one"}},
		{"kind: RunConfig\nrepos: [{url: x, schedule: {jitter: lots}}]\nconcurrency: -1\n", []string{"repos[0].schedule.jitter", "concurrency -1"}},
		{"kind: RunConfig\nrepos: [{url: x, mode: yolo}, {branch: main}]\n", []string{"repos[0].mode", "repos[1].url: required"}},
		{"kind: Config\nrepos: [{url: x}]\nleaderElection: {enabled: true}\n", []string{`kind "Config"`, "leaderElection.namespace"}},
	} {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadConfig(path)
		if err == nil {
			t.Errorf("%q: no error", tc.yaml)
			continue
		}
		for _, w := range append(tc.want, "bad.yaml") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.yaml, err, w)
			}
		}
	}
}

// Overrides set what they give and leave the rest; an interval replaces a
// cron and a cron an interval.
func TestOverridesApply(t *testing.T) {
	var cfg Config
	cfg.Listen, cfg.Schedule.Cron, cfg.Schedule.Jitter, cfg.LeaderElection.Name = ":8080", "*/5 * * * *", "30s", "ferry"
	Overrides{Listen: ":9090", Interval: 2 * time.Minute, LeaderElect: true, LeaseNamespace: "ops", Kubeconfig: "/k", Context: "c"}.Apply(&cfg)
	if cfg.Listen != ":9090" || cfg.Schedule.Interval != "2m0s" || cfg.Schedule.Cron != "" || cfg.Schedule.Jitter != "30s" {
		t.Errorf("listen %q, schedule %+v", cfg.Listen, cfg.Schedule)
	}
	if !cfg.LeaderElection.Enabled || cfg.LeaderElection.Namespace != "ops" || cfg.LeaderElection.Name != "ferry" || cfg.Sync.Kubeconfig != "/k" || cfg.Sync.Context != "c" {
		t.Errorf("leader election %+v, sync %+v", cfg.LeaderElection, cfg.Sync)
	}
	Overrides{Cron: "0 * * * *", Jitter: time.Second, LeaseName: "l"}.Apply(&cfg)
	if cfg.Schedule.Cron != "0 * * * *" || cfg.Schedule.Interval != "" || cfg.Schedule.Jitter != "1s" || cfg.LeaderElection.Name != "l" {
		t.Errorf("schedule %+v, lease %q", cfg.Schedule, cfg.LeaderElection.Name)
	}
	Overrides{}.Apply(&cfg)
	if cfg.Listen != ":9090" || cfg.Schedule.Cron != "0 * * * *" {
		t.Errorf("empty overrides changed %+v", cfg)
	}
}

// A repository's signing key in the run config signs its commits: the
// config reads it, BumpOptions loads the key, and two keys or an unreadable
// one are configuration errors that name the problem.
func TestRepoSigningKey(t *testing.T) {
	dir := t.TempDir()
	keyFile := testenv.SSHSigningKey(t, dir)
	cfgFile := filepath.Join(dir, "config.yaml")
	cfg := "apiVersion: ferry.dev/v1alpha1\nkind: RunConfig\nrepos:\n  - url: file:///srv/manifests\n    mode: push\n    signing: {sshKeyFile: " + keyFile + "}\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	env := func(string) string { return "" }
	opts, err := BumpOptions(c.Repos[0], false, env)
	if err != nil || opts.Signer == nil {
		t.Fatalf("BumpOptions with signing.sshKeyFile: signer %v, %v", opts.Signer, err)
	}
	rc := c.Repos[0]
	rc.Signing.GPGKeyFile = keyFile
	if _, err := BumpOptions(rc, false, env); err == nil || !strings.Contains(err.Error(), "one signing key") {
		t.Errorf("two signing keys: %v", err)
	}
	rc = c.Repos[0]
	rc.Signing.SSHKeyFile = filepath.Join(dir, "missing")
	if _, err := BumpOptions(rc, false, env); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing key file: %v", err)
	}
}
