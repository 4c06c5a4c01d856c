package scratch

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestMain lets the test binary play a Ferry process that is killed while
// it holds a working directory.
func TestMain(m *testing.M) {
	if root := os.Getenv("SCRATCH_HOLD_IN"); root != "" {
		d, err := create(root, "ferry-bump-")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(d.Path)
		time.Sleep(time.Minute) // killed long before
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestSweepRemovesOnlyAbandoned(t *testing.T) {
	root := t.TempDir()

	// A process killed with SIGKILL while it held a directory.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SCRATCH_HOLD_IN="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	killed := line[:len(line)-1]
	if err := os.WriteFile(filepath.Join(killed, "clone"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	// While it lives, its directory is in use.
	if removed, err := Sweep(root, "ferry-bump-", time.Now()); err != nil || len(removed) != 0 {
		t.Fatalf("sweep while the holder lives removed %v (%v)", removed, err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	// This process's own directory, another prefix, a lockless directory
	// being created, and a lockless one from long ago.
	mine, err := create(root, "ferry-bump-")
	if err != nil {
		t.Fatal(err)
	}
	other, err := create(root, "ferry-deploy-")
	if err != nil {
		t.Fatal(err)
	}
	_ = other.lock.Close() // abandoned, but not of the swept prefix
	young := filepath.Join(root, "ferry-bump-young")
	old := filepath.Join(root, "ferry-bump-old")
	for _, d := range []string{young, old} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}

	removed, err := Sweep(root, "ferry-bump-", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := []string{old, killed}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	if exists(killed) || exists(killed+lockSuffix) || exists(old) {
		t.Fatal("abandoned directories are still there")
	}
	if !exists(mine.Path) || !exists(young) || !exists(other.Path) {
		t.Fatal("a directory in use, a young one or one of another prefix was removed")
	}
	if err := mine.Close(); err != nil {
		t.Fatal(err)
	}
	if exists(mine.Path) || exists(mine.Path+lockSuffix) {
		t.Fatal("Close left the directory or its lock")
	}
}

// A second lock on the same file from this process is refused too (flock
// locks belong to the open file, not the process), so two cycles of one
// service never sweep each other's clones.
func TestSweepSparesThisProcess(t *testing.T) {
	root := t.TempDir()
	d, err := create(root, "ferry-run-")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if removed, _ := Sweep(root, "ferry-run-", time.Now().Add(time.Hour)); len(removed) != 0 {
		t.Fatalf("removed %v", removed)
	}
}
