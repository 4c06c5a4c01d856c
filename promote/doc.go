// Package promote moves what runs in one App (staging) to another App or
// path (production) by pull request, once staging has proved it: the
// kind: Promotion documents of .ferry (package dotferry).
//
// Run decides from three things, all passed in: the manifest repository
// (cloned at its branch head), staging's sync record and live health as
// package deploy keeps them in the cluster (Staging, a deploy.Syncer; or
// Connect, which opens one for staging's App), and the current time. The
// gates, in order:
//
//   - synced: staging's newest sync Succeeded with every object Current
//     (a Failed or Degraded newest sync blocks), and every inventory object
//     is Current now;
//   - not rejected: no Rejection names a version staging runs;
//   - something to promote: production's references differ (else the
//     promotion is up to date and an open pull request is closed);
//   - soak: healthy for at least spec.soak by the clock given, since the
//     end of the oldest sync of the unbroken run of healthy successful
//     syncs whose revisions run the same versions (a commit that changes
//     nothing staging runs does not restart the soak);
//   - verification (optional): a Job from spec.verify.job.template, read
//     at staging's revision, run once per version staging runs, in
//     staging's namespace (named ferry-verify-PROMOTION-KEY, so a second
//     run finds it; activeDeadlineSeconds is the timeout): passed when it
//     completes, failed when it fails, pending while it runs; or an HTTP
//     GET whose status must be spec.verify.http.status.
//
// A pending gate waits (Result.Action "waiting"); a failed one blocks
// ("blocked"). Either way an open promotion pull request is left as it
// is: a newer version that fails in staging never touches the pending one.
//
// When every gate passes, the production references of every image a
// policy governs are set to exactly what staging's manifests name at the
// synced revision: the same tag and the same digest, in each reference's
// form (a whole image keeps its repository as written; a kustomize newTag
// or digest field gets the tag or digest), written byte-exactly by package
// updater. A reference is left alone when production is already newer
// under the policy's ordering (never backwards), when people rolled back
// an earlier promotion of it (the history-derived holds of package bot),
// or when it already says the same.
//
// The change is one commit on the branch Config.BranchFor("promote-NAME")
// (ferry/promote-NAME by default) carrying the Ferry-Changeset trailer,
// pushed under a lease, and one pull request from it (forge.Client.Ensure:
// found and updated, never duplicated). A newer version that passes
// replaces the branch's commit and updates the same pull request; a run
// with nothing new writes nothing; production already matching closes the
// pull request. A pull request people closed without merging declines its
// change set: it is not proposed again. Every step is idempotent, so a run
// after a crash at any point converges on one pull request. The body
// carries the evidence: staging's revision, since when it has been
// healthy, the verification's result and the diff. With a forge that
// reports statuses, the gate is also a commit status (context
// ferry/promotion) on the pull request's head.
package promote
