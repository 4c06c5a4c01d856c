// Package bot composes Ferry's steps into its jobs: Scan (policies, tag
// listings, selection, references in the manifest repo, and the plan for
// each reference) backs `ferry scan` and `ferry update`; the bump cycle
// (write-back to git and pull requests) builds on the same Report.
//
// Every step takes `now` from its caller, so a cycle is reproducible in tests.
package bot
