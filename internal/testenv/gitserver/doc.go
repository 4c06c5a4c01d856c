// Package gitserver runs a real git server for tests: the git CLI's own
// smart-HTTP server (git http-backend) behind Go's net/http/cgi on an
// httptest server bound to 127.0.0.1, with optional HTTP basic
// authentication. Every repository is also reachable as a file:// URL.
//
// It is test infrastructure, not a production server. It needs the git CLI
// (2.38 or newer, for Merge) with git-http-backend and /bin/sh (for the
// protected-branch hook). New skips the test when git is missing, unless the
// environment says the suite must be complete (CI=true or
// FERRY_REQUIRE_SERVERS=1), where a missing git fails the test instead.
//
// # Typical use
//
//	srv := gitserver.New(t, gitserver.WithBasicAuth("x-access-token", "s3cret"))
//	url := srv.CreateRepo("org/manifests", map[string]string{
//		"apps/web.yaml": "image: web:1.0.0\n",
//	})
//	srv.Protect("org/manifests", "main")
//	// ... run the code under test against url ...
//	if got := srv.Pushes("org/manifests"); got != 1 { ... }
//	head, ok := srv.Head("org/manifests", "ferry/web")
//	content, err := srv.ReadFile("org/manifests", "ferry/web", "apps/web.yaml")
//
// # Repositories
//
// A repository name is a slash-separated path such as "org/manifests"
// (a trailing ".git" is accepted and ignored); it lives in the bare
// repository <root>/<name>.git and is served at RepoURL(name),
// http://127.0.0.1:PORT/<name>.git, and at FileURL(name), file:///...git.
// CreateRepo makes the repository with one commit on "main" (the
// repository's HEAD). URLs never carry credentials; clients authenticate
// with Credentials.
//
// # Writing as a human, and as GitHub
//
// Commit writes a commit by the fixed identity HumanName <HumanEmail>
// straight into the bare repository (a temporary index, git commit-tree and
// a compare-and-swap git update-ref), the way a person pushing from their
// laptop would change the branch, except that it bypasses hooks: a person
// with admin rights can still commit to a protected branch this way. A
// branch that does not exist yet starts at the repository's HEAD branch.
//
// Merge merges one branch into another with a merge commit, like GitHub's
// merge button (author HumanName, committer MergerName <MergerEmail>),
// also bypassing protection, as merging a pull request does on GitHub. It
// fails with ErrConflict when the branches conflict, ErrNothingToMerge when
// the head is already contained in the base, and ErrNotFound when either
// branch is missing. It is meant to be called by a GitHub API emulator, so
// it reports failures as errors and never fails the test itself.
//
// Protect installs a pre-receive hook that rejects every push updating,
// creating or deleting the branch with GitHub's message "GH006: Protected
// branch update failed for refs/heads/<branch>."; Unprotect lifts it.
//
// # Observing clients
//
// Pushes counts the receive-pack POST requests of a repository: every push
// attempt that got past authentication, accepted or rejected. Fetches
// counts the upload-pack POST requests that negotiate a pack: protocol v0/v1
// fetches and clones, and protocol v2 "command=fetch". Neither counts ref
// advertisements (GET .../info/refs), protocol v2 "command=ls-refs" (git
// ls-remote with the git CLI), the git CLI's authentication probe before a
// large request, or requests rejected with 401. So "Pushes == 0" means a
// client made no write attempt, and a client that only lists remote refs
// leaves Fetches unchanged. Access through FileURL is not counted.
//
// OnRequest installs a callback run before each authenticated git request
// (advertisement or POST), for fault injection: moving a branch between a
// client's ref advertisement and its push, say.
//
// # Isolation
//
// Every git process (http-backend, hooks and the helpers) runs with an
// environment built from scratch: HOME and XDG_CONFIG_HOME in a temporary
// directory, GIT_CONFIG_NOSYSTEM=1 and GIT_CONFIG_GLOBAL pointing at an
// empty file, so neither the system's nor the user's git configuration
// affects the server. http-backend gets GIT_PROJECT_ROOT, GIT_HTTP_EXPORT_ALL
// and PATH; repositories set http.receivepack=true.
//
// # Concurrency and failures
//
// Methods are safe for concurrent use, including from HTTP handlers of other
// test servers. Writes (CreateRepo, Commit, Merge, Protect) are serialized.
// CreateRepo, Commit, Protect and Unprotect are test helpers: they fail the
// test with t.Fatalf on error, so call them from the test's goroutine. Head,
// Branches, ReadFile, Merge, Git, Pushes and Fetches never call t.Fatal.
// Everything is removed when the test ends.
package gitserver
