package dotferry

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

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
var kinds = []string{KindImagePolicy, KindApp, KindConfig, KindPromotion, KindRejection}

// Set is what a .ferry directory declares.
type Set struct {
	// Policies are the ImagePolicies, in file order.
	Policies []*policy.Policy
	// Apps are the Apps, sorted by name. Their RepoURL and Branch are as
	// written: see WithRepository.
	Apps []App
	// Config is the Config document, or the defaults when there is none.
	Config Config
	// Promotions are the Promotions, in file order.
	Promotions []Promotion
	// Rejections are the rejected versions, in file order.
	Rejections []Rejection
	// Notes are what documents say that Ferry read but does differently
	// (Flux's fields without a Ferry counterpart), in file order.
	Notes []Note
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
	// promotions: promotion name -> where its document starts.
	promotions map[string]document.Source
	// appRefs are the Apps other documents name, checked at the end.
	appRefs []appRef
	flux    *fluxState
	// fluxOnly: read Flux's image kinds and skip every other document (the
	// manifests beside them, in a repository without .ferry).
	fluxOnly bool
}

func newLoader() *loader {
	return &loader{names: map[string]document.Source{}, apps: map[string]document.Source{}, promotions: map[string]document.Source{}, set: Set{Config: defaultConfig()}}
}

func (l *loader) result() (*Set, error) {
	l.resolveFlux()
	l.checkAppRefs()
	if len(l.errs) > 0 {
		l.errs.Sort()
		return nil, l.errs
	}
	sortApps(l.set.Apps)
	slices.SortStableFunc(l.set.Notes, func(a, b Note) int {
		return cmp.Or(strings.Compare(a.Source.File, b.Source.File), a.Source.Line-b.Source.Line)
	})
	return &l.set, nil
}

func (l *loader) file(name string, data []byte) {
	l.set.Files++
	document.ReadFile(name, data, &l.errs, l.document)
}

// document dispatches a mapping document on its apiVersion and kind.
func (l *loader) document(d *document.Doc) {
	apiVersion, kind := d.Header()
	var version string
	if apiVersion.Present() {
		version, _ = d.Str(apiVersion, "apiVersion")
	}
	if l.fluxOnly && !isFlux(version) {
		return
	}
	versionOK := false
	switch {
	case !apiVersion.Present():
		d.Missing(d.Root, "apiVersion")
	case version == APIVersion || isFlux(version):
		versionOK = true
	case version != "":
		d.Errorf(apiVersion.Val, "apiVersion", "must be %q, got %q (Flux's image kinds take %s)", APIVersion, version, strings.Join(fluxVersions, " or "))
	}
	if !kind.Present() {
		d.Missing(d.Root, "kind")
		return
	}
	k, ok := d.Str(kind, "kind")
	if !ok {
		return
	}
	if isFlux(version) {
		l.fluxDocument(d, k, kind.Val)
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
	case KindPromotion:
		if versionOK {
			l.promotion(d)
		}
	case KindRejection:
		if versionOK {
			l.rejection(d)
		}
	default:
		hint := ""
		if k == "ImageRepository" || k == "ImageUpdateAutomation" {
			hint = " (a Flux kind: give it apiVersion " + fluxVersions[0] + ")"
		}
		d.Errorf(kind.Val, "kind", "unknown kind %q (want %s or %s)%s", k, strings.Join(kinds[:len(kinds)-1], ", "), kinds[len(kinds)-1], hint)
	}
}

// LoadFlux reads Flux's image automation documents (ImageRepository,
// ImagePolicy, ImageUpdateAutomation of image.toolkit.fluxcd.io) from
// files of a repository, skipping every other document: how Ferry reads a
// repository migrating from Flux that has no .ferry directory. Names in
// files name them in errors.
func LoadFlux(files []document.File) (*Set, error) {
	l := newLoader()
	l.fluxOnly = true
	for _, f := range files {
		l.file(f.Name, f.Data)
	}
	return l.result()
}
