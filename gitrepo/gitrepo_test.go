package gitrepo_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"golang.org/x/crypto/ssh"

	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

const (
	user  = "x-access-token"
	token = "ghs_Sup3rS3cretT0kenValue42"
	repo  = "org/manifests"
)

var ctx = context.Background()

var when = time.Date(2026, 3, 14, 15, 9, 26, 0, time.FixedZone("JST", 9*3600))

func ferry(at time.Time) gitrepo.Signature {
	return gitrepo.Signature{Name: "ferry[bot]", Email: "ferry@example.com", When: at}
}

var initialFiles = map[string]string{
	"apps/web/deployment.yaml": "image: web:1.0.0\n",
	"apps/api/deployment.yaml": "image: api:1.0.0\n",
	"README.md":                "# manifests\n",
}

// setup starts a server with basic auth holding repo.
func setup(t *testing.T) *gitserver.Server {
	t.Helper()
	srv := gitserver.New(t, gitserver.WithBasicAuth(user, token))
	srv.CreateRepo(repo, initialFiles)
	return srv
}

func auth() gitrepo.Auth { return gitrepo.Auth{Username: user, Token: token} }

func clone(t *testing.T, rawURL string, a gitrepo.Auth, depth int) *gitrepo.Repo {
	t.Helper()
	r, err := gitrepo.Clone(ctx, rawURL, "main", filepath.Join(t.TempDir(), "clone"), a, depth)
	if err != nil {
		t.Fatalf("Clone: %v", err)
	}
	return r
}

