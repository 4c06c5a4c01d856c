package render

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/ferrygitops/ferry/document"
)

// File is one manifest file: its slash-separated path from the root of the
// fs.FS it was read from, and its bytes.
type File struct {
	Name string
	Data []byte
}

// kustomizationNames are the file names that make a directory a
// kustomization, in kustomize's order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// Files returns the manifest files under p in fsys (p itself if it is a
// file), sorted by path, and whether p is a kustomization directory (then
// no files are returned). Below p, hidden files and directories (".ferry",
// ".github", ...), symbolic links, submodules and files other than
// *.yaml, *.yml and *.json are skipped. A missing p is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func Files(fsys fs.FS, p string) (files []File, kustomize bool, err error) {
	p = path.Clean(p)
	info, err := fs.Lstat(fsys, p)
	if err != nil {
		return nil, false, fmt.Errorf("path %s: %w", p, fs.ErrNotExist)
	}
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		return nil, false, fmt.Errorf("path %s is a symbolic link", p)
	case !info.IsDir():
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, false, fmt.Errorf("reading %s: %w", p, err)
		}
		return []File{{Name: p, Data: data}}, false, nil
	}
	for _, k := range kustomizationNames {
		if st, err := fs.Lstat(fsys, path.Join(p, k)); err == nil && st.Mode().IsRegular() {
			return nil, true, nil
		}
	}
	err = fs.WalkDir(fsys, p, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == p {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || !d.Type().IsRegular() || !isManifest(name) {
			return nil
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		files = append(files, File{Name: name, Data: data})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, false, nil
}

// isManifest reports whether name is a YAML or JSON file.
func isManifest(name string) bool { return document.IsManifest(name) }
