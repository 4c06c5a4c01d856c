package dotferry

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
)

// FluxGroup is the API group of Flux's image automation kinds, which Ferry
// reads as they stand in a repository: ImageRepository, ImagePolicy and
// ImageUpdateAutomation, in versions v1 and v1beta2.
const FluxGroup = "image.toolkit.fluxcd.io"

var fluxVersions = []string{FluxGroup + "/v1", FluxGroup + "/v1beta2"}

// fluxDefaultExclusion is an ImageRepository's exclusionList when it names
// none (cosign signature tags).
const fluxDefaultExclusion = `^.*\.sig$`

// Note is something a document says that Ferry read but does not do the
// same way (a Flux field with no Ferry counterpart, say): shown by `ferry
// scan --explain` and in its JSON.
type Note struct {
	Source document.Source `json:"source"`
	Field  string          `json:"field,omitempty"`
	Msg    string          `json:"message"`
}

func (n Note) String() string {
	if n.Field != "" {
		return n.Source.String() + ": " + n.Field + ": " + n.Msg
	}
	return n.Source.String() + ": " + n.Msg
}

type nsName struct{ ns, name string }

func (k nsName) String() string {
	if k.ns == "" {
		return k.name
	}
	return k.ns + "/" + k.name
}

type fluxRepository struct {
	src     document.Source
	image   string // normalised
	exclude []*regexp.Regexp
}

type fluxPolicy struct {
	p        *policy.Policy
	ns       string
	labels   map[string]string
	repo     nsName
	repoNode *yaml.Node
	doc      *document.Doc
	suspend  bool
}

type fluxAutomation struct {
	src         document.Source
	ns          string
	selector    labels.Selector
	path        string // "" for the whole repository
	authorName  string
	authorEmail string
	suspend     bool
}

// fluxState is what a load collects of Flux's kinds; policies are built
// once every document is read, since an ImagePolicy may come before the
// ImageRepository it names.
type fluxState struct {
	repos    map[nsName]*fluxRepository
	policies []*fluxPolicy
	autos    []*fluxAutomation
	names    map[string]nsName
}

// isFlux reports whether apiVersion is one of Flux's image automation
// versions Ferry reads.
func isFlux(apiVersion string) bool { return slices.Contains(fluxVersions, apiVersion) }

// fluxDocument reads one Flux document; kind is already a string.
func (l *loader) fluxDocument(d *document.Doc, kind string, kindNode *yaml.Node) {
	if l.flux == nil {
		l.flux = &fluxState{repos: map[nsName]*fluxRepository{}, names: map[string]nsName{}}
	}
	switch kind {
	case "ImageRepository":
		l.fluxRepository(d)
	case "ImagePolicy":
		l.fluxPolicy(d)
	case "ImageUpdateAutomation":
		l.fluxAutomation(d)
	default:
		d.Errorf(kindNode, "kind", "unknown kind %q of %s (want ImageRepository, ImagePolicy or ImageUpdateAutomation)", kind, FluxGroup)
	}
}

// fluxMeta reads metadata: name (required), namespace, labels,
// annotations.
func fluxMeta(d *document.Doc, top map[string]document.Field) (key nsName, lbls map[string]string, nameNode *yaml.Node, ok bool) {
	mf, present := top["metadata"]
	if !present || document.IsNull(mf.Val) {
		d.Missing(document.OrKey(d.Root, mf), "metadata.name")
		return key, nil, nil, false
	}
	meta := d.Fields(mf.Val, "metadata", "name", "namespace", "labels", "annotations")
	name, nameNode, ok := d.Required(meta, "name", mf.Key, "metadata")
	key.name = name
	key.ns, _ = d.Str(meta["namespace"], "metadata.namespace")
	lbls = d.StrMap(meta["labels"], "metadata.labels")
	d.StrMap(meta["annotations"], "metadata.annotations")
	return key, lbls, nameNode, ok && name != ""
}

// fluxTop reads a Flux document's top level; status is accepted and ignored.
func fluxTop(d *document.Doc) map[string]document.Field {
	return d.Fields(d.Root, "", "apiVersion", "kind", "metadata", "spec", "status")
}

