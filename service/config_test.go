package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
