package bot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/dotferry"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
	"github.com/ferrygitops/ferry/registry"
	"github.com/ferrygitops/ferry/updater"
	"github.com/ferrygitops/ferry/verify"
)

// Registry is what Scan needs from a registry client (registry.Client).
type Registry interface {
	List(ctx context.Context, repos []string) []registry.Listing
	Digest(ctx context.Context, repository, tag string) (string, error)
}

// ScanOptions configure Scan.
type ScanOptions struct {
	Repo        string    // the manifest repository's root directory
	PoliciesDir string    // default: Repo/.ferry
	Now         time.Time // required: minAge is measured from it
	Explain     bool      // record skipped files
	Force       bool      // plan updates of unparsable current tags
	MaxFileSize int64     // see updater.Options

	// Signatures verifies candidates of policies with spec.verify; nil
	// means a verify.Client on the Registry's own transport (see verify.go).
	Signatures Signatures
	// SignatureCache remembers verified digests; nil: one for the process.
	SignatureCache *verify.Cache
	// Secrets reads keys kept in Kubernetes Secrets; nil: a client from the
	// in-cluster configuration or KUBECONFIG, made when first needed.
	Secrets corev1client.SecretsGetter
}

// Report is the outcome of Scan: per policy, what the registry offers, what
// the policy chose, and where the repo uses the image.
type Report struct {
	Repo       string            `json:"repo"`
	Policies   []PolicyReport    `json:"policies"`
	FileErrors []FileErrorReport `json:"fileErrors,omitempty"`
	// Markers are $imagepolicy markers naming a policy that does not
	// exist (errors) or that does not govern their file (listed with
	// Explain).
	Markers []updater.MarkerProblem `json:"markers,omitempty"`
	Skipped []updater.Skipped       `json:"skipped,omitempty"`
	Files   int                     `json:"files"`
	Parsed  int                     `json:"parsed"`
	Stats   *registry.HostStats     `json:"registryCalls,omitempty"`
	// SignatureCalls are the registry requests signature verification made
	// (included in Stats), reported with it.
	SignatureCalls *int64 `json:"signatureCalls,omitempty"`
	signatureCalls int64

	// Decisions holds the plan for every reference, in file order.
	Decisions []updater.Decision `json:"-"`
	// Notes are what the documents say that Ferry does differently (a
	// Flux field without a counterpart, say).
	Notes []dotferry.Note `json:"notes,omitempty"`

	// Set is the loaded policy set (including App and Config documents).
	Set *dotferry.Set `json:"-"`
}

// PolicyReport is one policy's part of a Report.
type PolicyReport struct {
	Name        string        `json:"name"`
	Image       string        `json:"image"`
	Strategy    string        `json:"strategy"`
	Tag         string        `json:"tag,omitempty"`
	Digest      string        `json:"digest,omitempty"`
	PushedAt    *time.Time    `json:"pushedAt,omitempty"`
	TagsSeen    int           `json:"tagsSeen"`
	TagsMatched int           `json:"tagsMatched"`
	Skipped     []policy.Skip `json:"skippedTags,omitempty"`
	Verify      *VerifyReport `json:"verify,omitempty"`
	// Rejected are versions the listing offers that a Rejection document
	// forbids: never chosen, whatever their rank.
	Rejected   []RejectedTag `json:"rejected,omitempty"`
	Error      string        `json:"error,omitempty"`
	References []RefReport   `json:"references"`
}

// RefReport is one reference of a policy's image in the repo.
type RefReport struct {
	File      string         `json:"file"`
	Line      int            `json:"line"`
	Column    int            `json:"column"`
	Object    string         `json:"object,omitempty"`
	FieldPath string         `json:"fieldPath,omitempty"`
	Form      updater.Form   `json:"form"`
	Current   string         `json:"current"`
	Wanted    string         `json:"wanted,omitempty"`
	Status    updater.Status `json:"status"`
	Why       string         `json:"why,omitempty"`
}

// FileErrorReport is a manifest that could hold a governed reference but
// could not be parsed; its policies are blocked for this run.
type FileErrorReport struct {
	File     string   `json:"file"`
	Line     int      `json:"line,omitempty"`
	Policies []string `json:"policies"`
	Error    string   `json:"error"`
}

// Failed reports whether any part of the scan failed: a registry listing,
// a manifest that did not parse, a marker naming no policy, or a rewrite
// refused because it would write a broken reference.
func (r *Report) Failed() bool {
	if len(r.FileErrors) > 0 {
		return true
	}
	for _, m := range r.Markers {
		if !m.Known {
			return true
		}
	}
	for _, d := range r.Decisions {
		if d.Status == updater.StatusRefused {
			return true
		}
	}
	for _, p := range r.Policies {
		if p.Error != "" {
			return true
		}
	}
	return false
}

