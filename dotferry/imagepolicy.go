package dotferry

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

// maxNameLen is the longest policy name accepted.
const maxNameLen = 253

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// strategyNames lists spec.policy's fields in the order errors name them.
var strategyNames = []string{string(policy.Date), string(policy.SemVer), string(policy.Numerical), string(policy.Alphabetical), string(policy.PushedAt)}

// imagePolicy validates an ImagePolicy document and, when it has no
// problem, adds it to the Set.
func (l *loader) imagePolicy(d *document.Doc) {
	mark := d.Mark()
	n := d.Root
	p := &policy.Policy{Source: d.Source()}
	top := d.Fields(n, "", "apiVersion", "kind", "metadata", "spec")

	if mf, ok := top["metadata"]; !ok || document.IsNull(mf.Val) {
		d.Missing(document.OrKey(n, mf), "metadata.name")
	} else {
		meta := d.Fields(mf.Val, "metadata", "name")
		if name, nn, ok := d.Required(meta, "name", mf.Key, "metadata"); ok {
			l.policyName(d, p, name, nn)
		}
	}

	if sf, ok := d.RequiredField(top, "spec", n, ""); ok {
		policySpec(d, p, sf)
	}

	if !d.Failed(mark) {
		l.set.Policies = append(l.set.Policies, p)
	}
}

// checkPolicyName reports whether name can name a policy.
func checkPolicyName(name string) error {
	switch {
	case name == "":
		return errors.New("must not be empty")
	case len(name) > maxNameLen:
		return fmt.Errorf("longer than %d characters", maxNameLen)
	case !nameRE.MatchString(name):
		return fmt.Errorf("%q is not a valid name: use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", name)
	}
	return nil
}

func (l *loader) policyName(d *document.Doc, p *policy.Policy, name string, n *yaml.Node) {
	if err := checkPolicyName(name); err != nil {
		d.Errorf(n, "metadata.name", "%v", err)
		return
	}
	p.Name = name
	claim(d, n, l.names, name, document.Source{File: d.File, Line: d.Line(n)}, duplicatePolicy)
}

// duplicatePolicy is the error of a policy name declared twice.
const duplicatePolicy = "duplicate policy name %q (first defined at %s)"

// claim records name as declared at src in seen, or, when seen has it
// already, reports it on d's metadata.name (at n) with format, given the
// name and where it was declared first, and returns false.
func claim(d *document.Doc, n *yaml.Node, seen map[string]document.Source, name string, src document.Source, format string) bool {
	if first, dup := seen[name]; dup {
		d.Errorf(n, "metadata.name", format, name, first)
		return false
	}
	seen[name] = src
	return true
}

func policySpec(d *document.Doc, p *policy.Policy, sf document.Field) {
	spec := d.Fields(sf.Val, "spec", "image", "filterTags", "policy", "minAge", "digest", "update", "pullRequest", "verify")

	if img, nn, ok := d.Required(spec, "image", sf.Key, "spec"); ok {
		policyImage(d, p, img, nn)
	}

	if f, ok := spec["filterTags"]; ok {
		filterTags(d, p, f)
	}

	if f, ok := spec["policy"]; !ok || document.IsNull(f.Val) {
		d.Errorf(document.OrKey(sf.Key, f), "spec.policy", "required field is missing (one of %s)", strings.Join(strategyNames, ", "))
	} else {
		strategy(d, p, f)
	}

	if f, ok := spec["minAge"]; ok {
		if s, ok := d.Str(f, "spec.minAge"); ok {
			dur, err := time.ParseDuration(s)
			switch {
			case err != nil:
				d.Errorf(f.Val, "spec.minAge", "invalid duration %q (use units such as 30m or 2h)", s)
			case dur < 0:
				d.Errorf(f.Val, "spec.minAge", "must not be negative, got %s", s)
			default:
				p.MinAge = dur
			}
		}
	}

	if f, ok := spec["digest"]; ok {
		p.Digest = d.Bool(f, "spec.digest")
	}

	if f, ok := spec["update"]; ok {
		upd := d.Fields(f.Val, "spec.update", "paths")
		if pf, ok := upd["paths"]; ok {
			globs, nodes := d.StrList(pf, "spec.update.paths")
			for i, g := range globs {
				if err := policy.CheckGlob(g); err != nil {
					d.Errorf(nodes[i], document.Index("spec.update.paths", slices.Index(pf.Val.Content, nodes[i])), "invalid glob: %v", err)
					continue
				}
				p.UpdatePaths = append(p.UpdatePaths, g)
			}
		}
	}

	if f, ok := spec["pullRequest"]; ok {
		p.PullRequest = pullRequest(d, f, "spec.pullRequest", true)
	}

	if f, ok := spec["verify"]; ok {
		policyVerify(d, p, f) // verify.go
	}
}

func policyImage(d *document.Doc, p *policy.Policy, img string, n *yaml.Node) {
	const fp = "spec.image"
	p.Written = img
	if img == "" {
		d.Errorf(n, fp, "must not be empty")
		return
	}
	name, tag, digest := image.Split(img)
	switch {
	case digest != "" || strings.Contains(img, "@"):
		d.Errorf(n, fp, "must be a repository without a digest, got %q", img)
		return
	case tag != "" || strings.HasSuffix(name, ":"):
		d.Errorf(n, fp, "must be a repository without a tag, got %q (the policy chooses the tag)", img)
		return
	}
	repo, err := image.NormalizeRepository(img)
	if err != nil {
		d.Errorf(n, fp, "invalid repository: %v", err)
		return
	}
	p.Image = repo
}

