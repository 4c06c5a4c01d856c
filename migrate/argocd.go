package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/image"
	"github.com/ferrygitops/ferry/policy"
	"github.com/ferrygitops/ferry/updater"
)

// ArgoGroup is Argo CD Image Updater's annotation prefix and API group.
const ArgoGroup = "argocd-image-updater.argoproj.io"

const annotationPrefix = ArgoGroup + "/"

// Plan is what a conversion gives.
type Plan struct {
	Policies []Policy       `json:"policies"`
	Marks    []updater.Mark `json:"marks"`
	Mapped   []Item         `json:"mapped"`
	Unmapped []Item         `json:"unmapped"`
}

// Policy is one ImagePolicy to write.
type Policy struct {
	Name        string          `json:"name"`
	Image       string          `json:"image"`
	Strategy    policy.Strategy `json:"strategy"`
	Pattern     string          `json:"pattern,omitempty"`
	Exclude     []string        `json:"exclude,omitempty"`
	Digest      bool            `json:"digest,omitempty"`
	UpdatePaths []string        `json:"updatePaths"`
	From        document.Source `json:"from"`
}

// Item is one setting of the source configuration and what became of it.
type Item struct {
	Source  document.Source `json:"source"`
	App     string          `json:"app,omitempty"`
	Alias   string          `json:"alias,omitempty"`
	Setting string          `json:"setting"`
	Value   string          `json:"value,omitempty"`
	Result  string          `json:"result"`
}

// objectMeta is the part of a Kubernetes object's metadata the conversion
// reads.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// application is the part of an Argo CD Application the conversion reads.
type application struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       struct {
		Source  *appSource  `json:"source"`
		Sources []appSource `json:"sources"`
	} `json:"spec"`

	src  document.Source
	file string // the file the Application was read from
	doc  int    // its document index in the file
}

