// Package updater finds the image references that Ferry's policies govern in
// a manifest repository and rewrites them byte for byte: only the bytes of the
// changed scalar values change; comments, quoting, indentation, line endings
// and key order stay exactly as they were.
//
// # What is read
//
// One rule, used by Scan (and so by every command):
//
//   - .git/, .ferry/ (the policy files) and the paths matched by a
//     .ferryignore (gitignore syntax) at the repository root are never read;
//   - only .yaml, .yml and .json files are considered (the extension is
//     matched case-insensitively), up to Options.MaxFileSize (10 MiB) each;
//   - a Helm chart's templates/ directory (a directory named templates next to
//     a Chart.yaml) is skipped; the chart's values*.yaml files are read;
//   - symlinks are never followed: a symlink whose target lies outside the
//     repository is reported "symlink outside the repository", one whose
//     target lies inside is skipped because its target is read under its own
//     path;
//   - a file is parsed only if its bytes contain the repository name
//     (image.Needle) of a policy that governs the file (update.paths), or a
//     $imagepolicy marker; any other file is skipped unparsed and is never an
//     error, whatever it holds;
//   - a file that could hold a governed reference but does not parse (or
//     holds a document with more than 100 aliases) is a FileError naming the
//     file and line and the policies it could affect; only those policies are
//     blocked, the others proceed.
//
// Skips a user may not expect (.ferryignore, chart templates, too large,
// symlinks out of the repository) are always listed in Result.Skipped; the
// routine ones (not a manifest, no governed image, .git/, .ferry/, symlinks
// inside the repository) only with Options.Explain. Result.Files counts the
// files the walk met outside skipped directories.
//
// # What is a reference
//
//   - the image of every container, init container and ephemeral container
//     of a Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job,
//     ReplicationController or CronJob, also inside a List (or any *List kind)
//     and in every document of a multi-document file or a JSON file;
//   - in a kustomization (kind Kustomization or Component, or a file named
//     kustomization.yaml, kustomization.yml or Kustomization), the newName,
//     newTag and digest fields of an images: entry whose newName, else name,
//     is the policy's image;
//   - any scalar followed on its line by a marker comment
//     # {"$imagepolicy": "NAME"} (the whole image), "NAME:tag", "NAME:name" or
//     "NAME:digest"; Flux's "NAMESPACE:NAME" and "NAMESPACE:NAME:tag" forms are
//     accepted and the namespace is ignored. A marker binds the value to the
//     policy whatever it holds; a marker naming no policy, or a policy that
//     does not govern the file, is reported in Result.Markers.
//
// Plan refuses (StatusRefused), even with force, a rewrite that would write
// a broken reference: a whole-image value that would not parse or would
// change repository, a :tag or :digest marker on a value that is not a tag
// or digest (a :tag marker on "registry/acme/web:1.4.2"), a whole-image
// marker naming a policy of another image.
//
// AddMarkers writes marker comments after values (ferry import), with the
// same all-or-nothing atomic writes as Apply.
//
// A container image governs by its normalised repository (nginx is
// docker.io/library/nginx; myapp-worker never matches myapp), and only when
// the policy's update.paths include the file. When several policies govern
// the same value, the first in the order given to Scan wins; a marker wins
// over a container image.
//
// # What can be rewritten
//
// Plain, single-quoted and double-quoted scalars whose bytes in the file are
// exactly their value: Plan blocks the policy (StatusBlocked) rather than
// rewrite a block scalar, a multi-line scalar or a quoted scalar with escapes.
// An alias (*name) is never rewritten; the anchored value is. A new plain
// value that YAML would read as something other than a string (1.10,
// 20240101, on) is written double-quoted.
//
// Limitations: an images: entry without newTag (or digest) gets none added;
// Helm values and other non-workload fields are only found through markers;
// a marker must follow its value on the value's line; a document with more
// than 100 aliases is refused rather than walked; a merge key (<<) is not
// followed; the line of a parse error is the one the YAML parser reports,
// which may be where the enclosing block starts.
//
// # How Apply writes
//
// Apply writes all files or none. Every file is read again and every
// change's bytes must still be what the scan saw; every new content is
// computed, parsed, and must read back the new values before the first
// original is touched. Each new content goes to a temporary file beside its
// original (with the original's mode) which is synced, then renamed over
// the original, and the directory is synced; from 8 files on, on Linux, one
// syncfs(2) of the filesystem before the renames and one after replace the
// per-file syncs. If a rename fails, the files already replaced get their
// original bytes back. Paths must be relative, without "..", and stay inside
// the repository once directory symlinks are resolved; a file that is itself
// a symlink is refused.
package updater
