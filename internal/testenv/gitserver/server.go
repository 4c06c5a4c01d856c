package gitserver

import (
	"bytes"
	"compress/gzip"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// DefaultBranch is the branch CreateRepo commits to and the repositories'
// HEAD.
const DefaultBranch = "main"

// The identities of the commits the server writes.
const (
	HumanName   = "Hannah Human"
	HumanEmail  = "hannah@example.com"
	MergerName  = "GitHub"
	MergerEmail = "noreply@github.com"
)

// Errors of Merge, ReadFile and Git; test them with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrConflict       = errors.New("merge conflict")
	ErrNothingToMerge = errors.New("nothing to merge")
)

// minGit is the oldest git the server supports (git merge-tree --write-tree).
var minGit = [2]int{2, 38}

// maxBufferedBody bounds a chunked request body the server buffers for CGI.
const maxBufferedBody = 256 << 20

// Option configures a Server.
type Option func(*Server)

// WithBasicAuth makes every request need HTTP basic authentication with
// these credentials; others get 401 with a WWW-Authenticate challenge.
func WithBasicAuth(username, password string) Option {
	return func(s *Server) { s.username, s.password, s.auth = username, password, true }
}

// WithAuthFunc makes every request need HTTP basic authentication that
// valid accepts (for example githubapi.Server.ValidGitCredentials, so that
// tokens a GitHub emulator mints authenticate git too).
func WithAuthFunc(valid func(username, password string) bool) Option {
	return func(s *Server) { s.authFunc, s.auth = valid, true }
}

// Server is a running git server. See the package documentation.
type Server struct {
	t        testing.TB
	authFunc func(username, password string) bool
	http     *httptest.Server
	backend  http.Handler
	root     string // GIT_PROJECT_ROOT: the bare repositories
	scratch  string // temporary files of Commit
	env      []string
	auth     bool
	username string
	password string
	log      *testLog

	writeMu sync.Mutex // serializes writes to repositories

	mu        sync.Mutex
	pushes    map[string]int
	fetches   map[string]int
	onRequest func(Request)
}

// Request is a git request the server is about to serve, for OnRequest.
type Request struct {
	Repo string // the repository's name, as given to CreateRepo
	// Service is "git-upload-pack" (fetch, clone, ls-remote) or
	// "git-receive-pack" (push).
	Service string
	// Advertisement: GET .../info/refs?service=..., the ref listing that
	// starts every fetch and push; else the POST carrying the fetch or push.
	Advertisement bool
	HTTP          *http.Request
}

// Required reports whether a missing git must fail the test rather than
// skip it: CI=true or FERRY_REQUIRE_SERVERS=1.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("FERRY_REQUIRE_SERVERS") == "1"
}

// New starts a server on 127.0.0.1 and stops it, removing every repository,
// when the test ends. It skips the test (or fails it, see Required) when git
// or git-http-backend is missing or too old.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	backend, err := findBackend()
	if err != nil {
		if Required() {
			t.Fatalf("gitserver: %v: run `make test-deps` (apt-get install git)", err)
		}
		t.Skipf("gitserver: %v; skipping (apt-get install git)", err)
	}

	base := t.TempDir()
	s := &Server{
		t:       t,
		root:    filepath.Join(base, "repos"),
		scratch: filepath.Join(base, "tmp"),
		pushes:  map[string]int{},
		fetches: map[string]int{},
		log:     &testLog{t: t},
	}
	for _, o := range opts {
		o(s)
	}
	home := filepath.Join(base, "home")
	for _, d := range []string{s.root, s.scratch, home, filepath.Join(home, ".config")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("gitserver: %v", err)
		}
	}
	globalConfig := filepath.Join(home, ".gitconfig")
	if err := os.WriteFile(globalConfig, nil, 0o644); err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	s.env = []string{
		"PATH=" + path,
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + globalConfig,
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"TMPDIR=" + s.scratch,
	}
	s.backend = &cgi.Handler{
		Path: backend,
		Root: "/",
		Dir:  s.root,
		Env: append(slices.Clone(s.env),
			"GIT_PROJECT_ROOT="+s.root,
			"GIT_HTTP_EXPORT_ALL=1",
		),
		Stderr: s.log,
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(func() {
		s.http.Close()
		s.log.close()
	})
	return s
}

