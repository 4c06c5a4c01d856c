package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeBuild runs kustomize (krusty, plugins off, loads restricted to
// the kustomization root) on directory p of fsys, which it reads in place
// through treeFS: nothing is written to disk. Remote bases, which
// kustomize clones into a temporary directory itself, are read from disk.
func kustomizeBuild(fsys fs.FS, p string) ([]rawObject, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(kustFS{src: fsys, disk: filesys.MakeFsOnDisk()}, path.Join(mountRoot, p))
	if err != nil {
		msg := strings.ReplaceAll(err.Error(), mountRoot+"/", "")
		if strings.Contains(msg, "--enable-helm") {
			return nil, fmt.Errorf("kustomize build %s: helmCharts are not supported: kustomize runs them with the helm binary, which Ferry does not run; give the chart its own App (a path holding Chart.yaml, with spec.source.helm settings) instead", p)
		}
		return nil, fmt.Errorf("kustomize build %s: %s", p, msg)
	}
	var out []rawObject
	for _, res := range rm.Resources() {
		j, err := res.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", p, err)
		}
		var obj map[string]any
		if err := utiljson.Unmarshal(j, &obj); err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", p, err)
		}
		out = append(out, rawObject{obj: obj, source: "kustomize build " + p})
	}
	return out, nil
}

// mountRoot is where kustFS shows its fs.FS to kustomize.
const mountRoot = "/repo"

// kustFS is kustomize's filesys.FileSystem over an fs.FS mounted read-only
// at mountRoot; every other path is the disk's (kustomize's clones of
// remote bases). Symbolic links and submodules in the fs.FS do not exist
// for kustomize, as if the tree had been written out without them.
type kustFS struct {
	src  fs.FS
	disk filesys.FileSystem
}

var _ filesys.FileSystem = kustFS{}

var errReadOnly = errors.New("the repository is read-only")

// rel returns p relative to the fs.FS, and whether p is inside it.
func (k kustFS) rel(p string) (string, bool) {
	if !filepath.IsAbs(p) {
		return "", false
	}
	p = filepath.ToSlash(filepath.Clean(p))
	if p == mountRoot {
		return ".", true
	}
	if r, ok := strings.CutPrefix(p, mountRoot+"/"); ok {
		return r, true
	}
	return "", false
}

// stat returns the entry at r, not following links; links and submodules
// do not exist.
func (k kustFS) stat(r string) (fs.FileInfo, error) {
	info, err := fs.Lstat(k.src, r)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() && !info.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "stat", Path: r, Err: fs.ErrNotExist}
	}
	return info, nil
}

func (k kustFS) Create(p string) (filesys.File, error) {
	if _, in := k.rel(p); in {
		return nil, &fs.PathError{Op: "create", Path: p, Err: errReadOnly}
	}
	return k.disk.Create(p)
}

func (k kustFS) Mkdir(p string) error {
	if _, in := k.rel(p); in {
		return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
	}
	return k.disk.Mkdir(p)
}

func (k kustFS) MkdirAll(p string) error {
	if _, in := k.rel(p); in {
		return &fs.PathError{Op: "mkdir", Path: p, Err: errReadOnly}
	}
	return k.disk.MkdirAll(p)
}

func (k kustFS) RemoveAll(p string) error {
	if _, in := k.rel(p); in {
		return &fs.PathError{Op: "remove", Path: p, Err: errReadOnly}
	}
	return k.disk.RemoveAll(p)
}

func (k kustFS) WriteFile(p string, data []byte) error {
	if _, in := k.rel(p); in {
		return &fs.PathError{Op: "write", Path: p, Err: errReadOnly}
	}
	return k.disk.WriteFile(p, data)
}

func (k kustFS) Open(p string) (filesys.File, error) {
	r, in := k.rel(p)
	if !in {
		return k.disk.Open(p)
	}
	info, err := k.stat(r)
	if err != nil {
		return nil, err
	}
	var data []byte
	if !info.IsDir() {
		if data, err = fs.ReadFile(k.src, r); err != nil {
			return nil, err
		}
	}
	return &kustFile{Reader: bytes.NewReader(data), info: info}, nil
}

func (k kustFS) IsDir(p string) bool {
	r, in := k.rel(p)
	if !in {
		return k.disk.IsDir(p)
	}
	info, err := k.stat(r)
	return err == nil && info.IsDir()
}

func (k kustFS) Exists(p string) bool {
	r, in := k.rel(p)
	if !in {
		return k.disk.Exists(p)
	}
	_, err := k.stat(r)
	return err == nil
}

func (k kustFS) ReadDir(p string) ([]string, error) {
	r, in := k.rel(p)
	if !in {
		return k.disk.ReadDir(p)
	}
	ents, err := fs.ReadDir(k.src, r)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (k kustFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	r, in := k.rel(p)
	if !in {
		return k.disk.CleanedAbs(p)
	}
	info, err := k.stat(r)
	if err != nil {
		return "", "", fmt.Errorf("'%s' doesn't exist: %w", p, err)
	}
	abs := path.Join(mountRoot, r)
	if info.IsDir() {
		return filesys.ConfirmedDir(abs), "", nil
	}
	return filesys.ConfirmedDir(path.Dir(abs)), path.Base(abs), nil
}

func (k kustFS) Glob(pattern string) ([]string, error) {
	r, in := k.rel(pattern)
	if !in {
		return k.disk.Glob(pattern)
	}
	matches, err := fs.Glob(k.src, r)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range matches {
		if _, err := k.stat(m); err == nil {
			out = append(out, path.Join(mountRoot, m))
		}
	}
	if !filesys.IsHiddenFilePath(pattern) {
		out = filesys.RemoveHiddenFiles(out)
	}
	return out, nil
}

func (k kustFS) ReadFile(p string) ([]byte, error) {
	r, in := k.rel(p)
	if !in {
		return k.disk.ReadFile(p)
	}
	info, err := k.stat(r)
	if err != nil {
		return nil, err
	}
	if info.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: p, Err: errors.New("is a directory")}
	}
	return fs.ReadFile(k.src, r)
}

func (k kustFS) Walk(p string, fn filepath.WalkFunc) error {
	r, in := k.rel(p)
	if !in {
		return k.disk.Walk(p, fn)
	}
	return fs.WalkDir(k.src, r, func(name string, d fs.DirEntry, err error) error {
		abs := path.Join(mountRoot, name)
		if err != nil {
			return fn(abs, nil, err)
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		return fn(abs, info, err)
	})
}

// kustFile is an open file of kustFS.
type kustFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f *kustFile) Write([]byte) (int, error)  { return 0, errReadOnly }
func (f *kustFile) Close() error               { return nil }
func (f *kustFile) Stat() (fs.FileInfo, error) { return f.info, nil }

var _ io.ReadWriteCloser = (*kustFile)(nil)
