//go:build !linux

package updater

import "errors"

// canSyncFS says whether syncFS is available; here every file is synced on
// its own.
const canSyncFS = false

func syncFS(string) error { return errors.New("syncfs is not available") }