func (l *loader) fluxRepository(d *document.Doc) {
	mark := d.Mark()
	top := fluxTop(d)
	key, _, _, _ := fluxMeta(d, top)
	r := &fluxRepository{src: d.Source()}
	sf, ok := d.RequiredField(top, "spec", d.Root, "")
	if !ok {
		return
	}
	spec := d.Fields(sf.Val, "spec", "image", "interval", "timeout", "secretRef", "proxySecretRef", "serviceAccountName",
		"certSecretRef", "suspend", "accessFrom", "exclusionList", "provider", "insecure")
	if img, n, ok := d.Required(spec, "image", sf.Key, "spec"); ok {
		if repo, err := image.NormalizeRepository(img); err != nil {
			d.Errorf(n, "spec.image", "invalid repository: %v", err)
		} else {
			r.image = repo
		}
	}
	d.Duration(spec["interval"], "spec.interval")
	d.Duration(spec["timeout"], "spec.timeout")
	for _, ref := range []string{"secretRef", "proxySecretRef", "certSecretRef"} {
		if f, ok := spec[ref]; ok {
			rf := d.Fields(f.Val, "spec."+ref, "name")
			d.Str(rf["name"], "spec."+ref+".name")
			l.note(d, f.Key, "spec."+ref, "not read: Ferry takes registry credentials from the docker config, its credential helpers or the AWS default chain")
		}
	}
	d.Str(spec["serviceAccountName"], "spec.serviceAccountName")
	d.Bool(spec["suspend"], "spec.suspend")
	d.Bool(spec["insecure"], "spec.insecure")
	if f, ok := spec["accessFrom"]; ok {
		d.Fields(f.Val, "spec.accessFrom", "namespaceSelectors")
	}
	if f, ok := spec["provider"]; ok {
		if p, ok := d.Str(f, "spec.provider"); ok && !slices.Contains([]string{"generic", "aws", "azure", "gcp"}, p) {
			d.Errorf(f.Val, "spec.provider", "must be generic, aws, azure or gcp, got %q", p)
		}
	}
	exclusions := []string{fluxDefaultExclusion}
	var nodes []*yaml.Node
	if f, ok := spec["exclusionList"]; ok && f.Present() {
		exclusions, nodes = d.StrList(f, "spec.exclusionList")
	}
	for i, x := range exclusions {
		re, err := regexp.Compile(x)
		if err != nil {
			d.Errorf(nodes[i], "spec.exclusionList", "invalid regular expression %q: %v", x, err)
			continue
		}
		r.exclude = append(r.exclude, re)
	}
	if d.Failed(mark) {
		return
	}
	if _, dup := l.flux.repos[key]; dup {
		d.Errorf(nil, "metadata.name", "ImageRepository %s is also declared at %s", key, l.flux.repos[key].src)
		return
	}
	l.flux.repos[key] = r
}

