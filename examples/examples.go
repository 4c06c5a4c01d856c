// Package examples embeds the example manifest repository (examples/repo),
// which `ferry demo` copies to a temporary directory and runs against, and
// which the install tests (install/) sync with Ferry's own service account.
package examples

import (
	"embed"
	"io/fs"
	"strings"
)

// Repo is the example manifest repository, rooted at "repo".
//
//go:embed all:repo
var Repo embed.FS

// Files returns the example repository's files by slash-separated path,
// with from replaced by to in every file (the demo and the tests point
// ghcr.io/acme/web at a local registry that way).
func Files(from, to string) (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(Repo, "repo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(Repo, p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "repo/")] = strings.ReplaceAll(string(data), from, to)
		return nil
	})
	return files, err
}
