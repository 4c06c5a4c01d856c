package dotferry

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/policy"
)

// APIVersion is the apiVersion of every Ferry document.
const APIVersion = "ferry.dev/v1alpha1"

// The kinds of Ferry documents.
const (
	KindImagePolicy = "ImagePolicy"
	KindApp         = "App"
	KindConfig      = "Config"
)

// Dir is the directory of a manifest repository holding Ferry's documents.
const Dir = ".ferry"

// kinds lists the kinds in the order error messages name them.
var kinds = []string{KindImagePolicy, KindApp, KindConfig}

// Set is what a .ferry directory declares.
type Set struct {
	// Policies are the ImagePolicies, in file order.
	Policies []*policy.Policy
	// Apps are the Apps, sorted by name. Their RepoURL and Branch are as
	// written: see WithRepository.
	Apps []App
	// Config is the Config document, or the defaults when there is none.
	Config Config
	// Files counts the files read.
	Files int
}

// Parse reads the documents of one file; file names it in errors. When
// any document is invalid it returns a nil Set and a document.Errors
// listing every problem found.
func Parse(file string, data []byte) (*Set, error) {
	l := newLoader()
	l.file(file, data)
	return l.result()
}

// LoadDir reads every document file below dir on disk (see
// document.ReadDir for which), naming files by their path on disk. A dir
// that does not exist gives an error satisfying errors.Is(err,
// fs.ErrNotExist).
func LoadDir(dir string) (*Set, error) {
	if info, err := os.Stat(dir); err != nil {
		return nil, loadError(dir, err)
	} else if !info.IsDir() {
		return nil, fmt.Errorf("reading policies: %s is not a directory", dir)
	}
	files, err := document.ReadDir(os.DirFS(dir), ".")
	if err != nil {
		return nil, loadError(dir, err)
	}
	l := newLoader()
	for _, f := range files {
		l.file(filepath.Join(dir, filepath.FromSlash(f.Name)), f.Data)
	}
	return l.result()
}

// LoadFS reads every document file below dir in fsys (a git tree through
// gitrepo.TreeFS, say), naming files by their slash-separated path in
// fsys. A dir that does not exist gives an error satisfying errors.Is(err,
// fs.ErrNotExist).
func LoadFS(fsys fs.FS, dir string) (*Set, error) {
	files, err := document.ReadDir(fsys, dir)
	if err != nil {
		return nil, loadError(dir, err)
	}
	l := newLoader()
	for _, f := range files {
		l.file(path.Clean(f.Name), f.Data)
	}
	return l.result()
}

func loadError(dir string, err error) error {
	var de document.Errors
	if errors.As(err, &de) {
		for _, e := range de {
			e.File = path.Join(filepath.ToSlash(dir), e.File)
		}
		return de
	}
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reading %s: %w", dir, fs.ErrNotExist)
	}
	return fmt.Errorf("reading %s: %w", dir, err)
}

// loader accumulates documents and problems over one load.
type loader struct {
	set    Set
	errs   document.Errors
	names  map[string]document.Source // policy name -> where metadata.name was first set
	apps   map[string]document.Source // app name -> where its document starts
	config *document.Source
}

func newLoader() *loader {
	return &loader{names: map[string]document.Source{}, apps: map[string]document.Source{}, set: Set{Config: defaultConfig()}}
}

func (l *loader) result() (*Set, error) {
	if len(l.errs) > 0 {
		l.errs.Sort()
		return nil, l.errs
	}
	sortApps(l.set.Apps)
	return &l.set, nil
}

func (l *loader) file(name string, data []byte) {
	l.set.Files++
	document.ReadFile(name, data, &l.errs, l.document)
}

// document dispatches a mapping document on its kind.
func (l *loader) document(d *document.Doc) {
	apiVersion, kind := d.Header()
	versionOK := false
	switch {
	case !apiVersion.Present():
		d.Missing(d.Root, "apiVersion")
	default:
		if v, ok := d.Str(apiVersion, "apiVersion"); ok {
			if v == APIVersion {
				versionOK = true
			} else {
				d.Errorf(apiVersion.Val, "apiVersion", "must be %q, got %q", APIVersion, v)
			}
		}
	}
	if !kind.Present() {
		d.Missing(d.Root, "kind")
		return
	}
	k, ok := d.Str(kind, "kind")
	if !ok {
		return
	}
	switch k {
	case KindImagePolicy:
		l.imagePolicy(d)
	case KindApp:
		if versionOK {
			l.app(d)
		}
	case KindConfig:
		if versionOK {
			l.configDoc(d)
		}
	default:
		d.Errorf(kind.Val, "kind", "unknown kind %q (want %s, %s or %s)", k, kinds[0], kinds[1], kinds[2])
	}
}
