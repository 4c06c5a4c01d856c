package render

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/google/go-jsonnet"

	"github.com/ferrygitops/ferry/dotferry"
)

// jsonnetRender evaluates the entry points of the jsonnet program at p of
// fsys (the settings' main, p itself when it is a file, else every
// *.jsonnet file directly in p, in name order) with the settings'
// external variables and top-level arguments. Imports resolve against the
// importing file's directory, then the libs (the last first), all inside
// the repository. Each output (an object, an array, or an object of
// objects, nested) is flattened into manifests; List kinds are flattened
// later, as for every render.
func jsonnetRender(fsys fs.FS, p string, settings *dotferry.Jsonnet) ([]rawObject, error) {
	js := settings
	if js == nil {
		js = &dotferry.Jsonnet{}
	}
	var mains []string
	switch {
	case js.Main != "":
		m, err := inRepo(p, js.Main)
		if err != nil {
			return nil, fmt.Errorf("spec.source.jsonnet.main: %w", err)
		}
		mains = []string{m}
	case strings.HasSuffix(p, ".jsonnet"):
		mains = []string{p}
	default:
		ents, err := fs.ReadDir(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p, err)
		}
		for _, e := range ents {
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".jsonnet") && !strings.HasPrefix(e.Name(), ".") {
				mains = append(mains, path.Join(p, e.Name()))
			}
		}
	}
	imp := &fsImporter{fsys: fsys, libs: js.Libs, cache: map[string]*jsonnet.Contents{}}
	var out []rawObject
	for _, main := range mains {
		vm := jsonnet.MakeVM()
		vm.Importer(imp)
		vm.ErrorFormatter.SetMaxStackTraceSize(8)
		for _, v := range js.ExtVars {
			if v.Code {
				vm.ExtCode(v.Name, v.Value)
			} else {
				vm.ExtVar(v.Name, v.Value)
			}
		}
		for _, v := range js.TLAs {
			if v.Code {
				vm.TLACode(v.Name, v.Value)
			} else {
				vm.TLAVar(v.Name, v.Value)
			}
		}
		res, err := vm.EvaluateFile(main)
		if err != nil {
			return nil, fmt.Errorf("jsonnet %s: %s", main, strings.TrimSpace(err.Error()))
		}
		var v any
		if err := json.Unmarshal([]byte(res), &v); err != nil {
			return nil, fmt.Errorf("jsonnet %s: %w", main, err)
		}
		objs, err := jsonnetObjects(v, "jsonnet "+main+": ", "")
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// jsonnetObjects flattens a jsonnet output: an object with a kind is a
// manifest; an array or an object of objects holds manifests (keys in
// order); null is nothing.
func jsonnetObjects(v any, src, at string) ([]rawObject, error) {
	where := at
	if where == "" {
		where = "the output"
	}
	switch t := v.(type) {
	case nil:
		return nil, nil
	case []any:
		var out []rawObject
		for i, e := range t {
			objs, err := jsonnetObjects(e, src, fmt.Sprintf("%s[%d]", at, i))
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	case map[string]any:
		if _, ok := t["kind"]; ok {
			return []rawObject{{obj: t, source: src + cmpOrRoot(at)}}, nil
		}
		if _, ok := t["apiVersion"]; ok {
			return nil, fmt.Errorf("%s%s: kind is missing", src, where)
		}
		var out []rawObject
		for _, k := range slices.Sorted(maps.Keys(t)) {
			switch t[k].(type) {
			case map[string]any, []any, nil:
			default:
				return nil, fmt.Errorf("%s%s: want a manifest, a list of manifests or an object of manifests; %q is %T", src, where, k, t[k])
			}
			objs, err := jsonnetObjects(t[k], src, at+"."+k)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s%s: want a manifest, a list of manifests or an object of manifests, got %T", src, where, v)
}

func cmpOrRoot(at string) string {
	if at == "" {
		return "."
	}
	return at
}

// fsImporter imports jsonnet files from the repository's fs.FS: relative
// to the importing file, then from the libs, never outside the
// repository.
type fsImporter struct {
	fsys  fs.FS
	libs  []string
	cache map[string]*jsonnet.Contents
}

var errNoImport = errors.New("not found")

func (im *fsImporter) Import(importedFrom, importedPath string) (jsonnet.Contents, string, error) {
	if path.IsAbs(importedPath) || strings.Contains(importedPath, "\\") {
		return jsonnet.Contents{}, "", fmt.Errorf("import %q: only paths relative to the repository are read", importedPath)
	}
	dirs := []string{path.Dir(importedFrom)}
	if importedFrom == "" {
		dirs = []string{"."}
	}
	for i := len(im.libs) - 1; i >= 0; i-- {
		dirs = append(dirs, im.libs[i])
	}
	for _, d := range dirs {
		p, err := inRepo(d, importedPath)
		if err != nil {
			return jsonnet.Contents{}, "", fmt.Errorf("import %q: %w", importedPath, err)
		}
		c, err := im.read(p)
		if errors.Is(err, errNoImport) {
			continue
		}
		if err != nil {
			return jsonnet.Contents{}, "", err
		}
		return *c, p, nil
	}
	return jsonnet.Contents{}, "", fmt.Errorf("couldn't open import %q: no match next to %s or in the libs", importedPath, cmpOrRoot(importedFrom))
}

func (im *fsImporter) read(p string) (*jsonnet.Contents, error) {
	if c, ok := im.cache[p]; ok {
		if c == nil {
			return nil, errNoImport
		}
		return c, nil
	}
	st, err := fs.Lstat(im.fsys, p)
	if err != nil || !st.Mode().IsRegular() {
		im.cache[p] = nil
		return nil, errNoImport
	}
	data, err := fs.ReadFile(im.fsys, p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	c := jsonnet.MakeContentsRaw(data)
	im.cache[p] = &c
	return &c, nil
}
