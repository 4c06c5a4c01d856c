package updater

// This file holds the package's exported types: references, decisions and
// changes, the values that flow from Scan to Plan to Apply.

import (
	"context"

	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

// Form says which part of an image a reference's scalar holds.
type Form string

// The forms a reference can take.
const (
	FormImage  Form = "image"  // the whole reference: repo[:tag][@digest]
	FormTag    Form = "tag"    // only the tag (marker ":tag", kustomize newTag)
	FormName   Form = "name"   // only the repository (marker ":name", kustomize newName)
	FormDigest Form = "digest" // only the digest (marker ":digest", kustomize digest)
)

// Source says how a reference was found.
type Source string

// How references are found.
const (
	SourceContainer Source = "container" // a container image in a workload's pod spec
	SourceKustomize Source = "kustomize" // an entry of a kustomization's images:
	SourceMarker    Source = "marker"    // a field carrying a # {"$imagepolicy": ...} comment
)

// Reference is one place in one file that names an image governed by a policy.
type Reference struct {
	File      string `json:"file"`      // slash-separated, relative to the repository root
	Line      int    `json:"line"`      // 1-based line of the scalar value
	Column    int    `json:"column"`    // 1-based column of the scalar value
	Object    string `json:"object"`    // kind/namespace/name of the enclosing object; namespace may be empty
	FieldPath string `json:"fieldPath"` // e.g. spec.template.spec.containers[name=app].image
	Form      Form   `json:"form"`
	Source    Source `json:"source"`
	Policy    string `json:"policy"`  // name of the governing policy
	Current   string `json:"current"` // the scalar's value as it is now (unquoted)
	// Image is the current image: for FormImage the parsed value; for the
	// part forms what is known of it (e.g. Tag only for FormTag, and the
	// repository of the policy).
	Image image.Ref `json:"-"`

	span  span   // byte offsets of the scalar's value in the file, quotes excluded
	quote byte   // '"' or '\'' when the value is quoted, 0 when plain
	bad   string // why the value cannot be rewritten in place; "" when it can
	group int    // 1 + offset of the enclosing entry (kustomize image, marker siblings); 0: none
}

type span struct{ start, end int }

// Skipped is a file the scan did not parse, and why.
type Skipped struct {
	File   string `json:"file"`
	Reason string `json:"reason"` // one of the Reason* constants
}

// The reasons a file is skipped.
const (
	ReasonIgnored       = "ignored"        // .ferryignore, .git/ or .ferry/
	ReasonChartTemplate = "chart template" // under a Helm chart's templates/
	ReasonNoImage       = "no governed image"
	ReasonTooLarge      = "too large"
	ReasonNotManifest   = "not a manifest" // extension other than .yaml/.yml/.json
	ReasonSymlink       = "symlink outside the repository"
)

// FileError is a file that could contain a governed reference but could not
// be read or parsed. The policies it could affect are blocked: nothing is
// written for them in this run.
type FileError struct {
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Policies []string `json:"policies"`
	Err      error    `json:"-"`
}

// Result is what Scan found.
type Result struct {
	References []Reference `json:"references"` // sorted by file, line, column
	Skipped    []Skipped   `json:"skipped,omitempty"`
	Errors     []FileError `json:"errors,omitempty"`
	// Markers are the $imagepolicy markers that name no policy governing
	// their file: a typo, or a file outside the policy's update.paths.
	Markers []MarkerProblem `json:"markers,omitempty"`
	Files   int             `json:"files"`  // files considered
	Parsed  int             `json:"parsed"` // files actually parsed
	Bytes   int64           `json:"bytes"`  // bytes read
}

// MarkerProblem is a {"$imagepolicy": ...} marker that updates nothing.
type MarkerProblem struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Marker string `json:"marker"`
	Policy string `json:"policy,omitempty"`
	// Known: the policy exists, but does not govern the file (its
	// spec.update.paths): on purpose, often. Unknown names are mistakes.
	Known bool   `json:"known"`
	Why   string `json:"why"`
}

// Options tune Scan.
type Options struct {
	MaxFileSize int64 // default 10 MiB
	ParseAll    bool  // disable the byte prefilter (benchmark baseline)
	Explain     bool  // record Skipped files
}

// Target is what a policy wants its references to become.
type Target struct {
	Policy *policy.Policy
	Tag    string
	Digest string      // set when the policy asks for digests and it is known
	Tags   []image.Tag // the listing, used to look up the current tag's push time for pushedAt ordering
}

// Status is the decision for one reference.
type Status string

// The decisions Plan makes.
const (
	StatusUpdate    Status = "update"    // will be rewritten
	StatusCurrent   Status = "current"   // already the wanted value
	StatusAhead     Status = "ahead"     // current tag is newer than the chosen one: never downgrade
	StatusUnmanaged Status = "unmanaged" // current tag does not parse under the policy
	StatusNoTarget  Status = "no-target" // the policy chose no tag (or its listing failed)
	StatusBlocked   Status = "blocked"   // a file of this policy failed to parse
	StatusRefused   Status = "refused"   // the rewrite would write a broken reference (even with force)
)

// Decision is Plan's verdict for one reference; To is the new scalar value.
type Decision struct {
	Reference
	Status Status `json:"status"`
	Wanted string `json:"wanted,omitempty"` // the scalar value the policy wants
	Why    string `json:"why,omitempty"`
}

// Change is one scalar rewrite.
type Change struct {
	Reference
	From string `json:"from"`
	To   string `json:"to"`
}

// Interface assertions on the signatures other packages rely on.
var (
	_ func(context.Context, string, []*policy.Policy, Options) (*Result, error) = Scan
	_ func(*Result, map[string]Target, bool) []Decision                         = Plan
	_ func([]Decision) []Change                                                 = Changes
	_ func(context.Context, string, []Change) ([]string, error)                 = Apply
	_ func(string, []Change) (string, error)                                    = Diff
)