func filterTags(d *document.Doc, p *policy.Policy, f document.Field) {
	ft := d.Fields(f.Val, "spec.filterTags", "pattern", "extract", "exclude")
	patternOK, hasPattern := false, false
	if pf, ok := ft["pattern"]; ok && !document.IsNull(pf.Val) {
		s, ok := d.Str(pf, "spec.filterTags.pattern")
		switch {
		case !ok:
			hasPattern = true // a type error, already reported
		case s == "": // no filter
		default:
			hasPattern = true
			re, err := regexp.Compile(s)
			if err != nil {
				d.Errorf(pf.Val, "spec.filterTags.pattern", "invalid regular expression: %v", err)
			} else {
				p.Pattern, patternOK = re, true
			}
		}
	}
	if ef, ok := ft["extract"]; ok {
		if s, ok := d.Str(ef, "spec.filterTags.extract"); ok && s != "" {
			switch {
			case patternOK:
				if err := policy.CheckExtract(p.Pattern, s); err != nil {
					d.Errorf(ef.Val, "spec.filterTags.extract", "%v", err)
				} else {
					p.Extract = s
				}
			case !hasPattern:
				d.Errorf(ef.Val, "spec.filterTags.extract", "extract needs a pattern with the groups it names (spec.filterTags.pattern)")
			}
		}
	}
	if xf, ok := ft["exclude"]; ok {
		list, nodes := d.StrList(xf, "spec.filterTags.exclude")
		for i, s := range list {
			fp := document.Index("spec.filterTags.exclude", slices.Index(xf.Val.Content, nodes[i]))
			if s == "" {
				d.Errorf(nodes[i], fp, "must not be empty (an empty expression excludes every tag)")
				continue
			}
			re, err := regexp.Compile(s)
			if err != nil {
				d.Errorf(nodes[i], fp, "invalid regular expression: %v", err)
				continue
			}
			p.Exclude = append(p.Exclude, re)
		}
	}
}

func strategy(d *document.Doc, p *policy.Policy, f document.Field) {
	const path = "spec.policy"
	strat := d.Fields(f.Val, path, strategyNames...)
	if len(strat) == 0 {
		if f.Val.Kind == yaml.MappingNode {
			d.Errorf(f.Key, path, "one of %s is required", strings.Join(strategyNames, ", "))
		}
		return
	}
	// Report extra strategies in file order, after the first one.
	var present []document.Field
	for _, name := range strategyNames {
		if sf, ok := strat[name]; ok {
			present = append(present, sf)
		}
	}
	slices.SortFunc(present, func(a, b document.Field) int { return a.Key.Line - b.Key.Line })
	for i, sf := range present {
		s := strategyOptions(d, sf)
		if i == 0 {
			p.Strategy = s
			continue
		}
		d.Errorf(sf.Key, path, "only one strategy may be set, got %q and %q", present[0].Key.Value, sf.Key.Value)
	}
}

func strategyOptions(d *document.Doc, sf document.Field) policy.Strategy {
	kind := policy.StrategyKind(sf.Key.Value)
	path := "spec.policy." + sf.Key.Value
	s := policy.Strategy{Kind: kind}
	switch kind {
	case policy.Date:
		opts := d.Fields(sf.Val, path, "layout")
		layout, ln, ok := d.Required(opts, "layout", sf.Key, path)
		switch {
		case !ok:
		case layout == "":
			d.Errorf(ln, path+".layout", "must not be empty")
		default:
			if err := policy.CheckLayout(layout); err != nil {
				d.Errorf(ln, path+".layout", "%v", err)
			} else {
				s.Layout = layout
			}
		}
	case policy.SemVer:
		opts := d.Fields(sf.Val, path, "range", "strict")
		s.Strict = d.Bool(opts["strict"], path+".strict")
		if rf, ok := opts["range"]; ok {
			if r, ok := d.Str(rf, path+".range"); ok {
				if err := policy.CheckRange(r); err != nil {
					d.Errorf(rf.Val, path+".range", "invalid semver range %q: %v", r, err)
				} else {
					s.Range = r
				}
			}
		}
	case policy.Numerical, policy.Alphabetical:
		opts := d.Fields(sf.Val, path, "order")
		s.Order = "asc"
		if of, ok := opts["order"]; ok {
			if o, ok := d.Str(of, path+".order"); ok {
				if o != "asc" && o != "desc" {
					d.Errorf(of.Val, path+".order", "must be asc or desc, got %q", o)
				} else {
					s.Order = o
				}
			}
		}
	case policy.PushedAt:
		d.Fields(sf.Val, path)
	}
	return s
}

// pullRequest reads a pullRequest mapping (an ImagePolicy's, with group,
// or the Config's defaults, without).
func pullRequest(d *document.Doc, f document.Field, path string, withGroup bool) policy.PullRequest {
	known := []string{"labels", "reviewers", "teamReviewers", "assignees", "draft"}
	if withGroup {
		known = append([]string{"group"}, known...)
	}
	pr := d.Fields(f.Val, path, known...)
	var out policy.PullRequest
	if gf, ok := pr["group"]; ok {
		out.Group, _ = d.Str(gf, path+".group")
	}
	list := func(name string) []string {
		lf, ok := pr[name]
		if !ok {
			return nil
		}
		values, nodes := d.StrList(lf, path+"."+name)
		var res []string
		for i, v := range values {
			if strings.TrimSpace(v) == "" {
				d.Errorf(nodes[i], document.Index(path+"."+name, slices.Index(lf.Val.Content, nodes[i])), "must not be empty")
				continue
			}
			res = append(res, v)
		}
		return res
	}
	out.Labels = list("labels")
	out.Reviewers = list("reviewers")
	out.TeamReviewers = list("teamReviewers")
	out.Assignees = list("assignees")
	if df, ok := pr["draft"]; ok {
		out.Draft = d.Bool(df, path+".draft")
	}
	return out
}
