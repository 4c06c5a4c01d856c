package document

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// File is one document file read from a directory: its slash-separated
// path within the fs.FS it was read from, and its bytes.
type File struct {
	Name string
	Data []byte
}

// maxLinkHops bounds the symbolic links followed to resolve one link.
const maxLinkHops = 8

// ReadDir returns every *.yaml and *.yml file below dir in fsys, in order
// of path. The same rules hold for a directory on disk (os.DirFS) and for a
// git tree (gitrepo.TreeFS):
//   - hidden files and directories (names starting with ".") are skipped;
//   - a symbolic link to a file that resolves inside dir (through links
//     that all stay inside dir) is read under the link's name, unless its
//     target is read anyway (then the link is skipped: nothing is read
//     twice); this is how a Kubernetes ConfigMap mounted as a directory
//     looks. Any other symbolic link is an error naming it, as is a
//     symbolic link to a directory: links are never followed out of dir.
//
// fsys must implement fs.ReadLinkFS for links to be read; without it every
// link is an error. A dir that does not exist gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func ReadDir(fsys fs.FS, dir string) ([]File, error) {
	dir = path.Clean(dir)
	info, err := fs.Stat(fsys, dir)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	type entry struct {
		name string
		link bool
	}
	var entries []entry
	read := map[string]bool{}
	err = fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		link := d.Type()&fs.ModeSymlink != 0
		if !link && !d.Type().IsRegular() {
			return nil
		}
		if !isYAML(p) {
			return nil
		}
		entries = append(entries, entry{p, link})
		if !link {
			read[p] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var errs Errors
	var out []File
	for _, e := range entries {
		name := e.name
		if e.link {
			target, err := resolveLink(fsys, dir, e.name)
			if err != nil {
				errs = append(errs, &Error{File: e.name, Msg: err.Error()})
				continue
			}
			if read[target] {
				continue
			}
			name = target
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Name: e.name, Data: data})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// IsManifest reports whether a file name is one Ferry reads as Kubernetes
// manifests: .yaml, .yml or .json, in any case.
func IsManifest(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func isYAML(name string) bool {
	ext := path.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// errLink explains the symbolic links ReadDir refuses.
var errLink = errors.New("a symbolic link Ferry does not follow: only links to files inside the directory are read; replace it with the file")

// resolveLink resolves the symbolic link name, component by component,
// and returns the path of the regular file it leads to, which must lie
// inside dir.
func resolveLink(fsys fs.FS, dir, name string) (string, error) {
	if _, ok := fsys.(fs.ReadLinkFS); !ok {
		return "", errLink
	}
	inside := func(p string) bool { return dir == "." || p == dir || strings.HasPrefix(p, dir+"/") }
	cur := name
	for hops := 0; hops < maxLinkHops; hops++ {
		target, err := fs.ReadLink(fsys, cur)
		if err != nil {
			return "", fmt.Errorf("reading the symbolic link: %w", err)
		}
		if path.IsAbs(target) {
			return "", errLink
		}
		next := path.Join(path.Dir(cur), target)
		if !inside(next) || next == dir || strings.HasPrefix(next, "../") || next == ".." {
			return "", errLink
		}
		// Resolve the links among next's directories too.
		resolved, err := resolveDirs(fsys, dir, next, inside)
		if err != nil {
			return "", err
		}
		info, err := fs.Lstat(fsys, resolved)
		if err != nil {
			return "", fmt.Errorf("a symbolic link to %s: %w", target, err)
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			cur = resolved
			continue
		case info.Mode().IsRegular():
			return resolved, nil
		default:
			return "", errLink
		}
	}
	return "", fmt.Errorf("more than %d symbolic links in a row", maxLinkHops)
}

// resolveDirs replaces the symbolic links among p's parent directories by
// their targets, each of which must stay inside dir.
func resolveDirs(fsys fs.FS, dir, p string, inside func(string) bool) (string, error) {
	parts := strings.Split(p, "/")
	cur := ""
	for i, part := range parts[:len(parts)-1] {
		next := path.Join(cur, part)
		for hops := 0; ; hops++ {
			info, err := fs.Lstat(fsys, next)
			if err != nil {
				return "", fmt.Errorf("a symbolic link into %s: %w", strings.Join(parts[:i+1], "/"), err)
			}
			if info.Mode()&fs.ModeSymlink == 0 {
				break
			}
			if hops == maxLinkHops {
				return "", fmt.Errorf("more than %d symbolic links in a row", maxLinkHops)
			}
			target, err := fs.ReadLink(fsys, next)
			if err != nil {
				return "", fmt.Errorf("reading the symbolic link: %w", err)
			}
			if path.IsAbs(target) {
				return "", errLink
			}
			next = path.Join(path.Dir(next), target)
			if !inside(next) {
				return "", errLink
			}
		}
		cur = next
	}
	return path.Join(cur, parts[len(parts)-1]), nil
}