// findBackend returns the path of git-http-backend, or why it cannot be
// used.
func findBackend() (string, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return "", errors.New("git not found on PATH")
	}
	out, err := exec.Command("git", "version").Output()
	if err != nil {
		return "", fmt.Errorf("git version: %v", err)
	}
	if m := regexp.MustCompile(`(\d+)\.(\d+)`).FindStringSubmatch(string(out)); m != nil {
		major, _ := strconv.Atoi(m[1])
		minor, _ := strconv.Atoi(m[2])
		if major < minGit[0] || major == minGit[0] && minor < minGit[1] {
			return "", fmt.Errorf("%s is older than git %d.%d", strings.TrimSpace(string(out)), minGit[0], minGit[1])
		}
	}
	out, err = exec.Command("git", "--exec-path").Output()
	if err != nil {
		return "", fmt.Errorf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return "", fmt.Errorf("git-http-backend not found: %v", err)
	}
	return backend, nil
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.http.URL }

// RepoURL is the HTTP URL of a repository, without credentials.
func (s *Server) RepoURL(name string) string {
	return s.http.URL + "/" + cleanName(name) + ".git"
}

// FileURL is the file:// URL of a repository. File access bypasses
// authentication and the Pushes and Fetches counters, but not Protect.
func (s *Server) FileURL(name string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(s.Path(name))}
	return u.String()
}

// Path is the directory of a repository's bare repository.
func (s *Server) Path(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(cleanName(name))+".git")
}

// Credentials are the basic-auth credentials the server requires; ok is
// false when it requires none.
func (s *Server) Credentials() (username, password string, ok bool) {
	return s.username, s.password, s.auth
}