func (l *loader) fluxPolicy(d *document.Doc) {
	mark := d.Mark()
	top := fluxTop(d)
	key, lbls, nameNode, nameOK := fluxMeta(d, top)
	fp := &fluxPolicy{p: &policy.Policy{Source: d.Source()}, ns: key.ns, labels: lbls, doc: d}
	if nameOK {
		if err := checkPolicyName(key.name); err != nil {
			d.Errorf(nameNode, "metadata.name", "%v", err)
		}
		fp.p.Name = key.name
	}
	sf, ok := d.RequiredField(top, "spec", d.Root, "")
	if !ok {
		return
	}
	spec := d.Fields(sf.Val, "spec", "imageRepositoryRef", "policy", "filterTags", "digestReflectionPolicy", "interval", "suspend")
	if f, ok := d.RequiredField(spec, "imageRepositoryRef", sf.Key, "spec"); ok {
		ref := d.Fields(f.Val, "spec.imageRepositoryRef", "name", "namespace")
		fp.repo.name, _, _ = d.Required(ref, "name", f.Key, "spec.imageRepositoryRef")
		fp.repo.ns, _ = d.Str(ref["namespace"], "spec.imageRepositoryRef.namespace")
		if fp.repo.ns == "" {
			fp.repo.ns = key.ns
		}
		fp.repoNode = f.Key
	}
	if f, ok := spec["filterTags"]; ok {
		ft := d.Fields(f.Val, "spec.filterTags", "pattern", "extract")
		pattern, _ := d.Str(ft["pattern"], "spec.filterTags.pattern")
		extract, _ := d.Str(ft["extract"], "spec.filterTags.extract")
		if pattern != "" {
			re, err := regexp.Compile(pattern)
			if err != nil {
				d.Errorf(ft["pattern"].Val, "spec.filterTags.pattern", "invalid regular expression: %v", err)
			} else {
				fp.p.Pattern = re
				if extract != "" {
					if err := policy.CheckExtract(re, extract); err != nil {
						d.Errorf(ft["extract"].Val, "spec.filterTags.extract", "%v", err)
					} else {
						fp.p.Extract = extract
					}
				}
			}
		} else if extract != "" {
			d.Errorf(ft["extract"].Val, "spec.filterTags.extract", "extract needs a pattern with the groups it names (spec.filterTags.pattern)")
		}
	}
	if f, ok := spec["policy"]; !ok || document.IsNull(f.Val) {
		d.Errorf(document.OrKey(sf.Key, f), "spec.policy", "required field is missing (one of semver, alphabetical, numerical)")
	} else {
		fluxStrategy(d, fp.p, f)
	}
	if f, ok := spec["digestReflectionPolicy"]; ok {
		if v, ok := d.Str(f, "spec.digestReflectionPolicy"); ok {
			switch v {
			case "Always", "IfNotPresent":
				fp.p.Digest = true
			case "Never":
			default:
				d.Errorf(f.Val, "spec.digestReflectionPolicy", "must be Always, IfNotPresent or Never, got %q", v)
			}
		}
	}
	d.Duration(spec["interval"], "spec.interval")
	fp.suspend = d.Bool(spec["suspend"], "spec.suspend")
	if d.Failed(mark) {
		return
	}
	if fp.suspend {
		l.note(d, nil, "spec.suspend", "the policy is suspended: Ferry does not select a tag for it")
		return
	}
	if prev, dup := l.flux.names[key.name]; dup {
		d.Errorf(nameNode, "metadata.name", "ImagePolicy %q is also declared in namespace %q: Ferry names policies without their namespace, so the names must differ", key.name, prev.ns)
		return
	}
	l.flux.names[key.name] = key
	l.flux.policies = append(l.flux.policies, fp)
}

func fluxStrategy(d *document.Doc, p *policy.Policy, f document.Field) {
	const path = "spec.policy"
	strat := d.Fields(f.Val, path, "semver", "alphabetical", "numerical")
	var present []document.Field
	for _, name := range []string{"semver", "alphabetical", "numerical"} {
		if sf, ok := strat[name]; ok {
			present = append(present, sf)
		}
	}
	if len(present) == 0 {
		if f.Val.Kind == yaml.MappingNode {
			d.Errorf(f.Key, path, "one of semver, alphabetical, numerical is required")
		}
		return
	}
	slices.SortFunc(present, func(a, b document.Field) int { return a.Key.Line - b.Key.Line })
	for _, extra := range present[1:] {
		d.Errorf(extra.Key, path, "only one strategy may be set, got %q and %q", present[0].Key.Value, extra.Key.Value)
	}
	sf := present[0]
	sp := path + "." + sf.Key.Value
	switch sf.Key.Value {
	case "semver":
		opts := d.Fields(sf.Val, sp, "range")
		r, n, ok := d.Required(opts, "range", sf.Key, sp)
		if ok {
			if err := policy.CheckRange(r); err != nil {
				d.Errorf(n, sp+".range", "invalid semver range %q: %v", r, err)
			}
		}
		p.Strategy = policy.Strategy{Kind: policy.SemVer, Range: r, Strict: true}
	case "alphabetical", "numerical":
		opts := d.Fields(sf.Val, sp, "order")
		order := "asc"
		if of, ok := opts["order"]; ok {
			if o, ok := d.Str(of, sp+".order"); ok {
				if o != "asc" && o != "desc" {
					d.Errorf(of.Val, sp+".order", "must be asc or desc, got %q", o)
				}
				order = o
			}
		}
		kind := policy.Alphabetical
		if sf.Key.Value == "numerical" {
			kind = policy.Numerical
		}
		p.Strategy = policy.Strategy{Kind: kind, Order: order}
	}
}