// NotFoundError is a repository or policy directory that is not there: a
// mistake in the command or its configuration, not a run-time failure.
type NotFoundError = document.NotFoundError

// NoPoliciesError says that the repository declares no image policy, so a
// scan or a bump would do nothing: it is reported, never a silent success.
type NoPoliciesError struct {
	Dir  string // the .ferry directory read, or "" when it is missing
	Repo string
	Apps int // App documents found: a sync-only repository
}

func (e *NoPoliciesError) Error() string {
	if e.Dir == "" {
		return fmt.Sprintf("no image policies: %s has no %s directory and no Flux ImagePolicy (image.toolkit.fluxcd.io); declare one in %s/policies.yaml (kind: ImagePolicy, see `ferry scan --help`)",
			e.Repo, dotferry.Dir, dotferry.Dir)
	}
	if e.Apps > 0 {
		return fmt.Sprintf("no image policies in %s (it declares %d apps, which `ferry sync` applies; declare a kind: ImagePolicy to bump images)", e.Dir, e.Apps)
	}
	return fmt.Sprintf("no image policies in %s: declare one (kind: ImagePolicy, see `ferry scan --help`)", e.Dir)
}

// loadPolicies reads dir (the repository's .ferry, or --policies). A
// repository without .ferry is read as Flux left it: its ImageRepository,
// ImagePolicy and ImageUpdateAutomation objects, wherever they are.
func loadPolicies(ctx context.Context, opts ScanOptions, dir string) (*dotferry.Set, error) {
	set, err := dotferry.LoadDir(dir)
	switch {
	case err == nil:
		if len(set.Policies) == 0 {
			return nil, &NoPoliciesError{Dir: dir, Repo: opts.Repo, Apps: len(set.Apps)}
		}
		return set, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case opts.PoliciesDir != "":
		return nil, &NotFoundError{What: "policy directory", Path: dir, Err: fs.ErrNotExist}
	}
	files, err := updater.FindFiles(ctx, opts.Repo, []byte(dotferry.FluxGroup+"/"), updater.Options{MaxFileSize: opts.MaxFileSize})
	if err != nil {
		return nil, err
	}
	set, err = dotferry.LoadFlux(files)
	if err != nil {
		return nil, err
	}
	if len(set.Policies) == 0 {
		return nil, &NoPoliciesError{Repo: opts.Repo}
	}
	return set, nil
}

// Changes returns the rewrites the plan calls for.
func (r *Report) Changes() []updater.Change { return updater.Changes(r.Decisions) }

