package dotferry

import (
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/ferrygitops/ferry/document"
)

// Helm holds an App's Helm settings (spec.source.helm), named as Argo CD's
// Application names them so that a source maps over unchanged. They apply
// to a source path holding Chart.yaml; giving them for any other path is
// an error at render time.
type Helm struct {
	// ReleaseName is .Release.Name; default the app's name.
	ReleaseName string `json:"releaseName,omitempty"`
	// Namespace is .Release.Namespace; default the destination namespace.
	Namespace string `json:"namespace,omitempty"`
	// ValueFiles are merged in order over the chart's values.yaml; paths
	// are relative to the chart directory and stay in the repository.
	ValueFiles []string `json:"valueFiles,omitempty"`
	// IgnoreMissingValueFiles skips value files that do not exist.
	IgnoreMissingValueFiles bool `json:"ignoreMissingValueFiles,omitempty"`
	// Values is YAML merged over the value files (Argo CD's values, a
	// string, or valuesObject, a mapping: either is accepted).
	Values string `json:"values,omitempty"`
	// Parameters are set last, as helm's --set (--set-string with
	// ForceString).
	Parameters []HelmParameter `json:"parameters,omitempty"`
	// SkipCRDs leaves out the chart's crds/ directory.
	SkipCRDs bool `json:"skipCrds,omitempty"`
	// KubeVersion and APIVersions override .Capabilities.KubeVersion and
	// .Capabilities.APIVersions.
	KubeVersion string   `json:"kubeVersion,omitempty"`
	APIVersions []string `json:"apiVersions,omitempty"`
}

// HelmParameter is one --set of a Helm source.
type HelmParameter struct {
	Name        string `json:"name"`
	Value       string `json:"value"`
	ForceString bool   `json:"forceString,omitempty"`
}

// Jsonnet holds an App's jsonnet settings (spec.source.jsonnet, or Argo
// CD's spec.source.directory.jsonnet).
type Jsonnet struct {
	// Main is the entry point, relative to the source path; default every
	// *.jsonnet file directly in the source path, in name order.
	Main string `json:"main,omitempty"`
	// Libs are library search directories (jpath), relative to the
	// repository root, searched after the importing file's own directory,
	// the last first (as jsonnet's -J).
	Libs []string `json:"libs,omitempty"`
	// ExtVars are std.extVar values; TLAs the top-level arguments of the
	// entry points' functions.
	ExtVars []JsonnetVar `json:"extVars,omitempty"`
	TLAs    []JsonnetVar `json:"tlas,omitempty"`
}

// JsonnetVar is one external variable or top-level argument: a string, or
// jsonnet code when Code.
type JsonnetVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Code  bool   `json:"code,omitempty"`
}

// sourceFields are the fields of spec.source.
var sourceFields = []string{"repoURL", "branch", "path", "helm", "jsonnet", "directory"}

// sourceSettings reads spec.source.helm, spec.source.jsonnet and
// spec.source.directory (of which only jsonnet is read, as Argo CD's
// directory.jsonnet).
func sourceSettings(d *document.Doc, app *App, src map[string]document.Field) {
	if f := src["helm"]; f.Present() {
		app.Helm = helmSettings(d, f, "spec.source.helm")
	}
	jf, jp := src["jsonnet"], "spec.source.jsonnet"
	if f := src["directory"]; f.Present() {
		dir := d.Fields(f.Val, "spec.source.directory", "jsonnet")
		if df := dir["jsonnet"]; df.Present() {
			if jf.Present() {
				d.Errorf(df.Key, "spec.source.directory.jsonnet", "give spec.source.jsonnet or spec.source.directory.jsonnet, not both")
			}
			jf, jp = df, "spec.source.directory.jsonnet"
		}
	}
	if jf.Present() {
		app.Jsonnet = jsonnetSettings(d, jf, jp)
	}
	if app.Helm != nil && app.Jsonnet != nil {
		d.Errorf(src["helm"].Key, "spec.source.helm", "give helm or jsonnet settings, not both")
	}
}

