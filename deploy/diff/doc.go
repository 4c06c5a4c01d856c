// Package diff compares what a sync would apply with what a cluster holds,
// without talking to it: the fast check that lets a sync skip an object
// (Subset), the comparison of a live object with a server-side dry-run
// result (Equal), the unified diff `ferry diff` prints (Unified), and the
// drift report that names the fields someone changed but never their
// values (ChangedPaths).
//
// Objects are compared without status and the metadata a server sets
// (render.ServerFields). Secret values never leave this package in clear:
// Unified replaces the values of data and stringData (and the annotations
// that repeat them, kubectl's last-applied-configuration and Ferry's
// applied hash) with markers that only say whether each value changed, and
// Mask does the same for a single object.
package diff
