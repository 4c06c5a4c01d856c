// Package scratch makes Ferry's temporary working directories (clones,
// renders) and removes those a killed process left behind.
//
// Each directory is created in the system's temporary directory with a lock
// file beside it, held (flock) for as long as the directory is in use. The
// kernel drops the lock when the process ends, however it ends, so the next
// Ferry process to create a directory of the same prefix removes every
// directory of that prefix whose lock nobody holds: a crash leaves its clones
// on disk only until the next run, and concurrent runs never remove each
// other's.
package scratch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// lockSuffix names the lock file beside a directory.
const lockSuffix = ".lock"

// grace is how old an unlocked directory without a lock file must be before
// it is taken for abandoned: another process may be between creating the
// directory and locking it.
const grace = time.Minute

// Dir is a temporary directory in use.
type Dir struct {
	Path string
	lock *os.File
}

var swept sync.Map // temporary directory and prefix → struct{}: swept once per process

// New creates a directory named prefix followed by a random suffix in the
// system's temporary directory and locks it. The first call for a prefix in
// a process first removes that prefix's abandoned directories (errors there
// are not fatal: they are returned by Sweep, not by New).
func New(prefix string) (*Dir, error) {
	if _, done := swept.LoadOrStore(os.TempDir()+"\x00"+prefix, struct{}{}); !done {
		_, _ = Sweep(os.TempDir(), prefix, time.Now())
	}
	return create(os.TempDir(), prefix)
}

func create(root, prefix string) (*Dir, error) {
	path, err := os.MkdirTemp(root, prefix)
	if err != nil {
		return nil, fmt.Errorf("creating a working directory: %w", err)
	}
	f, err := os.OpenFile(path+lockSuffix, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("creating a working directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(path + lockSuffix)
		os.RemoveAll(path)
		return nil, fmt.Errorf("locking working directory %s: %w", path, err)
	}
	return &Dir{Path: path, lock: f}, nil
}

// Close removes the directory and its lock file.
func (d *Dir) Close() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.Path)
	err = errors.Join(err, os.Remove(d.lock.Name()), d.lock.Close())
	d.lock = nil
	return err
}

// Sweep removes the directories of root named prefix+suffix whose lock no
// process holds (and those without a lock file that are older than a
// minute at now), and returns what it removed.
func Sweep(root, prefix string, now time.Time) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("sweeping %s: %w", root, err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || !strings.HasPrefix(name, prefix) || len(name) == len(prefix) {
			continue
		}
		path := filepath.Join(root, name)
		stale, err := abandoned(path, e, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !stale {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(path + lockSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// abandoned reports whether no process uses path. A lock taken here to find
// out is released before returning; the directory is removed right after,
// so a process that would lock it then finds the lock file gone with it.
func abandoned(path string, e fs.DirEntry, now time.Time) (bool, error) {
	f, err := os.OpenFile(path+lockSuffix, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		info, err := e.Info()
		if err != nil {
			return false, nil // gone meanwhile
		}
		return now.Sub(info.ModTime()) > grace, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, nil // in use
		}
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	return true, nil
}