func helmSettings(d *document.Doc, f document.Field, p string) *Helm {
	h := &Helm{}
	fs := d.Fields(f.Val, p, "releaseName", "namespace", "valueFiles", "ignoreMissingValueFiles", "values", "valuesObject", "parameters", "skipCrds", "kubeVersion", "apiVersions")
	if rf := fs["releaseName"]; rf.Present() {
		h.ReleaseName, _ = d.Str(rf, p+".releaseName")
		if h.ReleaseName != "" && (len(h.ReleaseName) > 53 || !dnsLabelRE.MatchString(h.ReleaseName)) {
			d.Errorf(rf.Val, p+".releaseName", "invalid release name %q: want a DNS label of at most 53 characters", h.ReleaseName)
		}
	}
	h.Namespace = namespace(d, fs["namespace"], p+".namespace")
	files, nodes := d.StrList(fs["valueFiles"], p+".valueFiles")
	for i, v := range files {
		if err := relPath(v); err != nil {
			d.Errorf(nodes[i], document.Index(p+".valueFiles", i), "%v", err)
		}
	}
	h.ValueFiles = files
	h.IgnoreMissingValueFiles = d.Bool(fs["ignoreMissingValueFiles"], p+".ignoreMissingValueFiles")
	vf, of := fs["values"], fs["valuesObject"]
	if vf.Present() && of.Present() {
		d.Errorf(of.Key, p+".valuesObject", "give values or valuesObject, not both")
	}
	switch {
	case of.Present():
		h.Values = yamlMapping(d, of, p+".valuesObject", false)
	case vf.Present():
		h.Values = yamlMapping(d, vf, p+".values", true)
	}
	if pf := fs["parameters"]; pf.Present() {
		if pf.Val.Kind != yaml.SequenceNode {
			d.Errorf(pf.Val, p+".parameters", "must be a list of {name, value, forceString}, got %s", document.Describe(pf.Val))
		} else {
			for i, e := range pf.Val.Content {
				ep := document.Index(p+".parameters", i)
				pm := d.Fields(e, ep, "name", "value", "forceString")
				name, _, _ := d.Required(pm, "name", e, ep)
				value, _ := d.Str(pm["value"], ep+".value")
				h.Parameters = append(h.Parameters, HelmParameter{Name: name, Value: value, ForceString: d.Bool(pm["forceString"], ep+".forceString")})
			}
		}
	}
	h.SkipCRDs = d.Bool(fs["skipCrds"], p+".skipCrds")
	h.KubeVersion, _ = d.Str(fs["kubeVersion"], p+".kubeVersion")
	h.APIVersions, _ = d.StrList(fs["apiVersions"], p+".apiVersions")
	return h
}

// yamlMapping returns a mapping field as YAML text; a string holding YAML
// is taken when text, and must parse to a mapping.
func yamlMapping(d *document.Doc, f document.Field, p string, text bool) string {
	n := f.Val
	if text && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(n.Value), &v); err != nil {
			d.Errorf(n, p, "invalid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
			return ""
		}
		if len(v.Content) > 0 && v.Content[0].Kind != yaml.MappingNode {
			d.Errorf(n, p, "must hold a YAML mapping, got %s", document.Describe(v.Content[0]))
			return ""
		}
		return n.Value
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, p, "must be a mapping of values, got %s", document.Describe(n))
		return ""
	}
	out, err := yaml.Marshal(n)
	if err != nil {
		d.Errorf(n, p, "%v", err)
		return ""
	}
	return string(out)
}

func jsonnetSettings(d *document.Doc, f document.Field, p string) *Jsonnet {
	j := &Jsonnet{}
	fs := d.Fields(f.Val, p, "main", "libs", "extVars", "tlas")
	if mf := fs["main"]; mf.Present() {
		j.Main, _ = d.Str(mf, p+".main")
		if err := relPath(j.Main); err != nil {
			d.Errorf(mf.Val, p+".main", "%v", err)
		}
	}
	libs, nodes := d.StrList(fs["libs"], p+".libs")
	for i, l := range libs {
		if err := validPath(l); err != nil {
			d.Errorf(nodes[i], document.Index(p+".libs", i), "%v", err)
		}
	}
	j.Libs = libs
	j.ExtVars = jsonnetVars(d, fs["extVars"], p+".extVars")
	j.TLAs = jsonnetVars(d, fs["tlas"], p+".tlas")
	return j
}

func jsonnetVars(d *document.Doc, f document.Field, p string) []JsonnetVar {
	if !f.Present() {
		return nil
	}
	if f.Val.Kind != yaml.SequenceNode {
		d.Errorf(f.Val, p, "must be a list of {name, value, code}, got %s", document.Describe(f.Val))
		return nil
	}
	var out []JsonnetVar
	seen := map[string]bool{}
	for i, e := range f.Val.Content {
		ep := document.Index(p, i)
		vf := d.Fields(e, ep, "name", "value", "code")
		name, nn, ok := d.Required(vf, "name", e, ep)
		if ok && seen[name] {
			d.Errorf(nn, ep+".name", "%q is given twice", name)
		}
		seen[name] = true
		value, _ := d.Str(vf["value"], ep+".value")
		out = append(out, JsonnetVar{Name: name, Value: value, Code: d.Bool(vf["code"], ep+".code")})
	}
	return out
}

// relPath checks a path relative to the source path: clean, slash
// separated, not absolute and not a URL. Whether it stays in the
// repository is checked at render time, where the source path is known.
func relPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("empty path")
	case strings.Contains(p, "://"):
		return fmt.Errorf("invalid path %q: only files of the repository are read", p)
	case strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || path.Clean(p) != p:
		return fmt.Errorf("invalid path %q: want a clean slash-separated path relative to the source path", p)
	}
	return nil
}
