package gitrepo_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"testing/fstest"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/ferrygitops/ferry/gitrepo"
)

// gitTree commits files (and symbolic links, for values starting with
// "->") with the git command and returns the commit's tree.
func gitTree(t *testing.T, files map[string]string) (*object.Tree, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := cutPrefix(content, "->"); ok {
			err = os.Symlink(target, p)
		} else {
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	r, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.CommitObject(head.Hash())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		t.Fatal(err)
	}
	return tree, dir
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// TestTreeFS checks the fs.FS contract (fstest.TestFS) and that links are
// reported, not followed.
func TestTreeFS(t *testing.T) {
	tree, _ := gitTree(t, map[string]string{
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