type appSource struct {
	RepoURL string `json:"repoURL"`
	Path    string `json:"path"`
	Chart   string `json:"chart"`
	Helm    *struct {
		ValueFiles []string `json:"valueFiles"`
		Parameters []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"parameters"`
	} `json:"helm"`
	Kustomize *struct {
		Images []string `json:"images"`
	} `json:"kustomize"`
}

// imageUpdater is Argo CD Image Updater's v1 custom resource.
type imageUpdater struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Status     any        `json:"status"`
	Spec       struct {
		Namespace       string `json:"namespace"`
		settings        `json:",inline"`
		ApplicationRefs []struct {
			NamePattern    string                `json:"namePattern"`
			LabelSelectors *metav1.LabelSelector `json:"labelSelectors"`
			settings       `json:",inline"`
			Images         []struct {
				Alias           string          `json:"alias"`
				ImageName       string          `json:"imageName"`
				CommonSettings  *commonSettings `json:"commonUpdateSettings"`
				ManifestTargets *struct {
					Helm *struct {
						Name string `json:"name"`
						Tag  string `json:"tag"`
						Spec string `json:"spec"`
					} `json:"helm"`
					Kustomize *struct {
						Name string `json:"name"`
					} `json:"kustomize"`
				} `json:"manifestTargets"`
			} `json:"images"`
		} `json:"applicationRefs"`
	} `json:"spec"`
	src document.Source
}

type settings struct {
	CommonSettings  *commonSettings `json:"commonUpdateSettings"`
	WriteBackConfig *struct {
		Method    *string `json:"method"`
		GitConfig *struct {
			Repository      *string `json:"repository"`
			Branch          *string `json:"branch"`
			WriteBackTarget *string `json:"writeBackTarget"`
		} `json:"gitConfig"`
	} `json:"writeBackConfig"`
}

type commonSettings struct {
	UpdateStrategy *string  `json:"updateStrategy"`
	ForceUpdate    *bool    `json:"forceUpdate"`
	AllowTags      *string  `json:"allowTags"`
	IgnoreTags     []string `json:"ignoreTags"`
	PullSecret     *string  `json:"pullSecret"`
	Platforms      []string `json:"platforms"`
}

// imageConfig is one image's settings once annotations or the CR's levels
// are merged.
type imageConfig struct {
	alias, image, constraint string
	strategy, allowTags      string
	ignoreTags, platforms    []string
	forceUpdate              bool
	pullSecret               string
	helmName, helmTag        string
	helmSpec                 string
	kustomizeName            string
	method, target, branch   string
	src                      document.Source
}

// ArgoCDImageUpdater converts the Argo CD Image Updater configuration in
// files (Applications with its annotations, ImageUpdater resources; other
// documents are skipped) into a Plan. repo is the repository the
// Applications' paths are relative to: it tells Helm charts from
// kustomizations and holds the files to mark.
func ArgoCDImageUpdater(files []document.File, repo fs.FS) (*Plan, error) {
	c := &converter{repo: repo, plan: &Plan{}, names: map[string]bool{}, paths: map[string][]string{}}
	var apps []*application
	var crs []*imageUpdater
	for _, f := range files {
		for i, ch := range document.Split(f.Data) {
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			}
			if err := sigsyaml.Unmarshal(ch.Data, &head); err != nil {
				if bytes.Contains(ch.Data, []byte(ArgoGroup)) {
					return nil, fmt.Errorf("%s:%d: %w", f.Name, ch.Line, err)
				}
				continue
			}
			src := document.Source{File: f.Name, Line: ch.Line}
			switch {
			case head.Kind == "Application" && strings.HasPrefix(head.APIVersion, "argoproj.io/"):
				a := &application{src: src, file: f.Name, doc: i}
				if err := sigsyaml.Unmarshal(ch.Data, a); err != nil {
					return nil, fmt.Errorf("%s: reading the Application: %w", src, err)
				}
				apps = append(apps, a)
			case head.Kind == "ImageUpdater" && strings.HasPrefix(head.APIVersion, ArgoGroup+"/"):
				cr := &imageUpdater{src: src}
				if err := sigsyaml.UnmarshalStrict(ch.Data, cr); err != nil {
					return nil, fmt.Errorf("%s: reading the ImageUpdater: %w", src, err)
				}
				crs = append(crs, cr)
			}
		}
	}
	for _, a := range apps {
		cfgs, err := c.fromAnnotations(a)
		if err != nil {
			return nil, err
		}
		for _, cfg := range cfgs {
			c.convert(a, cfg)
		}
	}
	for _, cr := range crs {
		c.fromCR(cr, apps)
	}
	c.finish()
	return c.plan, nil
}

type converter struct {
	repo  fs.FS
	plan  *Plan
	names map[string]bool
	paths map[string][]string // policy -> files marked for it
}

func (c *converter) unmapped(src document.Source, app, alias, setting, value, result string) {
	c.plan.Unmapped = append(c.plan.Unmapped, Item{Source: src, App: app, Alias: alias, Setting: setting, Value: value, Result: result})
}

func (c *converter) mapped(src document.Source, app, alias, setting, value, result string) {
	c.plan.Mapped = append(c.plan.Mapped, Item{Source: src, App: app, Alias: alias, Setting: setting, Value: value, Result: result})
}

// fromAnnotations reads an Application's v0.x annotations.
func (c *converter) fromAnnotations(a *application) ([]imageConfig, error) {
	ann := a.Metadata.Annotations
	list, ok := ann[annotationPrefix+"image-list"]
	if !ok {
		return nil, nil
	}
	app := a.Metadata.Name
	known := map[string]bool{annotationPrefix + "image-list": true}
	get := func(key string) string {
		known[annotationPrefix+key] = true
		return strings.TrimSpace(ann[annotationPrefix+key])
	}
	method, target, branch := get("write-back-method"), get("write-back-target"), get("git-branch")
	get("git-repository")
	var out []imageConfig
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		cfg := imageConfig{method: method, target: target, branch: branch, src: a.src}
		alias, ref, hasAlias := strings.Cut(entry, "=")
		if !hasAlias {
			ref, alias = alias, ""
		}
		cfg.image, cfg.constraint = splitConstraint(strings.TrimSpace(ref))
		cfg.alias = strings.TrimSpace(alias)
		if cfg.alias == "" {
			cfg.alias = path.Base(cfg.image)
		}
		per := func(key string) string {
			if !hasAlias {
				return ""
			}
			return get(cfg.alias + "." + key)
		}
		cfg.strategy = per("update-strategy")
		cfg.allowTags = per("allow-tags")
		if v := per("ignore-tags"); v != "" {
			for _, g := range strings.Split(v, ",") {
				if g = strings.TrimSpace(g); g != "" {
					cfg.ignoreTags = append(cfg.ignoreTags, g)
				}
			}
		}
		cfg.forceUpdate = per("force-update") == "true"
		cfg.pullSecret = per("pull-secret")
		if v := per("platforms"); v != "" {
			cfg.platforms = strings.Split(v, ",")
		}
		cfg.helmName, cfg.helmTag, cfg.helmSpec = per("helm.image-name"), per("helm.image-tag"), per("helm.image-spec")
		cfg.kustomizeName = per("kustomize.image-name")
		out = append(out, cfg)
	}
	for k := range ann {
		if strings.HasPrefix(k, annotationPrefix) && !known[k] {
			c.unmapped(a.src, app, "", k, ann[k], "not an annotation Argo CD Image Updater documents for an image of image-list, or one whose alias is not in image-list")
		}
	}
	return out, nil
}

// fromCR reads an ImageUpdater resource and the Applications it selects.
func (c *converter) fromCR(cr *imageUpdater, apps []*application) {
	ns := cr.Metadata.Namespace
	if cr.Spec.Namespace != "" {
		ns = cr.Spec.Namespace
	}
	for _, ref := range cr.Spec.ApplicationRefs {
		var sel labels.Selector = labels.Everything()
		if ref.LabelSelectors != nil {
			s, err := metav1.LabelSelectorAsSelector(ref.LabelSelectors)
			if err != nil {
				c.unmapped(cr.src, "", "", "applicationRefs.labelSelectors", "", err.Error())
				continue
			}
			sel = s
		}
		matched := 0
		for _, a := range apps {
			if ns != "" && a.Metadata.Namespace != "" && a.Metadata.Namespace != ns {
				continue
			}
			if ok, _ := path.Match(ref.NamePattern, a.Metadata.Name); !ok || !sel.Matches(labels.Set(a.Metadata.Labels)) {
				continue
			}
			matched++
			for _, img := range ref.Images {
				cfg := imageConfig{alias: img.Alias, src: cr.src}
				cfg.image, cfg.constraint = splitConstraint(img.ImageName)
				for _, cs := range []*commonSettings{cr.Spec.CommonSettings, ref.CommonSettings, img.CommonSettings} {
					cfg.apply(cs)
				}
				for _, wb := range []settings{cr.Spec.settings, ref.settings} {
					if w := wb.WriteBackConfig; w != nil {
						if w.Method != nil {
							cfg.method = *w.Method
						}
						if g := w.GitConfig; g != nil {
							if g.WriteBackTarget != nil {
								cfg.target = *g.WriteBackTarget
							}
							if g.Branch != nil {
								cfg.branch = *g.Branch
							}
						}
					}
				}
				if mt := img.ManifestTargets; mt != nil {
					if h := mt.Helm; h != nil {
						cfg.helmName, cfg.helmTag, cfg.helmSpec = h.Name, h.Tag, h.Spec
					}
					if k := mt.Kustomize; k != nil {
						cfg.kustomizeName = k.Name
					}
				}
				c.convert(a, cfg)
			}
		}
		if matched == 0 {
			c.unmapped(cr.src, "", "", "applicationRefs.namePattern", ref.NamePattern, "no Application read matches it: give Ferry the Application manifests too")
		}
	}
}

func (cfg *imageConfig) apply(cs *commonSettings) {
	if cs == nil {
		return
	}
	if cs.UpdateStrategy != nil {
		cfg.strategy = *cs.UpdateStrategy
	}
	if cs.ForceUpdate != nil {
		cfg.forceUpdate = *cs.ForceUpdate
	}
	if cs.AllowTags != nil {
		cfg.allowTags = *cs.AllowTags
	}
	if cs.IgnoreTags != nil {
		cfg.ignoreTags = cs.IgnoreTags
	}
	if cs.PullSecret != nil {
		cfg.pullSecret = *cs.PullSecret
	}
	if cs.Platforms != nil {
		cfg.platforms = cs.Platforms
	}
}

// splitConstraint cuts "repo/image:constraint" (the registry may have a
// port) into the image and the constraint.
func splitConstraint(ref string) (img, constraint string) {
	slash := strings.LastIndexByte(ref, '/')
	if i := strings.LastIndexByte(ref, ':'); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, ""
}

var invalidName = regexp.MustCompile(`[^a-z0-9.-]+`)

// policyName makes a valid, unused policy name from an app and an alias.
func (c *converter) policyName(app, alias string) string {
	base := strings.Trim(invalidName.ReplaceAllString(strings.ToLower(app+"-"+alias), "-"), "-.")
	name := base
	for i := 2; c.names[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	c.names[name] = true
	return name
}

// convert maps one image of one Application.
func (c *converter) convert(a *application, cfg imageConfig) {
	app := a.Metadata.Name
	repo, err := image.NormalizeRepository(cfg.image)
	if err != nil {
		c.unmapped(cfg.src, app, cfg.alias, "image", cfg.image, fmt.Sprintf("not an image repository: %v", err))
		return
	}
	p := Policy{Name: c.policyName(app, cfg.alias), Image: repo, From: cfg.src}
	switch cfg.strategy {
	case "", "semver":
		r := cfg.constraint
		if r == "" {
			r = ">=0.0.0-0"
		}
		if err := policy.CheckRange(r); err != nil {
			c.unmapped(cfg.src, app, cfg.alias, "image-list constraint", cfg.constraint, fmt.Sprintf("not a semver range Ferry reads: %v", err))
			return
		}
		p.Strategy = policy.Strategy{Kind: policy.SemVer, Range: r}
		c.mapped(cfg.src, app, cfg.alias, "update-strategy", "semver", "semver: {range: '"+r+"'}")
	case "newest-build", "latest":
		p.Strategy = policy.Strategy{Kind: policy.PushedAt}
		c.mapped(cfg.src, app, cfg.alias, "update-strategy", cfg.strategy, "pushedAt: Ferry orders by push time (ECR reports it), not by build time")
	case "alphabetical", "name":
		p.Strategy = policy.Strategy{Kind: policy.Alphabetical, Order: "asc"}
		c.mapped(cfg.src, app, cfg.alias, "update-strategy", cfg.strategy, "alphabetical: {order: asc}")
	case "digest":
		if cfg.constraint == "" {
			c.unmapped(cfg.src, app, cfg.alias, "update-strategy", "digest", "the digest strategy needs the tag to follow (image:TAG in the image list)")
			return
		}
		p.Strategy = policy.Strategy{Kind: policy.Alphabetical, Order: "asc"}
		p.Pattern = "^" + regexp.QuoteMeta(cfg.constraint) + "$"
		p.Digest = true
		c.mapped(cfg.src, app, cfg.alias, "update-strategy", "digest", "filterTags.pattern "+p.Pattern+", digest: true")
	default:
		c.unmapped(cfg.src, app, cfg.alias, "update-strategy", cfg.strategy, "unknown strategy")
		return
	}
	switch at := cfg.allowTags; {
	case at == "" || at == "any":
	case strings.HasPrefix(at, "regexp:"):
		re := strings.TrimPrefix(at, "regexp:")
		if _, err := regexp.Compile(re); err != nil {
			c.unmapped(cfg.src, app, cfg.alias, "allow-tags", at, fmt.Sprintf("not a regular expression Go reads: %v", err))
			return
		}
		if p.Pattern != "" {
			c.unmapped(cfg.src, app, cfg.alias, "allow-tags", at, "the digest strategy already follows one tag")
		} else {
			p.Pattern = re
			c.mapped(cfg.src, app, cfg.alias, "allow-tags", at, "filterTags.pattern")
		}
	default:
		c.unmapped(cfg.src, app, cfg.alias, "allow-tags", at, "only regexp:EXPR and any are documented")
		return
	}
	for _, g := range cfg.ignoreTags {
		re, err := globRegexp(g)
		if err != nil {
			c.unmapped(cfg.src, app, cfg.alias, "ignore-tags", g, err.Error())
			return
		}
		p.Exclude = append(p.Exclude, re)
	}
	if len(cfg.ignoreTags) > 0 {
		c.mapped(cfg.src, app, cfg.alias, "ignore-tags", strings.Join(cfg.ignoreTags, ","), "filterTags.exclude")
	}
	if cfg.forceUpdate {
		c.unmapped(cfg.src, app, cfg.alias, "force-update", "true", "Ferry updates the references the repository has; it does not add an image an app does not use")
	}
	if cfg.pullSecret != "" {
		c.unmapped(cfg.src, app, cfg.alias, "pull-secret", cfg.pullSecret, "Ferry takes registry credentials from the docker config, its credential helpers or the AWS default chain")
	}
	if len(cfg.platforms) > 0 {
		c.unmapped(cfg.src, app, cfg.alias, "platforms", strings.Join(cfg.platforms, ","), "Ferry follows tags, which name every platform's image")
	}
	if cfg.branch != "" {
		c.unmapped(cfg.src, app, cfg.alias, "git-branch", cfg.branch, "Ferry's base branch is --branch; it pushes one branch per group and opens a pull request (or commits to the base with --mode push)")
	}
	if !c.mark(a, cfg, p.Name) {
		return
	}
	c.plan.Policies = append(c.plan.Policies, p)
}

// globRegexp turns a filepath.Match pattern (how ignore-tags is matched)
// into an anchored regular expression.
func globRegexp(g string) (string, error) {
	if _, err := path.Match(g, ""); err != nil {
		return "", fmt.Errorf("not a glob: %v", err)
	}
	var b strings.Builder
	b.WriteByte('^')
	for i := 0; i < len(g); i++ {
		switch ch := g[i]; ch {
		case '*':
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(g[i:], ']')
			class := g[i+1 : i+j]
			if strings.HasPrefix(class, "^") {
				class = "^" + class[1:]
			}
			b.WriteString("[" + class + "]")
			i += j
		case '\\':
			if i+1 < len(g) {
				i++
				b.WriteString(regexp.QuoteMeta(g[i : i+1]))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	b.WriteByte('$')
	return b.String(), nil
}

// sources returns an Application's sources.
func (a *application) sources() []appSource {
	if a.Spec.Source != nil {
		return []appSource{*a.Spec.Source}
	}
	return a.Spec.Sources
}

func (c *converter) exists(p string) bool {
	_, err := fs.Stat(c.repo, p)
	return err == nil
}

// repoPath resolves a write-back path: absolute ones from the repository
// root, others from the app's path.
func repoPath(appPath, p string) (string, error) {
	var out string
	if strings.HasPrefix(p, "/") {
		out = path.Clean(strings.TrimPrefix(p, "/"))
	} else {
		out = path.Join(appPath, p)
	}
	if out == ".." || strings.HasPrefix(out, "../") {
		return "", errors.New("it leaves the repository")
	}
	return out, nil
}

// mark finds where Argo CD Image Updater wrote an image and asks for the
// markers that make Ferry write there.
func (c *converter) mark(a *application, cfg imageConfig, policyName string) bool {
	app := a.Metadata.Name
	srcs := a.sources()
	if len(srcs) == 0 {
		c.unmapped(cfg.src, app, cfg.alias, "spec.source", "", "the Application has no source")
		return false
	}
	src := srcs[0]
	appPath := path.Clean(src.Path)
	if src.Chart != "" {
		c.unmapped(cfg.src, app, cfg.alias, "spec.source.chart", src.Chart, "a chart from a Helm repository: its values live in the Application; keep the Application in this repository and the marker goes on its spec.source.helm.parameters")
	}
	isHelm := src.Chart != "" || src.Helm != nil || c.exists(path.Join(appPath, "Chart.yaml"))
	kind, target, _ := strings.Cut(cfg.target, ":")
	var marks []updater.Mark
	add := func(file string, keys []string, marker string) {
		marks = append(marks, updater.Mark{File: file, KeyPath: keys, Marker: marker})
	}
	helmMarks := func(file string, prefix []string, param bool) {
		name, tag := cmpOr(cfg.helmName, "image.name"), cmpOr(cfg.helmTag, "image.tag")
		keys := func(k string) []string {
			if param {
				return append(slices.Clone(prefix), "[name="+k+"]", "value")
			}
			return append(slices.Clone(prefix), strings.Split(k, ".")...)
		}
		if cfg.helmSpec != "" {
			add(file, keys(cfg.helmSpec), policyName)
			return
		}
		add(file, keys(tag), policyName+":tag")
		if cfg.helmName != "" || !param {
			// The repository key binds nothing new but documents the pair;
			// Argo CD Image Updater writes it only when asked to.
			if c.hasKey(file, keys(name)) {
				add(file, keys(name), policyName+":name")
			}
		}
	}
	method, _, _ := strings.Cut(cmpOr(cfg.method, "argocd"), ":")
	switch {
	case method == "argocd":
		// Argo CD Image Updater set parameters on the Application
		// itself: when the Application lives in this repository, Ferry
		// updates them there.
		switch {
		case isHelm && src.Helm != nil && len(src.Helm.Parameters) > 0:
			helmMarks(a.file, []string{"spec", "source", "helm", "parameters"}, true)
		case src.Kustomize != nil && len(src.Kustomize.Images) > 0:
			c.unmapped(cfg.src, app, cfg.alias, "write-back-method", "argocd", "the Application's spec.source.kustomize.images list holds image:tag strings; give the image a whole-image marker there by hand, or move the override into the kustomization's images:")
			return false
		default:
			c.unmapped(cfg.src, app, cfg.alias, "write-back-method", "argocd", "Argo CD Image Updater wrote the image into the live Application, not into git; write the current image into the manifests (or the Application's helm.parameters) and run the import again")
			return false
		}
	case kind == "helmvalues" || (isHelm && kind == ""):
		file := "values.yaml"
		if target != "" {
			file = target
		}
		if kind == "" {
			file = ".argocd-source-" + app + ".yaml"
			p, _ := repoPath(appPath, file)
			if !c.exists(p) {
				c.unmapped(cfg.src, app, cfg.alias, "write-back-target", "", p+" does not exist (Argo CD Image Updater has not written it yet)")
				return false
			}
			helmMarks(p, []string{"helm", "parameters"}, true)
			break
		}
		p, err := repoPath(appPath, file)
		if err != nil {
			c.unmapped(cfg.src, app, cfg.alias, "write-back-target", cfg.target, err.Error())
			return false
		}
		helmMarks(p, nil, false)
	case kind == "kustomization" || kind == "":
		dir := appPath
		if target != "" {
			d, err := repoPath(appPath, target)
			if err != nil {
				c.unmapped(cfg.src, app, cfg.alias, "write-back-target", cfg.target, err.Error())
				return false
			}
			dir = d
		}
		file := ""
		for _, n := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
			if c.exists(path.Join(dir, n)) {
				file = path.Join(dir, n)
				break
			}
		}
		if file == "" {
			c.unmapped(cfg.src, app, cfg.alias, "write-back-target", cfg.target, "no kustomization in "+dir)
			return false
		}
		name := cmpOr(cfg.kustomizeName, cfg.image)
		entry := "[name=" + name + "]"
		if !c.hasKey(file, []string{"images", entry, "newTag"}) {
			c.unmapped(cfg.src, app, cfg.alias, "kustomize.image-name", name, file+" has no images: entry named "+name+" with a newTag: add one (name, newTag: the current tag)")
			return false
		}
		if cfg.strategy == "digest" {
			if c.hasKey(file, []string{"images", entry, "digest"}) {
				add(file, []string{"images", entry, "digest"}, policyName+":digest")
			}
		}
		add(file, []string{"images", entry, "newTag"}, policyName+":tag")
	default:
		c.unmapped(cfg.src, app, cfg.alias, "write-back-target", cfg.target, "not a target Argo CD Image Updater documents")
		return false
	}
	for _, m := range marks {
		if !slices.Contains(c.paths[policyName], m.File) {
			c.paths[policyName] = append(c.paths[policyName], m.File)
		}
		c.mapped(cfg.src, app, cfg.alias, "target", m.File+": "+strings.Join(m.KeyPath, "."), `marker {"$imagepolicy": "`+m.Marker+`"}`)
	}
	c.plan.Marks = append(c.plan.Marks, marks...)
	if cfg.method != "" && method != "argocd" {
		c.mapped(cfg.src, app, cfg.alias, "write-back-method", cfg.method, "Ferry writes git: one pull request per group (ferry bump); git credentials are Ferry's own")
	}
	return true
}

// hasKey reports whether file holds a value at keys.
func (c *converter) hasKey(file string, keys []string) bool {
	data, err := fs.ReadFile(c.repo, file)
	if err != nil {
		return false
	}
	return updater.HasKey(data, keys)
}

func (c *converter) finish() {
	for i := range c.plan.Policies {
		p := &c.plan.Policies[i]
		p.UpdatePaths = slices.Sorted(slices.Values(c.paths[p.Name]))
	}
	slices.SortFunc(c.plan.Policies, func(a, b Policy) int { return strings.Compare(a.Name, b.Name) })
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
