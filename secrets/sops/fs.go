package sops

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"sync"
)

// FS is an fs.FS whose SOPS documents read decrypted: what a render reads
// through it. Decryptions are made once per file and kept in memory only.
// The first decryption error is kept (Err): a renderer may wrap or drop
// the error of a read, and a sync must stop on it all the same.
type FS struct {
	ctx  context.Context
	d    *Decrypter
	fsys fs.FS

	mu    sync.Mutex
	done  map[string][]byte
	files []string
	err   error
}

// FS returns fsys with its SOPS documents decrypted by d when read; ctx
// bounds the KMS calls.
func (d *Decrypter) FS(ctx context.Context, fsys fs.FS) *FS {
	return &FS{ctx: ctx, d: d, fsys: fsys, done: map[string][]byte{}}
}

// Err returns the first decryption error of a read through f.
func (f *FS) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Decrypted returns the names of the files decrypted so far, in the order
// they were read.
func (f *FS) Decrypted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.files...)
}

// ReadFile reads name, decrypted if it is a SOPS document.
func (f *FS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	if b, ok := f.done[name]; ok {
		f.mu.Unlock()
		return bytes.Clone(b), nil
	}
	f.mu.Unlock()
	raw, err := fs.ReadFile(f.fsys, name)
	if err != nil || formatOf(name) == "" {
		return raw, err
	}
	plain, enc, err := f.d.Decrypt(f.ctx, name, raw)
	if err != nil {
		f.mu.Lock()
		if f.err == nil {
			f.err = err
		}
		f.mu.Unlock()
		return nil, &fs.PathError{Op: "decrypt", Path: name, Err: err}
	}
	if enc {
		f.mu.Lock()
		if _, ok := f.done[name]; !ok {
			f.done[name] = plain
			f.files = append(f.files, name)
		}
		f.mu.Unlock()
	}
	return bytes.Clone(plain), nil
}

// Open opens name; a SOPS document opens decrypted.
func (f *FS) Open(name string) (fs.File, error) {
	file, err := f.fsys.Open(name)
	if err != nil || formatOf(name) == "" {
		return file, err
	}
	info, err := file.Stat()
	if err != nil || info.IsDir() {
		return file, err
	}
	file.Close()
	data, err := f.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(data), info: sizedInfo{info, int64(len(data))}}, nil
}

// Stat returns name's FileInfo (the size of a SOPS document is its
// decrypted size once it has been read).
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	info, err := fs.Stat(f.fsys, name)
	return f.sized(name, info, err)
}

// Lstat is Stat without following a final symbolic link, when the wrapped
// fs.FS can tell links apart.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	info, err := fs.Lstat(f.fsys, name)
	return f.sized(name, info, err)
}

func (f *FS) sized(name string, info fs.FileInfo, err error) (fs.FileInfo, error) {
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if b, ok := f.done[name]; ok {
		return sizedInfo{info, int64(len(b))}, nil
	}
	return info, nil
}

// ReadLink returns the target of a symbolic link.
func (f *FS) ReadLink(name string) (string, error) { return fs.ReadLink(f.fsys, name) }

// ReadDir lists a directory.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(f.fsys, name) }

var (
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)
)

type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (s sizedInfo) Size() int64 { return s.size }

type memFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.info, nil }
func (m *memFile) Close() error               { return nil }

var _ io.ReaderAt = (*memFile)(nil)
