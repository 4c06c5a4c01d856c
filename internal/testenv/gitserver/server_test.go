package gitserver_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

// client runs the git CLI as a client, isolated from the user's config.
type client struct {
	t   *testing.T
	env []string
}

func newClient(t *testing.T) *client {
	home := t.TempDir()
	return &client{t: t, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Client", "GIT_AUTHOR_EMAIL=client@example.com",
		"GIT_COMMITTER_NAME=Client", "GIT_COMMITTER_EMAIL=client@example.com",
		"LC_ALL=C",
	}}
}

func (c *client) git(dir string, args ...string) (string, error) {
	c.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *client) must(dir string, args ...string) string {
	c.t.Helper()
	out, err := c.git(dir, args...)
	if err != nil {
		c.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func withUser(t *testing.T, raw, user, pass string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

func TestCreateCloneAndCounters(t *testing.T) {
	srv := gitserver.New(t, gitserver.WithBasicAuth("bot", "tok3n"))
	repoURL := srv.CreateRepo("org/app", map[string]string{"a.txt": "hello\n", "dir/b.yaml": "b: 1\n"})
	if want := srv.URL() + "/org/app.git"; repoURL != want {
		t.Fatalf("CreateRepo URL = %s, want %s", repoURL, want)
	}
	if got := srv.Branches("org/app"); !slices.Equal(got, []string{"main"}) {
		t.Fatalf("Branches = %v", got)
	}
	if got, err := srv.ReadFile("org/app", "main", "dir/b.yaml"); err != nil || got != "b: 1\n" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	if _, err := srv.ReadFile("org/app", "main", "missing"); !errors.Is(err, gitserver.ErrNotFound) {
		t.Fatalf("ReadFile(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := srv.ReadFile("org/app", "nope", "a.txt"); !errors.Is(err, gitserver.ErrNotFound) {
		t.Fatalf("ReadFile(missing branch) error = %v, want ErrNotFound", err)
	}

	// Without credentials: 401 with a challenge, counted nowhere.
	resp, err := http.Get(repoURL + "/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Fatalf("anonymous request: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	c := newClient(t)
	if out, err := c.git("", "ls-remote", withUser(t, repoURL, "bot", "wrong")); err == nil {
		t.Fatalf("ls-remote with a wrong password succeeded: %s", out)
	}

	var seen []string
	var seenMu sync.Mutex
	srv.OnRequest(func(r gitserver.Request) {
		seenMu.Lock()
		defer seenMu.Unlock()
		seen = append(seen, fmt.Sprintf("%s %s %v", r.Repo, r.Service, r.Advertisement))
	})
	authURL := withUser(t, repoURL, "bot", "tok3n")
	out := c.must("", "ls-remote", authURL)
	srv.OnRequest(nil)
	seenMu.Lock()
	if len(seen) == 0 || seen[0] != "org/app git-upload-pack true" {
		t.Fatalf("OnRequest saw %q", seen)
	}
	seenMu.Unlock()
	head, ok := srv.Head("org/app", "main")
	if !ok || !strings.Contains(out, head+"\trefs/heads/main") {
		t.Fatalf("ls-remote = %q, Head = %s %v", out, head, ok)
	}
	if srv.Fetches("org/app") != 0 || srv.Pushes("org/app") != 0 {
		t.Fatalf("ls-remote counted: fetches %d pushes %d", srv.Fetches("org/app"), srv.Pushes("org/app"))
	}

	work := filepath.Join(t.TempDir(), "work")
	c.must("", "clone", "--quiet", authURL, work)
	if got := srv.Fetches("org/app"); got != 1 {
		t.Fatalf("Fetches after clone = %d, want 1", got)
	}
	if got := srv.Pushes("org/app"); got != 0 {
		t.Fatalf("Pushes after clone = %d, want 0", got)
	}
	// A chunked push (http.postBuffer smaller than the pack).
	if err := os.WriteFile(filepath.Join(work, "big.bin"), []byte(strings.Repeat("ferry ", 4000)), 0o644); err != nil {
		t.Fatal(err)
	}
	c.must(work, "add", ".")
	c.must(work, "commit", "--quiet", "-m", "client change")
	c.must(work, "-c", "http.postBuffer=1024", "push", "--quiet", "origin", "HEAD:refs/heads/feature")
	if got := srv.Pushes("org/app"); got != 1 {
		t.Fatalf("Pushes after push = %d, want 1", got)
	}
	want := strings.TrimSpace(c.must(work, "rev-parse", "HEAD"))
	if got, ok := srv.Head("org/app", "feature"); !ok || got != want {
		t.Fatalf("Head(feature) = %s %v, want %s", got, ok, want)
	}
	if got := srv.Branches("org/app.git"); !slices.Equal(got, []string{"feature", "main"}) {
		t.Fatalf("Branches = %v", got)
	}

	// file:// reaches the same repository.
	out = c.must("", "ls-remote", srv.FileURL("org/app"))
	if !strings.Contains(out, want+"\trefs/heads/feature") {
		t.Fatalf("ls-remote file:// = %q", out)
	}
}

func TestCommitHeadAndDeletes(t *testing.T) {
	srv := gitserver.New(t)
	srv.CreateRepo("r", map[string]string{"keep": "1\n", "gone/x": "x\n"})
	h1, _ := srv.Head("r", "main")
	h2 := srv.Commit("r", "main", "human change", map[string]string{"keep": "2\n", "new/y": "y\n"}, "gone/x")
	if got, ok := srv.Head("r", "main"); !ok || got != h2 || h2 == h1 {
		t.Fatalf("Head = %s %v, Commit = %s, before = %s", got, ok, h2, h1)
	}
	if got, _ := srv.ReadFile("r", "main", "keep"); got != "2\n" {
		t.Fatalf("keep = %q", got)
	}
	if _, err := srv.ReadFile("r", "main", "gone/x"); err == nil {
		t.Fatal("deleted file still readable")
	}
	out, err := srv.Git("r", "log", "-1", "--format=%an <%ae>|%cn|%P|%s", "main")
	if err != nil {
		t.Fatal(err)
	}
	if want := gitserver.HumanName + " <" + gitserver.HumanEmail + ">|" + gitserver.HumanName + "|" + h1 + "|human change\n"; out != want {
		t.Fatalf("log = %q, want %q", out, want)
	}
	// A new branch starts at HEAD (main).
	h3 := srv.Commit("r", "topic/one", "on a branch", map[string]string{"t": "t\n"})
	if out, _ := srv.Git("r", "rev-parse", h3+"^"); strings.TrimSpace(out) != h2 {
		t.Fatalf("parent of new branch commit = %q, want %s", out, h2)
	}
	if _, ok := srv.Head("r", "topic"); ok {
		t.Fatal("Head(topic) found a prefix of topic/one")
	}
	if _, ok := srv.Head("nope", "main"); ok {
		t.Fatal("Head of a missing repository")
	}
}

func TestProtect(t *testing.T) {
	srv := gitserver.New(t)
	repoURL := srv.CreateRepo("p", map[string]string{"f": "1\n"})
	srv.Protect("p", "main")
	c := newClient(t)
	work := filepath.Join(t.TempDir(), "w")
	c.must("", "clone", "--quiet", repoURL, work)
	c.must(work, "commit", "--quiet", "--allow-empty", "-m", "x")
	out, err := c.git(work, "push", "origin", "HEAD:main")
	if err == nil || !strings.Contains(out, "GH006: Protected branch update failed for refs/heads/main.") {
		t.Fatalf("push to protected main: err %v, output:\n%s", err, out)
	}
	if got := srv.Pushes("p"); got != 1 {
		t.Fatalf("Pushes = %d, want 1 (rejected pushes count)", got)
	}
	// Other branches and the file transport: the hook applies to both.
	c.must(work, "push", "--quiet", "origin", "HEAD:other")
	if out, err := c.git(work, "push", srv.FileURL("p"), "HEAD:main"); err == nil || !strings.Contains(out, "GH006") {
		t.Fatalf("file:// push to protected main: err %v, output:\n%s", err, out)
	}
	// Humans with admin rights (Commit) still can.
	srv.Commit("p", "main", "admin", map[string]string{"f": "2\n"})
	srv.Unprotect("p", "main")
	c.must(work, "fetch", "--quiet", "origin")
	c.must(work, "push", "--quiet", "--force", "origin", "HEAD:main")
}

func TestMerge(t *testing.T) {
	srv := gitserver.New(t)
	srv.CreateRepo("m", map[string]string{"a": "a\n", "b": "b\n"})
	srv.Protect("m", "main")
	base0, _ := srv.Head("m", "main")
	feat := srv.Commit("m", "feature", "change a", map[string]string{"a": "A\n"})
	srv.Commit("m", "main", "change b", map[string]string{"b": "B\n"})
	merge, err := srv.Merge("m", "main", "feature", "Merge pull request #1 from org/feature")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.Head("m", "main"); got != merge {
		t.Fatalf("main = %s, want merge %s", got, merge)
	}
	out, _ := srv.Git("m", "log", "-1", "--format=%P|%cn <%ce>|%s", merge)
	parents, rest, _ := strings.Cut(strings.TrimSpace(out), "|")
	if p := strings.Fields(parents); len(p) != 2 || p[1] != feat || p[0] == base0 {
		t.Fatalf("merge parents = %v", p)
	}
	if want := gitserver.MergerName + " <" + gitserver.MergerEmail + ">|Merge pull request #1 from org/feature"; rest != want {
		t.Fatalf("merge = %q, want %q", rest, want)
	}
	for f, want := range map[string]string{"a": "A\n", "b": "B\n"} {
		if got, _ := srv.ReadFile("m", "main", f); got != want {
			t.Fatalf("%s = %q, want %q", f, got, want)
		}
	}
	if _, err := srv.Merge("m", "main", "feature", "again"); !errors.Is(err, gitserver.ErrNothingToMerge) {
		t.Fatalf("second merge: %v, want ErrNothingToMerge", err)
	}
	srv.Commit("m", "c1", "c1", map[string]string{"a": "one\n"})
	srv.Commit("m", "main", "c2", map[string]string{"a": "two\n"})
	before, _ := srv.Head("m", "main")
	if _, err := srv.Merge("m", "main", "c1", "conflict"); !errors.Is(err, gitserver.ErrConflict) || !strings.Contains(err.Error(), "a") {
		t.Fatalf("conflicting merge: %v, want ErrConflict naming a", err)
	}
	if after, _ := srv.Head("m", "main"); after != before {
		t.Fatal("a failed merge moved main")
	}
	if _, err := srv.Merge("m", "main", "nope", "x"); !errors.Is(err, gitserver.ErrNotFound) {
		t.Fatalf("merge of a missing branch: %v, want ErrNotFound", err)
	}
	if _, err := srv.Merge("nope", "main", "c1", "x"); !errors.Is(err, gitserver.ErrNotFound) {
		t.Fatalf("merge in a missing repository: %v, want ErrNotFound", err)
	}
}

func TestIsolatedFromUserConfig(t *testing.T) {
	// A hostile global config must not reach the server's git processes.
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".gitconfig"), []byte("[http]\n\treceivepack = false\n[init]\n\tdefaultBranch = trunk\n[core]\n\thooksPath = /nonexistent\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", home)
	srv := gitserver.New(t)
	repoURL := srv.CreateRepo("iso", nil)
	if got := srv.Branches("iso"); !slices.Equal(got, []string{"main"}) {
		t.Fatalf("Branches = %v", got)
	}
	srv.Protect("iso", "main")
	c := newClient(t)
	work := filepath.Join(t.TempDir(), "w")
	c.must("", "clone", "--quiet", repoURL, work)
	c.must(work, "commit", "--quiet", "--allow-empty", "-m", "x")
	c.must(work, "push", "--quiet", "origin", "HEAD:side")
	if out, err := c.git(work, "push", "origin", "HEAD:main"); err == nil || !strings.Contains(out, "GH006") {
		t.Fatalf("hook did not run: %v\n%s", err, out)
	}
}
