package render

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"

	"github.com/ferrygitops/ferry/dotferry"
)

// DefaultKubeVersion is .Capabilities.KubeVersion of a Helm render that
// has no cluster to ask and no flag or setting naming one: the Kubernetes
// minor version of the client library Ferry is built with.
const DefaultKubeVersion = "v1.37.0"

// CheckKubeVersion reports whether v is a Kubernetes version Helm can
// compare chart constraints with (1.30, v1.30.2).
func CheckKubeVersion(v string) error {
	if _, err := chartutil.ParseKubeVersion(v); err != nil {
		return fmt.Errorf("invalid Kubernetes version %q: %w", v, err)
	}
	return nil
}

// Capabilities are what a Helm chart sees of the cluster as
// .Capabilities: its version (v1.36.3) and the API versions it serves
// ("apps/v1", and "apps/v1/Deployment" for each kind, as Helm lists them).
type Capabilities struct {
	KubeVersion string
	APIVersions []string
}

// CapabilitiesFunc returns the destination cluster's capabilities; a
// render calls it only for a Helm chart.
type CapabilitiesFunc func(ctx context.Context) (Capabilities, error)

// DefaultCapabilities are the capabilities of a render without a cluster:
// DefaultKubeVersion and the API versions of every kind built into the
// Kubernetes client library (Helm's own default set), plus extra.
func DefaultCapabilities(extra ...string) Capabilities {
	return Capabilities{KubeVersion: DefaultKubeVersion, APIVersions: append(slices.Clone(chartutil.DefaultVersionSet), extra...)}
}

// helmCapabilities returns Helm's capabilities for a render: the cluster's
// (o.Capabilities) or the defaults, overridden by the App's settings.
func helmCapabilities(ctx context.Context, o Options, h *dotferry.Helm) (*chartutil.Capabilities, error) {
	caps := DefaultCapabilities()
	if o.Capabilities != nil {
		c, err := o.Capabilities(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the cluster's capabilities for helm: %w", err)
		}
		caps = c
	}
	if h != nil && h.KubeVersion != "" {
		caps.KubeVersion = h.KubeVersion
	}
	if h != nil && len(h.APIVersions) > 0 {
		caps.APIVersions = append(slices.Clone(caps.APIVersions), h.APIVersions...)
	}
	kv, err := chartutil.ParseKubeVersion(caps.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("invalid kube version %q: %w", caps.KubeVersion, err)
	}
	out := chartutil.DefaultCapabilities.Copy()
	out.KubeVersion = *kv
	out.APIVersions = chartutil.VersionSet(caps.APIVersions)
	return out, nil
}

