package render

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/ferrygitops/ferry/dotferry"
)

// Kind is how a source path is rendered.
type Kind string

// The kinds of source, detected as Argo CD detects them (Detect).
const (
	KindDirectory Kind = "directory"
	KindKustomize Kind = "kustomize"
	KindHelm      Kind = "helm"
	KindJsonnet   Kind = "jsonnet"
)

// Detect says how the source path p of fsys is rendered, as Argo CD
// decides it: a directory holding Chart.yaml is a Helm chart, one holding
// kustomization.yaml (or .yml, or Kustomization) a kustomization, one
// holding *.jsonnet files (directly, not below) a jsonnet program, a
// single *.jsonnet file a jsonnet program too, anything else a plain
// directory (or file) of YAML and JSON manifests. Explicit settings
// complete the detection: jsonnet settings naming a main file make p a
// jsonnet program; Helm settings on a path that is no chart, or jsonnet
// settings on a chart or kustomization, are errors.
func Detect(fsys fs.FS, p string, helm *dotferry.Helm, jsonnet *dotferry.Jsonnet) (Kind, error) {
	p = path.Clean(p)
	info, err := fs.Lstat(fsys, p)
	if err != nil {
		return "", fmt.Errorf("path %s: %w", p, fs.ErrNotExist)
	}
	kind := KindDirectory
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		return "", fmt.Errorf("path %s is a symbolic link", p)
	case !info.IsDir():
		if strings.HasSuffix(p, ".jsonnet") {
			kind = KindJsonnet
		}
	case isRegular(fsys, path.Join(p, "Chart.yaml")):
		kind = KindHelm
	case slices.ContainsFunc(kustomizationNames, func(k string) bool { return isRegular(fsys, path.Join(p, k)) }):
		kind = KindKustomize
	case jsonnet != nil && jsonnet.Main != "":
		kind = KindJsonnet
	default:
		ents, err := fs.ReadDir(fsys, p)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", p, err)
		}
		for _, e := range ents {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".jsonnet") && !strings.HasPrefix(e.Name(), ".") {
				kind = KindJsonnet
				break
			}
		}
	}
	switch {
	case helm != nil && kind != KindHelm:
		return "", fmt.Errorf("spec.source.helm is given but %s is a %s, not a Helm chart (no Chart.yaml)", p, kind)
	case jsonnet != nil && kind != KindJsonnet:
		return "", fmt.Errorf("spec.source.jsonnet is given but %s is a %s, not a jsonnet program (no *.jsonnet file)", p, kind)
	}
	return kind, nil
}

func isRegular(fsys fs.FS, name string) bool {
	st, err := fs.Lstat(fsys, name)
	return err == nil && st.Mode().IsRegular()
}

// inRepo joins rel to dir and checks that the result stays in the
// repository.
func inRepo(dir, rel string) (string, error) {
	p := path.Join(dir, rel)
	if p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
		return "", fmt.Errorf("%s leaves the repository", rel)
	}
	return p, nil
}
