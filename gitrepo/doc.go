// Package gitrepo is Ferry's git layer: it clones the base branch of a
// manifest repository, commits changed files on top of it, and pushes the
// commit to a bot branch (or the base) under a lease. It uses go-git only
// and never runs the git CLI, so Ferry's image needs no git binary for
// http(s) and ssh remotes.
//
// # The job
//
//	r, err := gitrepo.Clone(ctx, url, "main", dir, gitrepo.Auth{Token: tok}, 1)
//	// ... rewrite files under r.Dir() ...
//	c, err := r.Commit(ctx, changed, msg, gitrepo.Signature{Name: ..., Email: ..., When: now}, signer)
//	// errors.Is(err, gitrepo.ErrNoChanges): the base already has it all.
//	head, exists, err := r.RemoteHead(ctx, "ferry/web")
//	switch {
//	case exists && head == c: // the bot branch already holds this commit: nothing to do
//	case exists:              err = r.Push(ctx, c, "ferry/web", gitrepo.Lease{Expect: head})
//	default:                  err = r.Push(ctx, c, "ferry/web", gitrepo.Lease{MustNotExist: true})
//	}
//	// errors.Is(err, gitrepo.ErrLeaseBroken): someone else moved the branch; leave it.
//
// Commit does not read the index and changes neither the working tree nor
// any ref. Its result is deterministic: the same files, message, author and
// time (When, to the second, with its zone) on the same base give the same
// hash, which is how a caller tells that a bot branch already holds the
// commit without pushing. Across runs the clock differs: to recognise an
// earlier commit, commit with its author time (CommitInfo) or compare
// trees (Tree).
//
// Pushing straight to the base uses Lease{FastForward: true}; when the base
// moved, Push returns ErrNonFastForward without writing, and the caller
// calls Refresh (fetch, hard reset and clean), applies its change again,
// commits and pushes again. A protected branch's refusal is ErrRejected
// with the server's message.
//
// # Leases
//
// Push first lists the remote branch and checks the lease, so a broken
// lease costs no write attempt (and a branch already at the commit needs
// no push at all). The push itself then carries the expected old value:
// Lease{Expect} uses go-git's ForceWithLease, which compares it with the
// receive-pack advertisement, and the server's compare-and-swap on the old
// value catches a change between the advertisement and the update. A
// failure after the first check is classified by listing the branch again,
// so a race also ends in ErrLeaseBroken or ErrNonFastForward. Leases other
// than FastForward may not target the base branch (they move the local
// branch of the same name, which for the base is the checked-out one).
//
// # Credentials
//
// Auth holds an HTTP token (basic auth, the token as password; GitHub takes
// the username "x-access-token", the default) or an SSH key. Credentials in
// the URL (https://user:token@host/...) work too. Either way they are sent
// per operation and never stored: the remote URL in .git/config has no
// userinfo for http(s) and no password for ssh. No error of this package
// contains the token, the URL's password or the passphrase: URLs in errors
// are redacted (RedactURL) and messages from go-git or the server are
// scrubbed of the secrets. Auth's String, GoString, Format and LogValue
// redact them too.
//
// # Signing
//
// Commit signs with any Signer (go-git's signer interface):
// OpenPGPSigner (an armored private key, as git's gpg.format=openpgp) or
// SSHSigner (an OpenSSH key, PROTOCOL.sshsig with namespace "git", as git's
// gpg.format=ssh; git verify-commit accepts both). Signatures are made at
// the committer time, not the clock, and OpenPGP's random salt notation is
// off, so Ed25519 and RSA signatures, and therefore signed commit hashes,
// are deterministic; ECDSA and DSA signatures are not. An OpenPGP key
// created after a commit's time cannot sign it.
//
// # History
//
// FileHistory lists the versions of a file on the base branch's
// first-parent history, newest first, with authors, times, messages and
// contents, for rollback-aware holds. On a shallow clone it returns what
// the clone holds and reports truncated; Deepen fetches more (git fetch
// --depth/--unshallow semantics) and fixes the shallow file, which go-git
// does not update on its own.
//
// # Limitations
//
//   - file:// remotes use go-git's file transport, which runs the
//     git-upload-pack and git-receive-pack binaries: they need git
//     installed. http(s) and ssh do not.
//   - go-git honours depth on every transport, but has no partial clone
//     (filters), and depth counts from the remote head at fetch time: Deepen
//     after the base moved deepens BaseHead's history by less.
//   - go-git computes what to push by walking the local history reachable
//     from every ref the remote advertises; shallow clones keep that cheap,
//     full clones of large repositories make pushes slower.
//   - go-git neither sends "deepen-since"/"deepen-not" nor processes the
//     server's "unshallow" lines (Deepen repairs .git/shallow itself).
//   - Only Commit's files are read from the working tree; Refresh's clean
//     deletes ignored files too, as git clean -dfx would.
//   - SSH remotes are supported through go-git's ssh transport (key file or
//     agent, known_hosts checking) but the tests only exercise http(s) and
//     file remotes against a real server.
//   - A Repo is not safe for concurrent use.
package gitrepo