// helmRender renders the chart at dir of fsys as `helm template` does
// (templates only, no release storage, no cluster lookups): values.yaml,
// then the App's value files, inline values and parameters; chart
// dependencies vendored under charts/ or fetched from their repositories
// by o.Charts; the crds/ directory unless skipped. Hook objects stay in
// the output with their helm.sh/hook annotations. NOTES.txt is dropped.
func helmRender(ctx context.Context, fsys fs.FS, dir string, o Options) ([]rawObject, error) {
	h := o.Helm
	if h == nil {
		h = &dotferry.Helm{}
	}
	ch, err := loadChart(fsys, dir)
	if err != nil {
		return nil, err
	}
	if err := resolveDependencies(ctx, ch, fsys, dir, o.charts()); err != nil {
		return nil, fmt.Errorf("helm chart %s: %w", dir, err)
	}
	vals, err := helmValues(fsys, dir, h)
	if err != nil {
		return nil, err
	}
	caps, err := helmCapabilities(ctx, o, h)
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: %w", dir, err)
	}
	if kv := ch.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("helm chart %s: %s/Chart.yaml: kubeVersion %s does not match Kubernetes %s", dir, dir, kv, caps.KubeVersion.String())
	}
	if err := chartutil.ProcessDependenciesWithMerge(ch, vals); err != nil {
		return nil, fmt.Errorf("helm chart %s: %w", dir, err)
	}
	rel := chartutil.ReleaseOptions{
		Name:      cmp.Or(h.ReleaseName, o.App),
		Namespace: cmp.Or(h.Namespace, o.Namespace, "default"),
		Revision:  1,
		IsInstall: true,
	}
	rv, err := chartutil.ToRenderValues(ch, vals, rel, caps)
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: %s", dir, chartPaths(err.Error(), ch.Name(), dir))
	}
	files, err := engine.Engine{}.Render(ch, rv)
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: %s", dir, chartPaths(err.Error(), ch.Name(), dir))
	}
	var out []rawObject
	if !h.SkipCRDs {
		for _, crd := range ch.CRDObjects() {
			objs, err := helmParse(dir, path.Join(dir, strings.TrimPrefix(crd.Filename, ch.Name()+"/")), string(crd.File.Data))
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		if !strings.HasSuffix(n, "NOTES.txt") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		objs, err := helmParse(dir, path.Join(dir, strings.TrimPrefix(n, ch.Name()+"/")), files[n])
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// helmParse parses one rendered template; objects are sourced to the
// template's path in the repository ("helm template DIR: FILE").
func helmParse(dir, file, content string) ([]rawObject, error) {
	if strings.TrimSpace(content) == "" {
		return nil, nil
	}
	objs, err := parseManifests(file, []byte(content))
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: output of %w", dir, err)
	}
	for i := range objs {
		objs[i].source = "helm template " + dir + ": " + file
		if len(objs) > 1 {
			objs[i].source += fmt.Sprintf(" (document %d)", i+1)
		}
	}
	return objs, nil
}

// chartPaths rewrites Helm's template names (CHART/templates/x.yaml) in
// msg to the chart's path in the repository (DIR/templates/x.yaml).
func chartPaths(msg, name, dir string) string {
	if dir == "." {
		dir = ""
	} else {
		dir += "/"
	}
	for _, open := range []string{"(", " ", "\""} {
		msg = strings.ReplaceAll(msg, open+name+"/", open+dir)
	}
	return msg
}

// loadChart reads the chart at dir of fsys (without the files its
// .helmignore names, symbolic links and submodules) and loads it with
// Helm's loader; subcharts vendored under charts/ (directories or .tgz
// archives) come with it.
func loadChart(fsys fs.FS, dir string) (*chart.Chart, error) {
	rules := ignore.Empty()
	if data, err := fs.ReadFile(fsys, path.Join(dir, ignore.HelmIgnore)); err == nil {
		r, err := ignore.Parse(strings.NewReader(string(data)))
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", dir, ignore.HelmIgnore, err)
		}
		rules = r
	}
	rules.AddDefaults()
	var files []*loader.BufferedFile
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == dir {
			return nil
		}
		rel := strings.TrimPrefix(name, dir+"/")
		if dir == "." {
			rel = name
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if rules.Ignore(rel, info) {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || rules.Ignore(rel, info) {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("helm chart %s: %s", dir, err)
	}
	return ch, nil
}

// helmValues merges the App's value files, inline values and parameters,
// in that order (the chart's values.yaml is merged under them by Helm).
func helmValues(fsys fs.FS, dir string, h *dotferry.Helm) (map[string]any, error) {
	vals := map[string]any{}
	for _, vf := range h.ValueFiles {
		p, err := inRepo(dir, vf)
		if err != nil {
			return nil, fmt.Errorf("spec.source.helm.valueFiles: %w", err)
		}
		data, err := fs.ReadFile(fsys, p)
		if errors.Is(err, fs.ErrNotExist) && h.IgnoreMissingValueFiles {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("spec.source.helm.valueFiles: value file %s: %w", p, fs.ErrNotExist)
		}
		v, err := readValues(p, data)
		if err != nil {
			return nil, err
		}
		vals = mergeMaps(vals, v)
	}
	if h.Values != "" {
		v, err := readValues("spec.source.helm.values", []byte(h.Values))
		if err != nil {
			return nil, err
		}
		vals = mergeMaps(vals, v)
	}
	for _, p := range h.Parameters {
		set := strvals.ParseInto
		if p.ForceString {
			set = strvals.ParseIntoString
		}
		if err := set(p.Name+"="+p.Value, vals); err != nil {
			return nil, fmt.Errorf("spec.source.helm.parameters %s: %w", p.Name, err)
		}
	}
	return vals, nil
}

// readValues parses a YAML values document; errors name its line.
func readValues(name string, data []byte) (map[string]any, error) {
	if _, err := parseManifests(name, data); err != nil && strings.Contains(err.Error(), "invalid YAML") {
		return nil, err
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if v == nil {
		v = map[string]any{}
	}
	return v, nil
}

// mergeMaps merges b over a, recursively for mappings, as helm's
// --values does.
func mergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if bv, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(bv, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
