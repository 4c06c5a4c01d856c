package bot

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/policy"
)

// RepoConfig is the manifest repository's `.ferry/config.yaml` (kind:
// Config): repo-wide defaults for the write-back. Every field is optional.
type RepoConfig struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   map[string]string `yaml:"metadata,omitempty"`
	Spec       RepoConfigSpec    `yaml:"spec"`
}

// RepoConfigSpec holds the defaults.
type RepoConfigSpec struct {
	// PullRequest gives labels, reviewers, team reviewers, assignees and
	// draft to every policy that does not set its own.
	PullRequest policy.PullRequest `yaml:"pullRequest"`
	// Branch is the template of bot branch names; {{group}} is replaced by
	// the group. Default "ferry/{{group}}".
	Branch string `yaml:"branch"`
	// Commit configures the commits Ferry makes.
	Commit struct {
		AuthorName  string `yaml:"authorName"`
		AuthorEmail string `yaml:"authorEmail"`
	} `yaml:"commit"`
}

// DefaultBranchTemplate names bot branches.
const DefaultBranchTemplate = "ferry/{{group}}"

// repoConfig decodes the Config document of a policy set, strictly. No
// document gives the zero RepoConfig.
func repoConfig(set *policy.Set) (RepoConfig, error) {
	var cfg RepoConfig
	var src policy.Source
	found := false
	for _, d := range set.Others {
		if d.Kind != policy.KindConfig {
			continue
		}
		src = d.Source
		if found {
			return cfg, policy.Errors{{File: src.File, Line: src.Line, Msg: "a second Config document; keep one"}}
		}
		found = true
		dec := yaml.NewDecoder(bytes.NewReader(d.YAML))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return cfg, policy.Errors{{File: src.File, Line: src.Line, Msg: "reading Config: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
		}
	}
	if cfg.Spec.Branch == "" {
		cfg.Spec.Branch = DefaultBranchTemplate
	}
	if !strings.Contains(cfg.Spec.Branch, "{{group}}") {
		return cfg, policy.Errors{{File: src.File, Line: src.Line, Field: "spec.branch", Msg: fmt.Sprintf("%q must contain {{group}}", cfg.Spec.Branch)}}
	}
	return cfg, nil
}

// branchFor renders the bot branch of a group.
func (c RepoConfig) branchFor(group string) string {
	return strings.ReplaceAll(c.Spec.Branch, "{{group}}", group)
}

// branchPrefix is the constant part of bot branch names before the group.
func (c RepoConfig) branchPrefix() string {
	p, _, _ := strings.Cut(c.Spec.Branch, "{{group}}")
	return p
}