// CreateRepo creates the bare repository name.git with one commit on
// DefaultBranch holding files (path → content; nil for an empty tree) and
// returns its HTTP URL. It fails the test if the repository exists.
func (s *Server) CreateRepo(name string, files map[string]string) string {
	s.t.Helper()
	if err := validName(name); err != nil {
		s.t.Fatalf("gitserver: create repo: %v", err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	dir := s.Path(name)
	if _, err := os.Stat(dir); err == nil {
		s.t.Fatalf("gitserver: create repo %s: already exists", name)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		s.t.Fatalf("gitserver: create repo %s: %v", name, err)
	}
	if _, err := s.run("", nil, nil, "init", "--quiet", "--bare", "--initial-branch="+DefaultBranch, dir); err != nil {
		s.t.Fatalf("gitserver: create repo %s: %v", name, err)
	}
	if _, err := s.run(dir, nil, nil, "config", "http.receivepack", "true"); err != nil {
		s.t.Fatalf("gitserver: create repo %s: %v", name, err)
	}
	if _, err := s.commit(name, DefaultBranch, "Initial commit", files, nil); err != nil {
		s.t.Fatalf("gitserver: create repo %s: %v", name, err)
	}
	return s.RepoURL(name)
}

// Commit commits as HumanName directly to branch of repo, bypassing hooks:
// files are written (path → content, mode 100644) and deletes removed, on
// top of the branch's head, and the new commit's hash is returned. A
// missing branch starts at the repository's HEAD branch. It fails the test
// on error.
func (s *Server) Commit(repo, branch, message string, files map[string]string, deletes ...string) string {
	s.t.Helper()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	h, err := s.commit(repo, branch, message, files, deletes)
	if err != nil {
		s.t.Fatalf("gitserver: commit to %s %s: %v", repo, branch, err)
	}
	return h
}

var zeroHash = strings.Repeat("0", 40)

// commit writes a commit with a temporary index; callers hold writeMu.
func (s *Server) commit(repo, branch, message string, files map[string]string, deletes []string) (string, error) {
	dir, err := s.repoDir(repo)
	if err != nil {
		return "", err
	}
	if err := validBranch(branch); err != nil {
		return "", err
	}
	parent, ok, err := s.head(dir, branch)
	if err != nil {
		return "", err
	}
	if !ok {
		if sym, err := s.run(dir, nil, nil, "symbolic-ref", "--quiet", "HEAD"); err == nil {
			if p, ok, err := s.head(dir, strings.TrimPrefix(strings.TrimSpace(sym), "refs/heads/")); err == nil && ok {
				parent = p
			}
		}
	}
	tmp, err := os.MkdirTemp(s.scratch, "commit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "index")}
	if parent != "" {
		if _, err := s.run(dir, env, nil, "read-tree", parent); err != nil {
			return "", err
		}
	}

	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var info strings.Builder
	if len(paths) > 0 {
		var list strings.Builder
		for i, p := range paths {
			if err := validPath(p); err != nil {
				return "", err
			}
			f := filepath.Join(tmp, "blob-"+strconv.Itoa(i))
			if err := os.WriteFile(f, []byte(files[p]), 0o644); err != nil {
				return "", err
			}
			list.WriteString(f + "\n")
		}
		out, err := s.run(dir, env, strings.NewReader(list.String()), "hash-object", "-w", "--no-filters", "--stdin-paths")
		if err != nil {
			return "", err
		}
		hashes := strings.Fields(out)
		if len(hashes) != len(paths) {
			return "", fmt.Errorf("hash-object returned %d hashes for %d files", len(hashes), len(paths))
		}
		for i, p := range paths {
			fmt.Fprintf(&info, "100644 %s\t%s\n", hashes[i], p)
		}
	}
	for _, p := range deletes {
		if err := validPath(p); err != nil {
			return "", err
		}
		fmt.Fprintf(&info, "0 %s\t%s\n", zeroHash, p)
	}
	if info.Len() > 0 {
		if _, err := s.run(dir, env, strings.NewReader(info.String()), "update-index", "--add", "--remove", "--replace", "--index-info"); err != nil {
			return "", err
		}
	}
	tree, err := s.run(dir, env, nil, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", strings.TrimSpace(tree), "-m", message}
	if parent != "" {
		args = append(args, "-p", parent)
	}
	out, err := s.run(dir, humanEnv(HumanName, HumanEmail), nil, args...)
	if err != nil {
		return "", err
	}
	commit := strings.TrimSpace(out)
	old := parent
	if !ok {
		old = zeroHash // the branch is new: it must still not exist
	}
	if _, err := s.run(dir, nil, nil, "update-ref", "-m", "gitserver commit", "refs/heads/"+branch, commit, old); err != nil {
		return "", err
	}
	return commit, nil
}

func humanEnv(committerName, committerEmail string) []string {
	return []string{
		"GIT_AUTHOR_NAME=" + HumanName, "GIT_AUTHOR_EMAIL=" + HumanEmail,
		"GIT_COMMITTER_NAME=" + committerName, "GIT_COMMITTER_EMAIL=" + committerEmail,
	}
}

// Head returns the commit branch of repo points at; ok is false when the
// repository or the branch does not exist.
func (s *Server) Head(repo, branch string) (hash string, ok bool) {
	dir, err := s.repoDir(repo)
	if err != nil {
		return "", false
	}
	h, ok, err := s.head(dir, branch)
	if err != nil {
		s.t.Errorf("gitserver: head of %s %s: %v", repo, branch, err)
	}
	return h, ok
}

func (s *Server) head(dir, branch string) (string, bool, error) {
	if validBranch(branch) != nil {
		return "", false, nil
	}
	out, err := s.run(dir, nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 {
			return "", false, nil // no such branch
		}
		return "", false, err
	}
	return strings.TrimSpace(out), true, nil
}

// ReadFile returns the content of path at the head of branch; the error
// wraps ErrNotFound when the repository, branch or file does not exist.
func (s *Server) ReadFile(repo, branch, path string) (string, error) {
	dir, err := s.repoDir(repo)
	if err != nil {
		return "", err
	}
	h, ok, err := s.head(dir, branch)
	if err != nil {
		return "", fmt.Errorf("gitserver: read %s from %s %s: %w", path, repo, branch, err)
	}
	if !ok {
		return "", fmt.Errorf("gitserver: read %s from %s: branch %s: %w", path, repo, branch, ErrNotFound)
	}
	if validPath(path) != nil {
		return "", fmt.Errorf("gitserver: read %q from %s %s: invalid path", path, repo, branch)
	}
	out, err := s.run(dir, nil, nil, "cat-file", "blob", h+":"+path)
	if err != nil {
		return "", fmt.Errorf("gitserver: read %s from %s %s: %w", path, repo, branch, ErrNotFound)
	}
	return out, nil
}

// Branches lists the branches of repo, sorted; nil if the repository does
// not exist.
func (s *Server) Branches(repo string) []string {
	dir, err := s.repoDir(repo)
	if err != nil {
		return nil
	}
	out, err := s.run(dir, nil, nil, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/")
	if err != nil {
		s.t.Errorf("gitserver: branches of %s: %v", repo, err)
		return nil
	}
	branches := strings.Fields(out)
	slices.Sort(branches)
	return branches
}

const protectedFile = "protected-branches"

const preReceiveHook = `#!/bin/sh
# Installed by gitserver.Protect: reject updates of protected branches, like
# GitHub's branch protection.
list="${GIT_DIR:-.}/` + protectedFile + `"
status=0
while read -r old new ref; do
	if [ -f "$list" ] && grep -qxF "$ref" "$list"; then
		echo "error: GH006: Protected branch update failed for $ref." >&2
		echo "error: Changes must be made through a pull request." >&2
		status=1
	fi
done
exit $status
`

// Protect makes the server reject every push that creates, updates or
// deletes branch, with the message "GH006: Protected branch update failed
// for refs/heads/<branch>.", like a protected branch on GitHub. Commit and
// Merge still write to it.
func (s *Server) Protect(repo, branch string) {
	s.t.Helper()
	s.setProtected(repo, branch, true)
}

// Unprotect lifts Protect.
func (s *Server) Unprotect(repo, branch string) {
	s.t.Helper()
	s.setProtected(repo, branch, false)
}

func (s *Server) setProtected(repo, branch string, protect bool) {
	s.t.Helper()
	dir, err := s.repoDir(repo)
	if err == nil {
		err = validBranch(branch)
	}
	if err != nil {
		s.t.Fatalf("gitserver: protect %s %s: %v", repo, branch, err)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	hook := filepath.Join(dir, "hooks", "pre-receive")
	if err := os.MkdirAll(filepath.Dir(hook), 0o755); err != nil {
		s.t.Fatalf("gitserver: protect %s %s: %v", repo, branch, err)
	}
	if err := os.WriteFile(hook, []byte(preReceiveHook), 0o755); err != nil {
		s.t.Fatalf("gitserver: protect %s %s: %v", repo, branch, err)
	}
	list := filepath.Join(dir, protectedFile)
	data, err := os.ReadFile(list)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.t.Fatalf("gitserver: protect %s %s: %v", repo, branch, err)
	}
	refs := strings.Fields(string(data))
	ref := "refs/heads/" + branch
	refs = slices.DeleteFunc(refs, func(r string) bool { return r == ref })
	if protect {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	var out strings.Builder
	for _, r := range refs {
		out.WriteString(r + "\n")
	}
	if err := os.WriteFile(list, []byte(out.String()), 0o644); err != nil {
		s.t.Fatalf("gitserver: protect %s %s: %v", repo, branch, err)
	}
}

// Merge merges branch head into branch base of repo with a merge commit
// (message as given, author HumanName, committer MergerName), like GitHub's
// merge button, and returns the merge commit. It bypasses Protect. Errors
// wrap ErrNotFound, ErrNothingToMerge (head is already in base) or
// ErrConflict (naming the conflicting files); if base moves while merging,
// the merge fails rather than overwrite it. Merge never fails the test.
func (s *Server) Merge(repo, base, head, message string) (string, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	dir, err := s.repoDir(repo)
	if err != nil {
		return "", fmt.Errorf("gitserver: merge %s into %s: %w", head, base, err)
	}
	baseHash, ok, err := s.head(dir, base)
	if err == nil && !ok {
		err = fmt.Errorf("branch %s: %w", base, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("gitserver: merge %s into %s in %s: %w", head, base, repo, err)
	}
	headHash, ok, err := s.head(dir, head)
	if err == nil && !ok {
		err = fmt.Errorf("branch %s: %w", head, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("gitserver: merge %s into %s in %s: %w", head, base, repo, err)
	}
	if _, err := s.run(dir, nil, nil, "merge-base", "--is-ancestor", headHash, baseHash); err == nil {
		return "", fmt.Errorf("gitserver: merge %s into %s in %s: %w", head, base, repo, ErrNothingToMerge)
	}
	out, err := s.run(dir, nil, nil, "merge-tree", "--write-tree", "--name-only", "--no-messages", baseHash, headHash)
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 1 {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var conflicts []string
			for _, l := range lines[1:] {
				if l == "" {
					break
				}
				conflicts = append(conflicts, l)
			}
			return "", fmt.Errorf("gitserver: merge %s into %s in %s: %w in %s", head, base, repo, ErrConflict, strings.Join(conflicts, ", "))
		}
		return "", fmt.Errorf("gitserver: merge %s into %s in %s: %w", head, base, repo, err)
	}
	tree := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	out, err = s.run(dir, humanEnv(MergerName, MergerEmail), nil, "commit-tree", tree, "-p", baseHash, "-p", headHash, "-m", message)
	if err != nil {
		return "", fmt.Errorf("gitserver: merge %s into %s in %s: %w", head, base, repo, err)
	}
	merge := strings.TrimSpace(out)
	if _, err := s.run(dir, nil, nil, "update-ref", "-m", "gitserver merge", "refs/heads/"+base, merge, baseHash); err != nil {
		return "", fmt.Errorf("gitserver: merge %s into %s in %s: %w", head, base, repo, err)
	}
	return merge, nil
}

// Pushes is the number of receive-pack POST requests (push attempts) repo
// received over HTTP.
func (s *Server) Pushes(repo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes[cleanName(repo)]
}

// Fetches is the number of upload-pack POST requests (fetches and clones
// that negotiated a pack) repo received over HTTP.
func (s *Server) Fetches(repo string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches[cleanName(repo)]
}

// OnRequest makes the server call fn before serving each authenticated git
// request, in the request's goroutine, for fault injection: for example,
// move a branch (with Git("update-ref", ...)) between a client's ref
// advertisement and its push. fn must not call t.Fatal. nil removes it.
func (s *Server) OnRequest(fn func(Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRequest = fn
}

// Git runs git with args in repo's bare repository, in the server's
// isolated environment, and returns its standard output.
func (s *Server) Git(repo string, args ...string) (string, error) {
	dir, err := s.repoDir(repo)
	if err != nil {
		return "", err
	}
	return s.run(dir, nil, nil, args...)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.auth {
		u, p, ok := r.BasicAuth()
		valid := ok && subtle.ConstantTimeCompare([]byte(u), []byte(s.username)) == 1 &&
			subtle.ConstantTimeCompare([]byte(p), []byte(s.password)) == 1
		if s.authFunc != nil {
			valid = ok && s.authFunc(u, p)
		}
		if !valid {
			w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
	}
	r.Header.Del("Authorization") // keep credentials out of the CGI environment
	// net/http/cgi refuses chunked bodies (the git CLI sends large pushes
	// chunked): buffer them.
	if r.ContentLength < 0 || len(r.TransferEncoding) > 0 {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBufferedBody+1))
		if err != nil || len(body) > maxBufferedBody {
			http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
	}
	repo, service, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), ".git/")
	switch {
	case !ok:
	case r.Method == http.MethodPost:
		switch cmd := s.command(r); {
		case cmd == "probe":
		case service == "git-receive-pack":
			s.count(s.pushes, repo)
		case service == "git-upload-pack" && (cmd == "" || cmd == "fetch"):
			s.count(s.fetches, repo)
		}
		s.hook(Request{Repo: repo, Service: service, HTTP: r})
	case service == "info/refs":
		s.hook(Request{Repo: repo, Service: r.URL.Query().Get("service"), Advertisement: true, HTTP: r})
	}
	s.backend.ServeHTTP(w, r)
}

func (s *Server) hook(req Request) {
	s.mu.Lock()
	fn := s.onRequest
	s.mu.Unlock()
	if fn != nil && (req.Service == "git-upload-pack" || req.Service == "git-receive-pack") {
		fn(req)
	}
}

func (s *Server) count(m map[string]int, repo string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m[repo]++
}

// command classifies a small POST without consuming its body: "probe" for
// the git CLI's authentication probe before a large request (a lone flush
// packet), the protocol v2 command ("ls-refs", "fetch", ...), or "" for a
// protocol v0/v1 request.
func (s *Server) command(r *http.Request) string {
	if r.ContentLength > 1<<20 {
		return ""
	}
	body, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	var rd io.Reader = bytes.NewReader(body)
	if enc := r.Header.Get("Content-Encoding"); enc == "gzip" || enc == "x-gzip" {
		if rd, err = gzip.NewReader(rd); err != nil {
			return ""
		}
	}
	first, _ := io.ReadAll(io.LimitReader(rd, 64))
	if string(first) == "0000" {
		return "probe"
	}
	if !strings.Contains(r.Header.Get("Git-Protocol"), "version=2") || len(first) < 4 {
		return ""
	}
	// The first pkt-line of a v2 request is "command=<name>\n".
	n, err := strconv.ParseUint(string(first[:4]), 16, 16)
	if err != nil || n < 4 || int(n) > len(first) {
		return ""
	}
	line := strings.TrimSuffix(string(first[4:n]), "\n")
	cmd, ok := strings.CutPrefix(line, "command=")
	if !ok {
		return ""
	}
	return cmd
}

// run runs git in dir (the server's directory if empty) with the isolated
// environment plus env.
func (s *Server) run(dir string, env []string, stdin io.Reader, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = s.root
	}
	cmd.Env = append(slices.Clone(s.env), env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &gitError{args: args, stderr: strings.TrimSpace(stderr.String()), err: err}
	}
	return stdout.String(), nil
}

type gitError struct {
	args   []string
	stderr string
	err    error
}

func (e *gitError) Error() string {
	name := "git"
	if len(e.args) > 0 {
		name += " " + e.args[0]
	}
	if e.stderr != "" {
		return fmt.Sprintf("%s: %v: %s", name, e.err, e.stderr)
	}
	return fmt.Sprintf("%s: %v", name, e.err)
}

func (e *gitError) Unwrap() error { return e.err }

func (s *Server) repoDir(name string) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	dir := s.Path(name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("repository %s: %w", cleanName(name), ErrNotFound)
	}
	return dir, nil
}

func cleanName(name string) string {
	return strings.TrimSuffix(strings.Trim(name, "/"), ".git")
}

func validName(name string) error {
	n := cleanName(name)
	if n == "" || strings.ContainsAny(n, "\\\x00\n") {
		return fmt.Errorf("invalid repository name %q", name)
	}
	for seg := range strings.SplitSeq(n, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasSuffix(seg, ".git") {
			return fmt.Errorf("invalid repository name %q", name)
		}
	}
	return nil
}

func validBranch(branch string) error {
	if branch == "" || strings.HasPrefix(branch, "-") || strings.HasPrefix(branch, "refs/") ||
		strings.ContainsAny(branch, " ~^:?*[\\\x00\n\t") || strings.Contains(branch, "..") ||
		strings.HasPrefix(branch, "/") || strings.HasSuffix(branch, "/") || strings.HasSuffix(branch, ".lock") {
		return fmt.Errorf("invalid branch name %q", branch)
	}
	return nil
}

func validPath(p string) error {
	if p == "" || strings.ContainsAny(p, "\\\x00\n\t") || strings.HasPrefix(p, "/") {
		return fmt.Errorf("invalid path %q", p)
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." || seg == ".git" {
			return fmt.Errorf("invalid path %q", p)
		}
	}
	return nil
}

// testLog forwards the CGI's standard error to the test log until the test
// ends.
type testLog struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf("gitserver: %s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

// GitHub adapts the server to the GitHub API emulator's Git interface
// (internal/testenv/githubapi), which names repositories "owner/name": the
// owner is dropped, so a repository created as "manifests" serves
// "acme/manifests".
func (s *Server) GitHub() GitHubGit { return GitHubGit{s} }

// GitHubGit is the adapter GitHub returns.
type GitHubGit struct{ s *Server }

// Head is the commit branch points at.
func (g GitHubGit) Head(repo, branch string) (string, bool) { return g.s.Head(path.Base(repo), branch) }

// Merge merges head into base as GitHub's merge button does.
func (g GitHubGit) Merge(repo, base, head, message string) (string, error) {
	return g.s.Merge(path.Base(repo), base, head, message)
}

// DeleteBranch deletes a branch.
func (g GitHubGit) DeleteBranch(repo, branch string) error {
	_, err := g.s.Git(path.Base(repo), "branch", "-D", branch)
	return err
}
