//go:build unix

package updater

import (
	"errors"
	"os"
	"syscall"
)

// openNoFollow opens a file for reading, failing if it is a symlink.
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// readFile reads the file name, which must not be a symlink (a symlink put
// in place of a file since the walk is not followed), into buf, reused. It
// fails with errTooLarge past limit bytes and errNotRegular when name is not a
// regular file. It does without the runtime's poller and without a stat, as
// the scan reads every file of the repository: a FIFO is opened
// non-blocking and so fails rather than hangs.
func readFile(name string, limit int64, buf []byte) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(name, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errTooLarge
			}
			buf = append(buf, make([]byte, max(4096, cap(buf)))...)[:len(buf)]
		}
		n, err := syscall.Read(fd, buf[len(buf):cap(buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EAGAIN):
			return buf, errNotRegular
		case err != nil:
			return buf, &os.PathError{Op: "read", Path: name, Err: err}
		case n <= 0:
			if int64(len(buf)) > limit {
				return buf, errTooLarge
			}
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}
