//go:build !unix

package updater

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// openNoFollow opens a file for reading, failing if it is a symlink.
func openNoFollow(name string) (*os.File, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("opening %s: is a symlink", name)
	}
	return os.Open(name)
}

// readFile reads the regular file name, of at most limit bytes, into buf,
// reused.
func readFile(name string, limit int64, buf []byte) ([]byte, error) {
	f, fi, err := openRegular(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, errTooLarge
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
