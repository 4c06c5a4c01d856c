// Package bot composes Ferry's steps into its jobs: Scan (policies, tag
// listings, selection, references in the manifest repo, and the plan for
// each reference) backs `ferry scan` and `ferry update`; the bump cycle
// (write-back to git and pull requests) builds on the same Report.
//
// A policy with spec.verify takes the newest candidate, above its references'
// current tags, whose cosign signature package verify accepts; skipped
// candidates are reported with the reason (verify.go).
//
// A version a Rejection document names (package dotferry; by tag, or by
// digest where the listing or the policy's digest lookup gives one) is
// never chosen: the next one down is, and PolicyReport.Rejected lists what
// was passed over and why.
//
// Every step takes `now` from its caller, so a cycle is reproducible in tests.
package bot
