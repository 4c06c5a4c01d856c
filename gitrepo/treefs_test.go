package gitrepo_test

import (
	"io/fs"
	"os"
	"testing"
	"testing/fstest"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

// TestTreeFS checks the fs.FS contract (fstest.TestFS) and that links are
// reported, not followed.
func TestTreeFS(t *testing.T) {
	tree, _ := gitserver.LocalCommit(t, map[string]string{
		".ferry/a.yaml":     "a: 1\n",
		".ferry/sub/b.yaml": "b: 2\n",
		".ferry/link.yaml":  "->a.yaml",
		"README.md":         "# hi\n",
	})
	fsys := gitrepo.TreeFS(tree)
	if err := fstest.TestFS(fsys, ".ferry/a.yaml", ".ferry/sub/b.yaml", ".ferry/link.yaml", "README.md"); err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(fsys, ".ferry/sub/b.yaml")
	if err != nil || string(data) != "b: 2\n" {
		t.Errorf("ReadFile = %q, %v", data, err)
	}
	info, err := fs.Lstat(fsys, ".ferry/link.yaml")
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(link) = %v, %v; want a symbolic link", info, err)
	}
	if target, err := fs.ReadLink(fsys, ".ferry/link.yaml"); err != nil || target != "a.yaml" {
		t.Errorf("ReadLink = %q, %v", target, err)
	}
	if _, err := fs.ReadLink(fsys, ".ferry/a.yaml"); err == nil {
		t.Error("ReadLink of a regular file succeeded")
	}
	if _, err := fsys.Open("nope"); !os.IsNotExist(err) {
		t.Errorf("Open(nope) = %v, want not exist", err)
	}
	if _, err := fsys.Open("../x"); err == nil {
		t.Error("Open(../x) succeeded")
	}
}
