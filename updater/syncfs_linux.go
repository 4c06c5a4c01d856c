//go:build linux && (amd64 || arm64)

package updater

import (
	"os"
	"syscall"
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
	if _, _, errno := syscall.Syscall(sysSyncfs, f.Fd(), 0, 0); errno != 0 {
		return &os.PathError{Op: "syncfs", Path: dir, Err: errno}
	}
	return nil
}
