//go:build unix

package updater

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestScanSymlinks: symlinks are never followed out of the repository, and
// never read at all.
func TestScanSymlinks(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"app.yaml": appDeployment, "dir/app.yaml": appDeployment})
	// A FIFO: reading it would block the scan forever.
	fifo := filepath.Join(outside, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"apps/app.yaml": appDeployment})
	for link, target := range map[string]string{
		"out.yaml":         filepath.Join(outside, "app.yaml"),
		"fifo.yaml":        fifo,
		"outdir":           filepath.Join(outside, "dir"),
		"apps/inside.yaml": "app.yaml",
		"dangling.yaml":    filepath.Join(outside, "missing.yaml"),
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	// A FIFO inside the repository is not a regular file: not read either.
	if err := syscall.Mkfifo(filepath.Join(root, "apps", "pipe.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan *Result)
	go func() { done <- scan(t, root, Options{Explain: true}) }()
	var res *Result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Scan blocked: it read a FIFO")
	}
	if diff := cmp.Diff([]string{"apps/app.yaml"}, refFiles(res)); diff != "" {
		t.Errorf("files with references (-want +got):\n%s", diff)
	}
	got := skippedAs(res)
	want := map[string]string{
		"out.yaml":         ReasonSymlink,
		"fifo.yaml":        ReasonSymlink,
		"outdir":           ReasonSymlink,
		"dangling.yaml":    ReasonSymlink,
		"apps/inside.yaml": ReasonSymlinkInside,
		"apps/pipe.yaml":   ReasonNotManifest,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	// Out-of-repository symlinks are listed even without Explain.
	quiet := skippedAs(scan(t, root, Options{}))
	if quiet["out.yaml"] != ReasonSymlink || quiet["apps/inside.yaml"] != "" {
		t.Errorf("skipped without Explain: %v", quiet)
	}
}