func (l *loader) fluxAutomation(d *document.Doc) {
	mark := d.Mark()
	top := fluxTop(d)
	key, _, _, _ := fluxMeta(d, top)
	a := &fluxAutomation{src: d.Source(), ns: key.ns, selector: labels.Everything()}
	sf, ok := d.RequiredField(top, "spec", d.Root, "")
	if !ok {
		return
	}
	spec := d.Fields(sf.Val, "spec", "sourceRef", "git", "interval", "policySelector", "update", "suspend")
	if f, ok := d.RequiredField(spec, "sourceRef", sf.Key, "spec"); ok {
		ref := d.Fields(f.Val, "spec.sourceRef", "apiVersion", "kind", "name", "namespace")
		d.Str(ref["apiVersion"], "spec.sourceRef.apiVersion")
		d.Required(ref, "kind", f.Key, "spec.sourceRef")
		d.Required(ref, "name", f.Key, "spec.sourceRef")
		d.Str(ref["namespace"], "spec.sourceRef.namespace")
		l.note(d, f.Key, "spec.sourceRef", "Ferry bumps the repository it is given (--repo, or the run config's repos), not the GitRepository named here")
	}
	if f, ok := spec["git"]; ok {
		l.fluxGit(d, a, f)
	}
	d.Duration(spec["interval"], "spec.interval")
	if f, ok := spec["policySelector"]; ok && f.Present() {
		sel := fluxSelector(d, f)
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			d.Errorf(f.Val, "spec.policySelector", "%v", err)
		} else {
			a.selector = s
		}
	}
	if f, ok := spec["update"]; ok {
		upd := d.Fields(f.Val, "spec.update", "strategy", "path")
		if s, ok := d.Str(upd["strategy"], "spec.update.strategy"); ok && s != "Setters" {
			d.Errorf(upd["strategy"].Val, "spec.update.strategy", "must be Setters, got %q", s)
		}
		if p, ok := d.Str(upd["path"], "spec.update.path"); ok {
			clean := path.Clean(strings.TrimPrefix(p, "/"))
			switch {
			case clean == "..", strings.HasPrefix(clean, "../"):
				d.Errorf(upd["path"].Val, "spec.update.path", "%q leaves the repository", p)
			case clean != ".":
				a.path = clean
			}
		}
	}
	a.suspend = d.Bool(spec["suspend"], "spec.suspend")
	if d.Failed(mark) {
		return
	}
	if a.suspend {
		l.note(d, nil, "spec.suspend", "the automation is suspended: its policies are scanned but Ferry leaves their references as they are only if no other automation selects them")
	}
	l.flux.autos = append(l.flux.autos, a)
}

func (l *loader) fluxGit(d *document.Doc, a *fluxAutomation, f document.Field) {
	git := d.Fields(f.Val, "spec.git", "checkout", "commit", "push")
	if cf, ok := git["checkout"]; ok {
		co := d.Fields(cf.Val, "spec.git.checkout", "ref")
		if rf, ok := co["ref"]; ok {
			ref := d.Fields(rf.Val, "spec.git.checkout.ref", "branch", "tag", "semver", "name", "commit")
			if b, ok := d.Str(ref["branch"], "spec.git.checkout.ref.branch"); ok {
				l.note(d, rf.Key, "spec.git.checkout.ref.branch", fmt.Sprintf("Ferry's base branch is --branch (the run config's repos[].branch), default main; give it %q", b))
			}
			for _, other := range []string{"tag", "semver", "name", "commit"} {
				if _, ok := d.Str(ref[other], "spec.git.checkout.ref."+other); ok {
					l.note(d, ref[other].Key, "spec.git.checkout.ref."+other, "Ferry checks out a branch only")
				}
			}
		}
	}
	if cf, ok := git["commit"]; ok {
		c := d.Fields(cf.Val, "spec.git.commit", "author", "signingKey", "messageTemplate", "messageTemplateValues")
		if af, ok := c["author"]; ok {
			author := d.Fields(af.Val, "spec.git.commit.author", "name", "email")
			a.authorName, _ = d.Str(author["name"], "spec.git.commit.author.name")
			a.authorEmail, _, _ = d.Required(author, "email", af.Key, "spec.git.commit.author")
		}
		if sk, ok := c["signingKey"]; ok {
			k := d.Fields(sk.Val, "spec.git.commit.signingKey", "secretRef", "type")
			if rf, ok := k["secretRef"]; ok {
				d.Str(d.Fields(rf.Val, "spec.git.commit.signingKey.secretRef", "name")["name"], "spec.git.commit.signingKey.secretRef.name")
			}
			d.Str(k["type"], "spec.git.commit.signingKey.type")
			l.note(d, sk.Key, "spec.git.commit.signingKey", "give Ferry the key with --signing-gpg-key or --signing-ssh-key")
		}
		if _, ok := d.Str(c["messageTemplate"], "spec.git.commit.messageTemplate"); ok {
			l.note(d, c["messageTemplate"].Key, "spec.git.commit.messageTemplate", "Ferry writes its own commit message (each change, with trailers)")
		}
		d.StrMap(c["messageTemplateValues"], "spec.git.commit.messageTemplateValues")
	}
	if pf, ok := git["push"]; ok {
		p := d.Fields(pf.Val, "spec.git.push", "branch", "refspec", "options")
		if b, ok := d.Str(p["branch"], "spec.git.push.branch"); ok {
			l.note(d, p["branch"].Key, "spec.git.push.branch", fmt.Sprintf("Ferry pushes one branch per group and opens a pull request for each (Config spec.branch, default ferry/{{group}}), not to %q; --mode push commits to the base branch", b))
		}
		if _, ok := d.Str(p["refspec"], "spec.git.push.refspec"); ok {
			l.note(d, p["refspec"].Key, "spec.git.push.refspec", "not supported")
		}
		d.StrMap(p["options"], "spec.git.push.options")
	}
}

