package gitrepo

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// TreeFS returns a read-only fs.FS over a git tree, so that code reading a
// directory (document.ReadDir, renders) applies the same rules to a
// commit as to a directory on disk. Directory entries report their git
// mode: fs.ModeDir for trees, fs.ModeSymlink for symbolic links (whose
// targets ReadLink returns; Open and ReadFile do not follow them),
// fs.ModeIrregular for submodules. It implements fs.ReadDirFS,
// fs.ReadFileFS, fs.StatFS and fs.ReadLinkFS; modification times are zero.
func TreeFS(t *object.Tree) fs.FS { return treeFS{t} }

type treeFS struct{ root *object.Tree }

var (
	_ fs.ReadDirFS  = treeFS{}
	_ fs.ReadFileFS = treeFS{}
	_ fs.StatFS     = treeFS{}
	_ fs.ReadLinkFS = treeFS{}
)

// lookup returns the entry at name ("." is the root, entry nil).
func (t treeFS) lookup(op, name string) (*object.TreeEntry, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return nil, nil
	}
	e, err := t.root.FindEntry(name)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return e, nil
}

func (t treeFS) Open(name string) (fs.File, error) {
	e, err := t.lookup("open", name)
	if err != nil {
		return nil, err
	}
	if e == nil || e.Mode == filemode.Dir {
		sub := t.root
		if e != nil {
			if sub, err = t.root.Tree(name); err != nil {
				return nil, &fs.PathError{Op: "open", Path: name, Err: err}
			}
		}
		return &treeDir{info: entryInfo(name, e, 0), tree: sub}, nil
	}
	data, err := t.blob("open", name, e)
	if err != nil {
		return nil, err
	}
	return &treeFile{info: entryInfo(name, e, int64(len(data))), Reader: bytes.NewReader(data)}, nil
}

func (t treeFS) blob(op, name string, e *object.TreeEntry) ([]byte, error) {
	if e.Mode == filemode.Submodule {
		return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("a submodule")}
	}
	f, err := t.root.TreeEntryFile(e)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	rd, err := f.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return data, nil
}

func (t treeFS) ReadFile(name string) ([]byte, error) {
	e, err := t.lookup("read", name)
	if err != nil {
		return nil, err
	}
	if e == nil || e.Mode == filemode.Dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	return t.blob("read", name, e)
}

func (t treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	sub := t.root
	if name != "." {
		e, err := t.lookup("readdir", name)
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
		}
		if sub, err = t.root.Tree(name); err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
	}
	return dirEntries(sub, name), nil
}

func (t treeFS) Stat(name string) (fs.FileInfo, error) {
	e, err := t.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return entryInfo(".", nil, 0), nil
	}
	return t.entryStat(name, e), nil
}

// Lstat is Stat: the tree's links are never followed.
func (t treeFS) Lstat(name string) (fs.FileInfo, error) { return t.Stat(name) }

func (t treeFS) ReadLink(name string) (string, error) {
	e, err := t.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if e == nil || e.Mode != filemode.Symlink {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	data, err := t.blob("readlink", name, e)
	return string(data), err
}

func (t treeFS) entryStat(name string, e *object.TreeEntry) fs.FileInfo {
	var size int64
	if e.Mode.IsFile() {
		if f, err := t.root.TreeEntryFile(e); err == nil {
			size = f.Size
		}
	}
	return entryInfo(name, e, size)
}

func dirEntries(tree *object.Tree, dir string) []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(tree.Entries))
	for i := range tree.Entries {
		e := &tree.Entries[i]
		out = append(out, treeDirEntry{info: entryInfo(path.Join(dir, e.Name), e, 0), tree: tree})
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out
}

// fileInfo describes a tree entry.
type fileInfo struct {
	name string
	mode fs.FileMode
	size int64
}

func entryInfo(name string, e *object.TreeEntry, size int64) fileInfo {
	fi := fileInfo{name: path.Base(name), mode: fs.ModeDir | 0o555, size: size}
	if e == nil {
		return fi
	}
	switch e.Mode {
	case filemode.Dir:
	case filemode.Symlink:
		fi.mode = fs.ModeSymlink | 0o777
	case filemode.Submodule:
		fi.mode = fs.ModeIrregular
	case filemode.Executable:
		fi.mode = 0o555
	default:
		fi.mode = 0o444
	}
	return fi
}

func (i fileInfo) Name() string       { return i.name }
func (i fileInfo) Size() int64        { return i.size }
func (i fileInfo) Mode() fs.FileMode  { return i.mode }
func (i fileInfo) ModTime() time.Time { return time.Time{} }
func (i fileInfo) IsDir() bool        { return i.mode.IsDir() }
func (i fileInfo) Sys() any           { return nil }

type treeDirEntry struct {
	info fileInfo
	tree *object.Tree
}

func (d treeDirEntry) Name() string      { return d.info.name }
func (d treeDirEntry) IsDir() bool       { return d.info.IsDir() }
func (d treeDirEntry) Type() fs.FileMode { return d.info.mode.Type() }
func (d treeDirEntry) Info() (fs.FileInfo, error) {
	if t := d.info.mode.Type(); t == 0 || t == fs.ModeSymlink {
		if e, err := d.tree.FindEntry(d.info.name); err == nil {
			if f, err := d.tree.TreeEntryFile(e); err == nil {
				info := d.info
				info.size = f.Size
				return info, nil
			}
		}
	}
	return d.info, nil
}

type treeFile struct {
	info fileInfo
	*bytes.Reader
}

func (f *treeFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *treeFile) Close() error               { return nil }

type treeDir struct {
	info fileInfo
	tree *object.Tree
	list []fs.DirEntry
	read bool
}

func (d *treeDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *treeDir) Close() error               { return nil }
func (d *treeDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}

func (d *treeDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.list, d.read = dirEntries(d.tree, d.info.name), true
	}
	if n <= 0 {
		out := d.list
		d.list = nil
		return out, nil
	}
	if len(d.list) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.list))
	out := d.list[:n]
	d.list = d.list[n:]
	return out, nil
}
