// Package image holds the small values every other Ferry package shares:
// a parsed image reference (repository, tag, digest) with Docker's
// normalisation rules, and the Tag a registry reports.
//
// It is a leaf package: it imports only the standard library, so policy
// selection and manifest rewriting stay pure and cheap to build.
package image