// fluxSelector reads a metav1.LabelSelector.
func fluxSelector(d *document.Doc, f document.Field) *metav1.LabelSelector {
	const path = "spec.policySelector"
	sel := &metav1.LabelSelector{}
	fs := d.Fields(f.Val, path, "matchLabels", "matchExpressions")
	sel.MatchLabels = d.StrMap(fs["matchLabels"], path+".matchLabels")
	if ef, ok := fs["matchExpressions"]; ok && ef.Present() {
		if ef.Val.Kind != yaml.SequenceNode {
			d.Errorf(ef.Val, path+".matchExpressions", "must be a list, got %s", document.Describe(ef.Val))
			return sel
		}
		for i, e := range ef.Val.Content {
			ep := document.Index(path+".matchExpressions", i)
			x := d.Fields(e, ep, "key", "operator", "values")
			key, _, _ := d.Required(x, "key", e, ep)
			op, _, _ := d.Required(x, "operator", e, ep)
			values, _ := d.StrList(x["values"], ep+".values")
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: key, Operator: metav1.LabelSelectorOperator(op), Values: values})
		}
	}
	return sel
}

func (l *loader) note(d *document.Doc, n *yaml.Node, field, msg string) {
	if n == nil {
		n = d.Root
	}
	l.set.Notes = append(l.set.Notes, Note{Source: document.Source{File: d.File, Line: d.Line(n)}, Field: field, Msg: msg})
}

// resolveFlux builds the policies of the Flux ImagePolicies read, once
// every ImageRepository and ImageUpdateAutomation is known.
func (l *loader) resolveFlux() {
	f := l.flux
	if f == nil {
		return
	}
	for _, fp := range f.policies {
		d := fp.doc
		repo, ok := f.repos[fp.repo]
		if !ok {
			d.Errorf(fp.repoNode, "spec.imageRepositoryRef", "no ImageRepository %s was read (it must be in the same files Ferry reads)", fp.repo)
			continue
		}
		if !claim(d, nil, l.names, fp.p.Name, fp.p.Source, duplicatePolicy) {
			continue
		}
		p := fp.p
		p.Image, p.Written = repo.image, repo.image
		p.Exclude = repo.exclude
		var selected, active, whole bool
		for _, a := range f.autos {
			if a.ns != fp.ns || !a.selector.Matches(labels.Set(fp.labels)) {
				continue
			}
			selected = true
			if a.suspend {
				continue
			}
			active = true
			if l.set.Config.Source == (document.Source{}) {
				l.set.Config.AuthorName = cmpOr(l.set.Config.AuthorName, a.authorName)
				l.set.Config.AuthorEmail = cmpOr(l.set.Config.AuthorEmail, a.authorEmail)
			}
			if a.path == "" {
				whole = true
			} else if !slices.Contains(p.UpdatePaths, a.path+"/**") {
				p.UpdatePaths = append(p.UpdatePaths, a.path+"/**")
			}
		}
		if whole {
			p.UpdatePaths = nil
		}
		switch {
		case !selected:
			l.note(d, nil, "", "no ImageUpdateAutomation in its namespace selects this policy: Flux would only report its tag; Ferry also updates the references that name it")
		case !active:
			l.note(d, nil, "", "only suspended automations select this policy: Flux would leave its references as they are; Ferry updates them")
		}
		l.set.Policies = append(l.set.Policies, p)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
