//go:build linux

package updater

import (
	"os"

	"golang.org/x/sys/unix"
)

// canSyncFS says whether syncFS is available: many files are then written
// without a sync each and made durable by one syncfs(2) of their filesystem.
const canSyncFS = true

// syncFS flushes the filesystem holding dir to stable storage.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}