// Scan loads the policies (a document.Errors on invalid files, before any
// network call), lists each distinct image once, selects each policy's tag,
// finds the references in the repo and plans each one.
func Scan(ctx context.Context, reg Registry, opts ScanOptions) (*Report, error) {
	if opts.Now.IsZero() {
		return nil, errors.New("scanning: no current time given")
	}
	dir := opts.PoliciesDir
	if dir == "" {
		dir = filepath.Join(opts.Repo, ".ferry")
	}
	if info, err := os.Stat(opts.Repo); err != nil {
		return nil, &NotFoundError{What: "repository", Path: opts.Repo, Err: err}
	} else if !info.IsDir() {
		return nil, &NotFoundError{What: "repository", Path: opts.Repo, Err: errors.New("not a directory")}
	}
	set, err := loadPolicies(ctx, opts, dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Repo: opts.Repo, Set: set, Notes: set.Notes}

	// References first: it is local and tells nothing to the registry.
	res, err := updater.Scan(ctx, opts.Repo, set.Policies, updater.Options{Explain: opts.Explain, MaxFileSize: opts.MaxFileSize})
	if err != nil {
		return nil, err
	}
	rep.Files, rep.Parsed, rep.Skipped = res.Files, res.Parsed, res.Skipped
	for _, m := range res.Markers {
		if !m.Known || opts.Explain {
			rep.Markers = append(rep.Markers, m)
		}
	}
	for _, fe := range res.Errors {
		msg := "unknown error"
		if fe.Err != nil {
			msg = fe.Err.Error()
		}
		rep.FileErrors = append(rep.FileErrors, FileErrorReport{File: fe.File, Line: fe.Line, Policies: fe.Policies, Error: msg})
	}

	repos := make([]string, 0, len(set.Policies))
	for _, p := range set.Policies {
		repos = append(repos, p.Image)
	}
	listings := map[string]registry.Listing{}
	for _, l := range reg.List(ctx, repos) {
		listings[l.Repository] = l
	}

	targets := make(map[string]updater.Target, len(set.Policies))
	sigs := newVerifier(reg, &opts)
	for _, p := range set.Policies {
		pr := PolicyReport{Name: p.Name, Image: p.Written, Strategy: string(p.Strategy.Kind), References: []RefReport{}}
		l := listings[p.Image]
		if l.Err != nil {
			pr.Error = l.Err.Error()
		} else {
			pr.TagsSeen = len(l.Tags)
			var tags []image.Tag
			tags, pr.Rejected = withoutRejected(l.Tags, p.Image, set.Rejections)
			// Choose; again, without it, when the chosen tag's digest turns
			// out to be rejected.
			for {
				choice, ranked, err := policy.Ranked(tags, p, opts.Now)
				if err == nil && p.Verify != nil {
					pr.Verify, err = sigs.choose(ctx, p, ranked, res.References)
					if err == nil {
						choice.Tag, choice.Digest, choice.PushedAt = pr.Verify.Tag, pr.Verify.Digest, tagInfo(pr.Verify.Tag, l.Tags).PushedAt
					}
				}
				if err != nil {
					pr.Error = fmt.Sprintf("selecting a tag: %v", err)
				} else {
					pr.Tag, pr.Digest, pr.TagsMatched, pr.Skipped = choice.Tag, choice.Digest, choice.Matched, choice.Skipped
					if !choice.PushedAt.IsZero() {
						at := choice.PushedAt.UTC()
						pr.PushedAt = &at
					}
					if p.Digest && pr.Tag != "" && pr.Digest == "" {
						d, err := reg.Digest(ctx, p.Image, pr.Tag)
						if err != nil {
							pr.Error = err.Error()
						}
						pr.Digest = d
						// A digest rejected by digest: drop its tag and choose again.
						if r, bad := dotferry.FindRejection(set.Rejections, p.Image, "", d); bad && err == nil {
							pr.Rejected = append(pr.Rejected, RejectedTag{Tag: pr.Tag, Digest: d, Reason: r.Reason, Source: r.Source.String()})
							tags = slices.DeleteFunc(slices.Clone(tags), func(t image.Tag) bool { return t.Name == pr.Tag })
							pr.Tag, pr.Digest, pr.PushedAt = "", "", nil
							continue
						}
					}
					if pr.Error == "" {
						targets[p.Name] = updater.Target{Policy: p, Tag: pr.Tag, Digest: pr.Digest, Tags: l.Tags}
					}
				}
				break
			}
		}
		rep.Policies = append(rep.Policies, pr)
	}

	rep.Decisions = updater.Plan(res, targets, opts.Force)
	rep.explainUnverified()
	rep.fillReferences()
	rep.signatureCalls = sigs.calls
	return rep, nil
}

// fillReferences (re)builds each policy's references from the decisions.
func (r *Report) fillReferences() {
	byPolicy := make(map[string]int, len(r.Policies))
	for i := range r.Policies {
		byPolicy[r.Policies[i].Name] = i
		r.Policies[i].References = []RefReport{}
	}
	for _, d := range r.Decisions {
		i, ok := byPolicy[d.Policy]
		if !ok {
			continue
		}
		r.Policies[i].References = append(r.Policies[i].References, RefReport{
			File: d.File, Line: d.Line, Column: d.Column, Object: d.Object, FieldPath: d.FieldPath,
			Form: d.Form, Current: d.Current, Wanted: d.Wanted, Status: d.Status, Why: d.Why,
		})
	}
}

// RejectedTag is a listed version a Rejection forbids.
type RejectedTag struct {
	Tag    string `json:"tag"`
	Digest string `json:"digest,omitempty"`
	Reason string `json:"reason"`
	Source string `json:"source"` // FILE:LINE of the Rejection
}

// withoutRejected returns the tags no rejection names (by tag, or by the
// digest the listing gives), and the ones it removed. The image's
// rejections are indexed once, so the cost is one map lookup per tag.
func withoutRejected(tags []image.Tag, repo string, rs []dotferry.Rejection) ([]image.Tag, []RejectedTag) {
	byTag, byDigest := map[string]dotferry.Rejection{}, map[string]dotferry.Rejection{}
	for _, r := range rs {
		switch {
		case r.Image != repo:
		case r.Digest != "":
			if _, dup := byDigest[strings.ToLower(r.Digest)]; !dup {
				byDigest[strings.ToLower(r.Digest)] = r
			}
		case r.Tag != "":
			if _, dup := byTag[r.Tag]; !dup {
				byTag[r.Tag] = r
			}
		}
	}
	if len(byTag)+len(byDigest) == 0 {
		return tags, nil
	}
	out := make([]image.Tag, 0, len(tags))
	var rejected []RejectedTag
	for _, t := range tags {
		r, bad := byTag[t.Name]
		if !bad && t.Digest != "" && len(byDigest) > 0 {
			r, bad = byDigest[strings.ToLower(t.Digest)]
		}
		if bad {
			rejected = append(rejected, RejectedTag{Tag: t.Name, Digest: t.Digest, Reason: r.Reason, Source: r.Source.String()})
			continue
		}
		out = append(out, t)
	}
	return out, rejected
}
