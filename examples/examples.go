// Package examples embeds the example manifest repository (examples/repo),
// which `ferry demo` copies to a temporary directory and runs against.
package examples

import "embed"

// Repo is the example manifest repository, rooted at "repo".
//
//go:embed all:repo
var Repo embed.FS
