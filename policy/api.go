package policy

// This file holds the package's exported types: what a policy file says
// once validated, and what selection returns.

import (
	"regexp"
	"time"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
)

// Policy is a validated ImagePolicy. Values are read-only after Load.
type Policy struct {
	Name    string
	Image   string          // normalised repository (image.NormalizeRepository)
	Written string          // spec.image as written in the file
	Source  document.Source // where the ImagePolicy was read

	Pattern *regexp.Regexp   // nil: every tag matches
	Extract string           // template such as "$stamp"; "" means the whole tag
	Exclude []*regexp.Regexp // tags matching any are ignored

	Strategy Strategy

	MinAge      time.Duration
	Digest      bool
	UpdatePaths []string // globs, slash-separated, relative to the repo root; "**" crosses directories

	PullRequest PullRequest

	// Verify, when set, admits only candidates with an accepted signature
	// (spec.verify, see verify.go).
	Verify *Verify
}

// PullRequest holds spec.pullRequest, used by the bump write-back.
type PullRequest struct {
	Group         string   `json:"group,omitempty"`
	Labels        []string `json:"labels,omitempty"`
	Reviewers     []string `json:"reviewers,omitempty"`
	TeamReviewers []string `json:"teamReviewers,omitempty"`
	Assignees     []string `json:"assignees,omitempty"`
	Draft         bool     `json:"draft,omitempty"`
}

// StrategyKind names an ordering strategy.
type StrategyKind string

// The ordering strategies.
const (
	Date         StrategyKind = "date"
	SemVer       StrategyKind = "semver"
	Numerical    StrategyKind = "numerical"
	Alphabetical StrategyKind = "alphabetical"
	PushedAt     StrategyKind = "pushedAt"
)

// Strategy is the validated spec.policy.
type Strategy struct {
	Kind   StrategyKind
	Layout string // date
	Range  string // semver; "" means any
	// Strict (semver) takes part only values that are semantic versions as
	// written, with an optional leading "v" (Masterminds'
	// StrictNewVersion): the rule of Flux's image-reflector-controller,
	// which refuses the coerced forms ("1.2", "2024.09.01").
	Strict bool
	Order  string // numerical, alphabetical: "asc" (highest wins) or "desc"
}

// Choice is the result of Select.
type Choice struct {
	Tag      string    `json:"tag,omitempty"`
	Digest   string    `json:"digest,omitempty"`
	PushedAt time.Time `json:"pushedAt,omitzero"`
	Seen     int       `json:"seen"`    // tags listed
	Matched  int       `json:"matched"` // tags that passed filter, exclude, minAge and parsed under the strategy
	Skipped  []Skip    `json:"skipped,omitempty"`

	// SkippedTotal counts every skipped tag; Skipped lists at most the
	// first MaxSkipped of them.
	SkippedTotal int `json:"skippedTotal,omitempty"`
}

// Skip is a tag that matched the pattern but could not be ordered.
type Skip struct {
	Tag    string `json:"tag"`
	Reason string `json:"reason"`
}

// Interface assertions on the signatures other packages rely on.
var (
	_ func([]image.Tag, *Policy, time.Time) (Choice, error) = Select
	_ func(*Policy, image.Tag, image.Tag) (int, error)      = (*Policy).Compare
	_ func(*Policy, string) bool                            = (*Policy).Governs
)