func write(t *testing.T, r *gitrepo.Repo, path, content string) {
	t.Helper()
	p := filepath.Join(r.Dir(), filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, r *gitrepo.Repo, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(r.Dir(), filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func commit(t *testing.T, r *gitrepo.Repo, files []string, msg string, at time.Time) plumbing.Hash {
	t.Helper()
	h, err := r.Commit(ctx, files, msg, ferry(at), nil)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return h
}

func userURL(t *testing.T, raw, user, pass string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

// assertNoSecretOnDisk greps every file under dir/.git for the token.
func assertNoSecretOnDisk(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(dir, ".git"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("%s contains a secret (%.6s...)", p, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var tokenForms = []string{token, base64.StdEncoding.EncodeToString([]byte(user + ":" + token))}

func assertNoToken(t *testing.T, err error) {
	t.Helper()
	for _, s := range tokenForms {
		if strings.Contains(err.Error(), s) || strings.Contains(fmt.Sprintf("%+v", err), s) {
			t.Fatalf("error reveals the token: %v", err)
		}
	}
}

func TestCloneHTTPKeepsCredentialsOffDisk(t *testing.T) {
	srv := setup(t)
	head, _ := srv.Head(repo, "main")
	for name, tc := range map[string]struct {
		url  string
		auth gitrepo.Auth
	}{
		"auth":            {srv.RepoURL(repo), auth()},
		"url credentials": {userURL(t, srv.RepoURL(repo), user, token), gitrepo.Auth{}},
	} {
		t.Run(name, func(t *testing.T) {
			r := clone(t, tc.url, tc.auth, 0)
			if r.BaseHead().String() != head {
				t.Fatalf("BaseHead = %s, want %s", r.BaseHead(), head)
			}
			if r.URL() != srv.RepoURL(repo) {
				t.Fatalf("URL = %s, want %s", r.URL(), srv.RepoURL(repo))
			}
			cfg, err := os.ReadFile(filepath.Join(r.Dir(), ".git", "config"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(cfg), "url = "+srv.RepoURL(repo)+"\n") || strings.Contains(string(cfg), "@") {
				t.Fatalf(".git/config:\n%s", cfg)
			}
			assertNoSecretOnDisk(t, r.Dir(), tokenForms...)
			if got := read(t, r, "apps/web/deployment.yaml"); got != "image: web:1.0.0\n" {
				t.Fatalf("checked out %q", got)
			}
			if shallow, err := r.Shallow(); err != nil || shallow {
				t.Fatalf("Shallow = %v, %v", shallow, err)
			}
			// Later operations authenticate too; RemoteHead fetches nothing.
			fetches := srv.Fetches(repo)
			if h, ok, err := r.RemoteHead(ctx, "main"); err != nil || !ok || h.String() != head {
				t.Fatalf("RemoteHead: %s %v %v", h, ok, err)
			}
			if got := srv.Fetches(repo); got != fetches {
				t.Fatalf("RemoteHead fetched: Fetches %d → %d", fetches, got)
			}
			assertNoSecretOnDisk(t, r.Dir(), tokenForms...)
		})
	}
	if got := srv.Pushes(repo); got != 0 {
		t.Fatalf("Pushes = %d after clones", got)
	}
}

func TestCloneShallow(t *testing.T) {
	srv := setup(t)
	srv.Commit(repo, "main", "second", map[string]string{"x": "x\n"})
	third := srv.Commit(repo, "main", "third", map[string]string{"y": "y\n"})
	for name, rawURL := range map[string]string{"http": srv.RepoURL(repo), "file": srv.FileURL(repo)} {
		t.Run(name, func(t *testing.T) {
			r := clone(t, rawURL, auth(), 1)
			if r.BaseHead().String() != third {
				t.Fatalf("BaseHead = %s, want %s", r.BaseHead(), third)
			}
			if shallow, err := r.Shallow(); err != nil || !shallow {
				t.Fatalf("Shallow = %v, %v", shallow, err)
			}
			info, err := r.CommitInfo(r.BaseHead())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.CommitInfo(info.Parents[0]); err == nil {
				t.Fatal("a depth-1 clone has the parent commit")
			}
		})
	}
}

func TestCloneErrors(t *testing.T) {
	srv := setup(t)
	wrong := "ghs_Wr0ngT0kenValue0000000"
	for name, tc := range map[string]struct {
		url    string
		auth   gitrepo.Auth
		secret string
	}{
		"wrong token":           {srv.RepoURL(repo), gitrepo.Auth{Token: wrong}, wrong},
		"wrong URL token":       {userURL(t, srv.RepoURL(repo), user, wrong), gitrepo.Auth{}, wrong},
		"no credentials":        {srv.RepoURL(repo), gitrepo.Auth{}, ""},
		"missing repository":    {srv.RepoURL("org/nope"), auth(), token},
		"URL token, wrong repo": {userURL(t, srv.RepoURL("org/nope"), user, token), gitrepo.Auth{}, token},
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "c")
			_, err := gitrepo.Clone(ctx, tc.url, "main", dir, tc.auth, 1)
			if err == nil {
				t.Fatal("Clone succeeded")
			}
			t.Log(err)
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Fatalf("error reveals the token: %v", err)
			}
			if strings.Contains(err.Error(), "@") {
				t.Fatalf("error has a URL with userinfo: %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("failed clone left %s behind (%v)", dir, err)
			}
		})
	}

	if _, err := gitrepo.Clone(ctx, srv.RepoURL(repo), "nope", filepath.Join(t.TempDir(), "c"), auth(), 0); !errors.Is(err, gitrepo.ErrBranchNotFound) {
		t.Fatalf("Clone of a missing branch: %v, want ErrBranchNotFound", err)
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := gitrepo.Clone(ctx, srv.RepoURL(repo), "main", full, auth(), 0); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Clone into a non-empty directory: %v", err)
	}
	// An existing empty directory is fine.
	if _, err := gitrepo.Clone(ctx, srv.RepoURL(repo), "main", t.TempDir(), auth(), 0); err != nil {
		t.Fatalf("Clone into an empty directory: %v", err)
	}
}

func TestAuthRedaction(t *testing.T) {
	a := gitrepo.Auth{Username: "bot", Token: token, SSHKeyFile: "/keys/id", SSHKeyPassphrase: "pass-phrase-9"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("auth", "auth", a, "ptr", &a)
	for _, s := range []string{
		fmt.Sprint(a), fmt.Sprintf("%v %+v %#v %s %q", a, a, a, a, a), fmt.Sprintf("%v %+v %#v", &a, &a, &a),
		a.String(), a.GoString(), logged.String(),
	} {
		if strings.Contains(s, token) || strings.Contains(s, "pass-phrase-9") {
			t.Fatalf("secret revealed: %s", s)
		}
		if !strings.Contains(s, "bot") || !strings.Contains(s, "/keys/id") {
			t.Fatalf("non-secret fields missing: %s", s)
		}
	}
	if s := fmt.Sprint(gitrepo.Auth{}); strings.Contains(s, "redacted") {
		t.Fatalf("empty secrets shown as redacted: %s", s)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://x-access-token:tok@github.com/org/r.git": "https://github.com/org/r.git",
		"https://tok@github.com/org/r.git":                "https://github.com/org/r.git",
		"http://u:p%zz@host/r.git":                        "http://host/r.git",
		"ssh://git:secret@github.com/org/r.git":           "ssh://git@github.com/org/r.git",
		"ssh://git@github.com/org/r.git":                  "ssh://git@github.com/org/r.git",
		"git@github.com:org/r.git":                        "git@github.com:org/r.git",
		"user:pass@host:r.git":                            "user@host:r.git",
		"file:///tmp/r.git":                               "file:///tmp/r.git",
		"/tmp/r.git":                                      "/tmp/r.git",
	} {
		if got := gitrepo.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCommit(t *testing.T) {
	srv := setup(t)
	r := clone(t, srv.FileURL(repo), gitrepo.Auth{}, 0)
	base := r.BaseHead()

	if _, err := r.Commit(ctx, []string{"apps/web/deployment.yaml"}, "nothing", ferry(when), nil); !errors.Is(err, gitrepo.ErrNoChanges) {
		t.Fatalf("Commit without changes: %v, want ErrNoChanges", err)
	}

	write(t, r, "apps/web/deployment.yaml", "image: web:1.1.0\n")
	write(t, r, "apps/new/x/y.yaml", "new: true\n")
	write(t, r, "unrelated.txt", "not committed\n")
	if err := os.Remove(filepath.Join(r.Dir(), "README.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(r.Dir(), "apps/new/x/y.yaml"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The index is irrelevant, and left alone.
	if out, err := gitCLI(t, r.Dir(), nil, "add", "unrelated.txt"); err != nil {
		t.Fatalf("git add: %v\n%s", err, out)
	}
	files := []string{"apps/web/deployment.yaml", "apps/new/x/y.yaml", "README.md", "apps/missing.yaml"}
	h1 := commit(t, r, files, "ferry: update web", when)
	if out, err := gitCLI(t, r.Dir(), nil, "diff", "--cached", "--name-only"); err != nil || out != "unrelated.txt\n" {
		t.Fatalf("index after Commit: %q, %v", out, err)
	}
	h2 := commit(t, r, files, "ferry: update web", when)
	if h1 != h2 {
		t.Fatalf("same inputs, different commits: %s, %s", h1, h2)
	}
	// The message gets its newline either way; the clock is irrelevant,
	// only When is (to the second).
	if h := commit(t, r, files, "ferry: update web\n", when.Add(999*time.Millisecond)); h != h1 {
		t.Fatalf("equivalent inputs, different commits: %s, %s", h, h1)
	}
	if h := commit(t, r, files, "ferry: update web", when.Add(time.Second)); h == h1 {
		t.Fatal("a different time made the same commit")
	}
	if h := commit(t, r, files[:1], "ferry: update web", when); h == h1 {
		t.Fatal("different files made the same commit")
	}
	if r.BaseHead() != base {
		t.Fatal("Commit moved BaseHead")
	}

	info, err := r.CommitInfo(h1)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Parents) != 1 || info.Parents[0] != base || info.Message != "ferry: update web\n" ||
		info.Author != info.Committer || info.Author.Name != "ferry[bot]" || !info.Author.When.Equal(when) {
		t.Fatalf("CommitInfo = %+v", info)
	}
	if _, offset := info.Author.When.Zone(); offset != 9*3600 {
		t.Fatalf("time zone lost: %v", info.Author.When)
	}
	for path, want := range map[string]string{
		"apps/web/deployment.yaml": "image: web:1.1.0\n",
		"apps/api/deployment.yaml": "image: api:1.0.0\n",
		"apps/new/x/y.yaml":        "new: true\n",
	} {
		got, err := r.ReadFileAt(h1, path)
		if err != nil || string(got) != want {
			t.Fatalf("ReadFileAt(%s) = %q, %v; want %q", path, got, err, want)
		}
	}
	for _, gone := range []string{"README.md", "unrelated.txt", "apps/missing.yaml"} {
		if _, err := r.ReadFileAt(h1, gone); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("ReadFileAt(%s): %v, want fs.ErrNotExist", gone, err)
		}
	}
	// The working tree is as the caller left it.
	if got := read(t, r, "apps/web/deployment.yaml"); got != "image: web:1.1.0\n" {
		t.Fatalf("working tree changed: %q", got)
	}
	if got := read(t, r, "unrelated.txt"); got != "not committed\n" {
		t.Fatalf("working tree changed: %q", got)
	}

	// git itself agrees with the objects: push, then fsck and inspect with
	// the git CLI on the server.
	if err := r.Push(ctx, h1, "ferry/web", gitrepo.Lease{MustNotExist: true}); err != nil {
		t.Fatal(err)
	}
	if out, err := srv.Git(repo, "fsck", "--strict", "--no-dangling"); err != nil {
		t.Fatalf("git fsck: %v\n%s", err, out)
	}
	out, err := srv.Git(repo, "ls-tree", "-r", "ferry/web")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "100755 blob") || !strings.Contains(out, "apps/new/x/y.yaml") || strings.Contains(out, "README.md") {
		t.Fatalf("ls-tree:\n%s", out)
	}
	out, _ = srv.Git(repo, "log", "-1", "--format=%an <%ae>|%ai|%P", "ferry/web")
	if want := "ferry[bot] <ferry@example.com>|2026-03-14 15:09:26 +0900|" + base.String() + "\n"; out != want {
		t.Fatalf("git log = %q, want %q", out, want)
	}

	// Invalid input.
	for _, bad := range []string{"../x", "/etc/passwd", ".git/config", "a//b", "./a", ""} {
		if _, err := r.Commit(ctx, []string{bad}, "m", ferry(when), nil); err == nil {
			t.Errorf("Commit(%q) succeeded", bad)
		}
	}
	if _, err := r.Commit(ctx, files, "m", gitrepo.Signature{Name: "n", Email: "e"}, nil); err == nil {
		t.Error("Commit without a time succeeded")
	}
	if err := os.Symlink("/etc", filepath.Join(r.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, []string{"link/passwd"}, "m", ferry(when), nil); err == nil {
		t.Error("Commit through a symlink succeeded")
	}
	// The symlink itself is committed as a symlink.
	hl := commit(t, r, []string{"link"}, "link", when)
	if got, err := r.ReadFileAt(hl, "link"); err != nil || string(got) != "/etc" {
		t.Fatalf("symlink blob = %q, %v", got, err)
	}
}

func TestCommitRemovingEverything(t *testing.T) {
	srv := gitserver.New(t)
	srv.CreateRepo("one", map[string]string{"only": "x\n"})
	r := clone(t, srv.FileURL("one"), gitrepo.Auth{}, 0)
	if err := os.Remove(filepath.Join(r.Dir(), "only")); err != nil {
		t.Fatal(err)
	}
	h := commit(t, r, []string{"only"}, "empty", when)
	if err := r.Push(ctx, h, "empty", gitrepo.Lease{MustNotExist: true}); err != nil {
		t.Fatal(err)
	}
	if out, err := srv.Git("one", "ls-tree", "empty"); err != nil || out != "" {
		t.Fatalf("ls-tree = %q, %v", out, err)
	}
}

// TestPushLeases walks through Ferry's life on a bot branch.
func TestPushLeases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  bool
		depth int
	}{
		{"http", false, 0},
		{"http shallow", false, 1},
		{"file shallow", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := setup(t)
			rawURL := srv.RepoURL(repo)
			if tc.file {
				rawURL = srv.FileURL(repo)
			}
			pushes := func(want int) {
				t.Helper()
				if !tc.file {
					if got := srv.Pushes(repo); got != want {
						t.Fatalf("Pushes = %d, want %d", got, want)
					}
				}
			}
			const bot = "ferry/web"
			r := clone(t, rawURL, auth(), tc.depth)
			fetches := srv.Fetches(repo)

			if _, ok, err := r.RemoteHead(ctx, bot); err != nil || ok {
				t.Fatalf("RemoteHead(%s) before push: %v %v", bot, ok, err)
			}
			write(t, r, "apps/web/deployment.yaml", "image: web:1.1.0\n")
			c1 := commit(t, r, []string{"apps/web/deployment.yaml"}, "ferry: web 1.1.0", when)

			// Create.
			if err := r.Push(ctx, c1, bot, gitrepo.Lease{MustNotExist: true}); err != nil {
				t.Fatal(err)
			}
			if h, _ := srv.Head(repo, bot); h != c1.String() {
				t.Fatalf("remote %s = %s, want %s", bot, h, c1)
			}
			pushes(1)
			// Again: nothing to write.
			if err := r.Push(ctx, c1, bot, gitrepo.Lease{MustNotExist: true}); err != nil {
				t.Fatalf("repeated push: %v", err)
			}
			pushes(1)
			if h, ok, err := r.RemoteHead(ctx, bot); err != nil || !ok || h != c1 {
				t.Fatalf("RemoteHead = %s %v %v", h, ok, err)
			}

			// Force-update with the right lease: a new commit on the base,
			// not on top of c1.
			write(t, r, "apps/web/deployment.yaml", "image: web:1.2.0\n")
			c2 := commit(t, r, []string{"apps/web/deployment.yaml"}, "ferry: web 1.2.0", when)
			if err := r.Push(ctx, c2, bot, gitrepo.Lease{MustNotExist: true}); !errors.Is(err, gitrepo.ErrLeaseBroken) {
				t.Fatalf("create over an existing branch: %v, want ErrLeaseBroken", err)
			}
			pushes(1)
			if err := r.Push(ctx, c2, bot, gitrepo.Lease{Expect: c1}); err != nil {
				t.Fatal(err)
			}
			if h, _ := srv.Head(repo, bot); h != c2.String() {
				t.Fatalf("remote %s = %s, want %s", bot, h, c2)
			}
			pushes(2)

			// A human pushes to the bot branch: the lease breaks and their
			// commit survives.
			human := srv.Commit(repo, bot, "human fix", map[string]string{"apps/web/deployment.yaml": "image: web:1.2.1\n"})
			write(t, r, "apps/web/deployment.yaml", "image: web:1.3.0\n")
			c3 := commit(t, r, []string{"apps/web/deployment.yaml"}, "ferry: web 1.3.0", when)
			err := r.Push(ctx, c3, bot, gitrepo.Lease{Expect: c2})
			if !errors.Is(err, gitrepo.ErrLeaseBroken) {
				t.Fatalf("push over a human's commit: %v, want ErrLeaseBroken", err)
			}
			t.Log(err)
			assertNoToken(t, err)
			if h, _ := srv.Head(repo, bot); h != human {
				t.Fatalf("remote %s = %s, want the human's %s", bot, h, human)
			}
			pushes(2)

			// Ferry can look at what the human did.
			got, err := r.FetchBranch(ctx, bot)
			if err != nil || got.String() != human {
				t.Fatalf("FetchBranch = %s, %v; want %s", got, err, human)
			}
			if content, err := r.ReadFileAt(got, "apps/web/deployment.yaml"); err != nil || string(content) != "image: web:1.2.1\n" {
				t.Fatalf("ReadFileAt(human) = %q, %v", content, err)
			}
			info, err := r.CommitInfo(got)
			if err != nil || info.Author.Name != gitserver.HumanName {
				t.Fatalf("CommitInfo(human) = %+v, %v", info, err)
			}
			if _, err := r.FetchBranch(ctx, "nope"); !errors.Is(err, gitrepo.ErrBranchNotFound) {
				t.Fatalf("FetchBranch(nope): %v, want ErrBranchNotFound", err)
			}
			// Taking the branch over deliberately, with the lease Ferry
			// just observed.
			if err := r.Push(ctx, c3, bot, gitrepo.Lease{Expect: got}); err != nil {
				t.Fatal(err)
			}
			pushes(3)
			if h, _ := srv.Head(repo, bot); h != c3.String() {
				t.Fatalf("remote %s = %s, want %s", bot, h, c3)
			}
			// A deleted branch breaks an Expect lease too.
			if _, err := srv.Git(repo, "update-ref", "-d", "refs/heads/"+bot); err != nil {
				t.Fatal(err)
			}
			if err := r.Push(ctx, c2, bot, gitrepo.Lease{Expect: c3}); !errors.Is(err, gitrepo.ErrLeaseBroken) {
				t.Fatalf("push to a deleted branch: %v, want ErrLeaseBroken", err)
			}
			pushes(3)
			if !tc.file && srv.Fetches(repo) == fetches {
				t.Fatal("FetchBranch did not fetch")
			}

			// Invalid calls.
			if err := r.Push(ctx, c3, bot, gitrepo.Lease{}); err == nil {
				t.Fatal("Push with an empty lease succeeded")
			}
			if err := r.Push(ctx, c3, bot, gitrepo.Lease{MustNotExist: true, FastForward: true}); err == nil {
				t.Fatal("Push with two leases succeeded")
			}
			if err := r.Push(ctx, c3, "main", gitrepo.Lease{Expect: r.BaseHead()}); err == nil {
				t.Fatal("an Expect lease on the base branch succeeded")
			}
			pushes(3)
			if out, err := srv.Git(repo, "fsck", "--strict", "--no-dangling"); err != nil {
				t.Fatalf("git fsck: %v\n%s", err, out)
			}
		})
	}
}

func TestPushToProtectedBase(t *testing.T) {
	srv := setup(t)
	srv.Protect(repo, "main")
	before, _ := srv.Head(repo, "main")
	r := clone(t, srv.RepoURL(repo), auth(), 1)
	write(t, r, "apps/web/deployment.yaml", "image: web:9.9.9\n")
	c := commit(t, r, []string{"apps/web/deployment.yaml"}, "direct", when)
	err := r.Push(ctx, c, "main", gitrepo.Lease{FastForward: true})
	if !errors.Is(err, gitrepo.ErrRejected) {
		t.Fatalf("push to a protected branch: %v, want ErrRejected", err)
	}
	if !strings.Contains(err.Error(), "GH006: Protected branch update failed for refs/heads/main.") {
		t.Fatalf("error lacks the server's message: %v", err)
	}
	t.Log(err)
	assertNoToken(t, err)
	if errors.Is(err, gitrepo.ErrNonFastForward) || errors.Is(err, gitrepo.ErrLeaseBroken) {
		t.Fatalf("rejection classified as a lease problem: %v", err)
	}
	if h, _ := srv.Head(repo, "main"); h != before {
		t.Fatal("protected main moved")
	}
	if got := srv.Pushes(repo); got != 1 {
		t.Fatalf("Pushes = %d, want 1", got)
	}
	// Bot branches are not protected.
	if err := r.Push(ctx, c, "ferry/web", gitrepo.Lease{MustNotExist: true}); err != nil {
		t.Fatal(err)
	}
}

func TestFastForwardAfterBaseMoved(t *testing.T) {
	for name, depth := range map[string]int{"full": 0, "shallow": 1} {
		t.Run(name, func(t *testing.T) {
			srv := setup(t)
			r := clone(t, srv.RepoURL(repo), auth(), depth)

			// A plain fast-forward push to the base.
			write(t, r, "apps/api/deployment.yaml", "image: api:1.0.1\n")
			c0 := commit(t, r, []string{"apps/api/deployment.yaml"}, "api 1.0.1", when)
			if err := r.Push(ctx, c0, "main", gitrepo.Lease{FastForward: true}); err != nil {
				t.Fatal(err)
			}
			if h, _ := srv.Head(repo, "main"); h != c0.String() {
				t.Fatalf("main = %s, want %s", h, c0)
			}
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if r.BaseHead() != c0 {
				t.Fatalf("BaseHead = %s after Refresh, want %s", r.BaseHead(), c0)
			}

			// The base moves under Ferry.
			human := srv.Commit(repo, "main", "human", map[string]string{"README.md": "# changed by a human\n"})
			write(t, r, "apps/web/deployment.yaml", "image: web:2.0.0\n")
			write(t, r, "stray/file.txt", "left over\n")
			c1 := commit(t, r, []string{"apps/web/deployment.yaml"}, "web 2.0.0", when)
			pushesBefore := srv.Pushes(repo)
			err := r.Push(ctx, c1, "main", gitrepo.Lease{FastForward: true})
			if !errors.Is(err, gitrepo.ErrNonFastForward) {
				t.Fatalf("push after the base moved: %v, want ErrNonFastForward", err)
			}
			t.Log(err)
			if got := srv.Pushes(repo); got != pushesBefore {
				t.Fatalf("a doomed push was attempted: Pushes %d → %d", pushesBefore, got)
			}
			if h, _ := srv.Head(repo, "main"); h != human {
				t.Fatal("main lost the human's commit")
			}

			// Retry: refresh, redo the change, commit, push.
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if r.BaseHead().String() != human {
				t.Fatalf("BaseHead = %s after Refresh, want %s", r.BaseHead(), human)
			}
			if got := read(t, r, "README.md"); got != "# changed by a human\n" {
				t.Fatalf("README.md = %q after Refresh", got)
			}
			if got := read(t, r, "apps/web/deployment.yaml"); got != "image: web:1.0.0\n" {
				t.Fatalf("deployment.yaml = %q after Refresh, want the base's", got)
			}
			if _, err := os.Stat(filepath.Join(r.Dir(), "stray")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Refresh left untracked files: %v", err)
			}
			write(t, r, "apps/web/deployment.yaml", "image: web:2.0.0\n")
			c2 := commit(t, r, []string{"apps/web/deployment.yaml"}, "web 2.0.0", when)
			if err := r.Push(ctx, c2, "main", gitrepo.Lease{FastForward: true}); err != nil {
				t.Fatal(err)
			}
			if h, _ := srv.Head(repo, "main"); h != c2.String() {
				t.Fatalf("main = %s, want %s", h, c2)
			}
			if got, _ := srv.ReadFile(repo, "main", "README.md"); got != "# changed by a human\n" {
				t.Fatal("the human's change was lost")
			}
			if out, err := srv.Git(repo, "fsck", "--strict", "--no-dangling"); err != nil {
				t.Fatalf("git fsck: %v\n%s", err, out)
			}
		})
	}
}

func TestFileHistory(t *testing.T) {
	srv := setup(t)
	const f = "apps/web/deployment.yaml"
	v1, _ := srv.Head(repo, "main")
	srv.Commit(repo, "main", "unrelated", map[string]string{"apps/api/deployment.yaml": "image: api:2\n"})
	v2 := srv.Commit(repo, "main", "web 2", map[string]string{f: "image: web:2\n"})
	srv.Commit(repo, "ferry/web", "ferry: web 3", map[string]string{f: "image: web:3\n"})
	srv.Commit(repo, "main", "unrelated 2", map[string]string{"README.md": "x\n"})
	v3, err := srv.Merge(repo, "main", "ferry/web", "Merge pull request #7 from org/ferry/web")
	if err != nil {
		t.Fatal(err)
	}
	v4 := srv.Commit(repo, "main", "rollback web", map[string]string{f: "image: web:2\n"})
	v5 := srv.Commit(repo, "main", "remove web", nil, f)
	srv.Commit(repo, "main", "unrelated 3", map[string]string{"README.md": "y\n"})

	type want struct {
		commit, content string
		deleted         bool
	}
	all := []want{{v5, "", true}, {v4, "image: web:2\n", false}, {v3, "image: web:3\n", false}, {v2, "image: web:2\n", false}, {v1, "image: web:1.0.0\n", false}}
	check := func(t *testing.T, got []gitrepo.FileVersion, want []want) {
		t.Helper()
		if len(got) != len(want) {
			var hs []string
			for _, v := range got {
				hs = append(hs, v.Commit.String()[:8]+" "+strings.TrimSpace(v.Message))
			}
			t.Fatalf("got %d versions %v, want %d", len(got), hs, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.Commit.String() != w.commit || string(g.Content) != w.content || g.Deleted != w.deleted {
				t.Fatalf("version %d = %s %q deleted=%v, want %s %q deleted=%v", i, g.Commit, g.Content, g.Deleted, w.commit, w.content, w.deleted)
			}
			if g.When.IsZero() || !g.When.Equal(g.Committer.When) || g.Author.Name != gitserver.HumanName {
				t.Fatalf("version %d metadata: %+v", i, g)
			}
		}
	}

	full := clone(t, srv.RepoURL(repo), auth(), 0)
	got, truncated, err := full.FileHistory(ctx, f, 0)
	if err != nil || truncated {
		t.Fatalf("FileHistory: truncated=%v err=%v", truncated, err)
	}
	check(t, got, all)
	if got[2].Committer.Name != gitserver.MergerName || !strings.HasPrefix(got[2].Message, "Merge pull request #7") {
		t.Fatalf("merged version: %+v", got[2])
	}
	got, truncated, err = full.FileHistory(ctx, f, 2)
	if err != nil || truncated {
		t.Fatalf("FileHistory(limit 2): truncated=%v err=%v", truncated, err)
	}
	check(t, got, all[:2])
	if got, truncated, err := full.FileHistory(ctx, "never/existed.yaml", 0); err != nil || truncated || len(got) != 0 {
		t.Fatalf("FileHistory(missing) = %v %v %v", got, truncated, err)
	}

	// Shallow: what is there, and a flag; Deepen brings the rest.
	// Depth 3 holds "unrelated 3", v5 and v4, whose parent is missing:
	// whether v4 changed the file is unknown.
	shallow := clone(t, srv.RepoURL(repo), auth(), 3)
	got, truncated, err = shallow.FileHistory(ctx, f, 0)
	if err != nil || !truncated {
		t.Fatalf("shallow FileHistory: truncated=%v err=%v", truncated, err)
	}
	check(t, got, all[:1])
	if err := shallow.Deepen(ctx, 5); err != nil {
		t.Fatal(err)
	}
	got, truncated, err = shallow.FileHistory(ctx, f, 0)
	if err != nil || !truncated {
		t.Fatalf("FileHistory after Deepen(5): truncated=%v err=%v", truncated, err)
	}
	check(t, got, all[:3])
	if err := shallow.Deepen(ctx, 0); err != nil {
		t.Fatal(err)
	}
	got, truncated, err = shallow.FileHistory(ctx, f, 0)
	if err != nil || truncated {
		t.Fatalf("FileHistory after Deepen(0): truncated=%v err=%v", truncated, err)
	}
	check(t, got, all)
	if s, err := shallow.Shallow(); err != nil || s {
		t.Fatalf("Shallow after Deepen(0) = %v, %v", s, err)
	}
	// The deepened clone still works for Ferry's job.
	write(t, shallow, "apps/api/deployment.yaml", "image: api:3\n")
	c := commit(t, shallow, []string{"apps/api/deployment.yaml"}, "api 3", when)
	if err := shallow.Push(ctx, c, "ferry/api", gitrepo.Lease{MustNotExist: true}); err != nil {
		t.Fatal(err)
	}
}

func TestPushErrorsHideToken(t *testing.T) {
	srv := setup(t)
	r := clone(t, userURL(t, srv.RepoURL(repo), user, token), gitrepo.Auth{}, 1)
	write(t, r, "README.md", "changed\n")
	c := commit(t, r, []string{"README.md"}, "x", when)
	srv.Protect(repo, "ferry/x")
	err := r.Push(ctx, c, "ferry/x", gitrepo.Lease{MustNotExist: true})
	if !errors.Is(err, gitrepo.ErrRejected) {
		t.Fatalf("push: %v, want ErrRejected", err)
	}
	assertNoToken(t, err)
	if strings.Contains(err.Error(), "@") {
		t.Fatalf("error has userinfo: %v", err)
	}
	// A server message quoting the token is scrubbed too.
	hook := "#!/bin/sh\necho \"denied: token " + token + " may not push\" >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(srv.Path(repo), "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	err = r.Push(ctx, c, "ferry/y", gitrepo.Lease{MustNotExist: true})
	if !errors.Is(err, gitrepo.ErrRejected) || !strings.Contains(err.Error(), "denied: token <redacted> may not push") {
		t.Fatalf("push: %v, want ErrRejected with the scrubbed message", err)
	}
	assertNoToken(t, err)
}

// TestPushRaces moves the branch after Push checked its lease: between
// Push's listing and go-git's ref advertisement (go-git's ForceWithLease
// catches it), and between the advertisement and the update (the server's
// compare-and-swap on the old value catches it).
func TestPushRaces(t *testing.T) {
	for _, tc := range []struct {
		name          string
		advertisement bool // move on the receive-pack advertisement, else on the POST
		branch        string
		lease         func(old plumbing.Hash) gitrepo.Lease
		want          error
	}{
		{"lease/advertisement", true, "ferry/web", func(old plumbing.Hash) gitrepo.Lease { return gitrepo.Lease{Expect: old} }, gitrepo.ErrLeaseBroken},
		{"lease/update", false, "ferry/web", func(old plumbing.Hash) gitrepo.Lease { return gitrepo.Lease{Expect: old} }, gitrepo.ErrLeaseBroken},
		{"create/advertisement", true, "ferry/new", func(plumbing.Hash) gitrepo.Lease { return gitrepo.Lease{MustNotExist: true} }, gitrepo.ErrLeaseBroken},
		{"create/update", false, "ferry/new", func(plumbing.Hash) gitrepo.Lease { return gitrepo.Lease{MustNotExist: true} }, gitrepo.ErrLeaseBroken},
		{"fast-forward/advertisement", true, "main", func(plumbing.Hash) gitrepo.Lease { return gitrepo.Lease{FastForward: true} }, gitrepo.ErrNonFastForward},
		{"fast-forward/update", false, "main", func(plumbing.Hash) gitrepo.Lease { return gitrepo.Lease{FastForward: true} }, gitrepo.ErrNonFastForward},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := setup(t)
			r := clone(t, srv.RepoURL(repo), auth(), 1)
			write(t, r, "apps/web/deployment.yaml", "image: web:1.1.0\n")
			c1 := commit(t, r, []string{"apps/web/deployment.yaml"}, "ferry: web 1.1.0", when)
			old := plumbing.ZeroHash
			if tc.branch == "ferry/web" {
				if err := r.Push(ctx, c1, tc.branch, gitrepo.Lease{MustNotExist: true}); err != nil {
					t.Fatal(err)
				}
				old = c1
			}
			// The human's commit, on a side branch until the race.
			human := srv.Commit(repo, "side", "human", map[string]string{"README.md": "human\n"})
			var moved atomic.Bool
			srv.OnRequest(func(req gitserver.Request) {
				if req.Service == "git-receive-pack" && req.Advertisement == tc.advertisement && moved.CompareAndSwap(false, true) {
					if out, err := srv.Git(repo, "update-ref", "refs/heads/"+tc.branch, human); err != nil {
						t.Errorf("update-ref: %v\n%s", err, out)
					}
				}
			})
			write(t, r, "apps/web/deployment.yaml", "image: web:1.2.0\n")
			c2 := commit(t, r, []string{"apps/web/deployment.yaml"}, "ferry: web 1.2.0", when)
			err := r.Push(ctx, c2, tc.branch, tc.lease(old))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Push: %v, want %v", err, tc.want)
			}
			t.Log(err)
			if !moved.Load() {
				t.Fatal("the race did not happen")
			}
			if h, _ := srv.Head(repo, tc.branch); h != human {
				t.Fatalf("%s = %s, want the human's %s", tc.branch, h, human)
			}
		})
	}
}

func TestSSHAuth(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const passphrase = "ssh-Passphrase-Value-1"
	block, err := ssh.MarshalPrivateKeyWithPassphrase(key, "ferry", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	// Nothing listens on port 1: the key loads, the connection fails, and
	// neither the URL's password nor the passphrase shows.
	a := gitrepo.Auth{SSHKeyFile: keyFile, SSHKeyPassphrase: passphrase, InsecureIgnoreHostKey: true}
	_, err = gitrepo.Clone(ctx, "ssh://git:url-Password-2@127.0.0.1:1/org/r.git", "main", filepath.Join(t.TempDir(), "c"), a, 1)
	if err == nil {
		t.Fatal("Clone succeeded")
	}
	t.Log(err)
	if strings.Contains(err.Error(), passphrase) || strings.Contains(err.Error(), "url-Password-2") {
		t.Fatalf("error reveals a secret: %v", err)
	}
	if !strings.Contains(err.Error(), "ssh://git@127.0.0.1:1/org/r.git") {
		t.Fatalf("error lacks the redacted URL: %v", err)
	}
	a.SSHKeyPassphrase = "wrong-Passphrase-3"
	if _, err := gitrepo.Clone(ctx, "git@127.0.0.1:org/r.git", "main", filepath.Join(t.TempDir(), "c"), a, 1); err == nil ||
		!strings.Contains(err.Error(), "SSH key") || strings.Contains(err.Error(), "wrong-Passphrase-3") {
		t.Fatalf("Clone with a wrong passphrase: %v", err)
	}
	block, err = ssh.MarshalPrivateKey(key, "ferry")
	if err != nil {
		t.Fatal(err)
	}
	plainKey := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(plainKey, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	a = gitrepo.Auth{SSHKeyFile: plainKey, SSHKnownHostsFile: filepath.Join(t.TempDir(), "missing")}
	if _, err := gitrepo.Clone(ctx, "git@127.0.0.1:org/r.git", "main", filepath.Join(t.TempDir(), "c"), a, 1); err == nil ||
		!strings.Contains(err.Error(), "known hosts") {
		t.Fatalf("Clone with a missing known_hosts: %v", err)
	}
}
