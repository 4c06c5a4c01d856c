package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ferrygitops/ferry/bot"
)

// --repo means one thing everywhere: the manifest repository, given as a
// local directory or a clone URL. Commands that read a working tree
// (scan) clone a URL first; commands that clone (bump, sync, diff, status,
// rollback, render) take a local directory as its file:// URL.

var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:`)

// isRemote reports whether repo is a clone URL rather than a directory.
func isRemote(repo string) bool {
	return strings.Contains(repo, "://") || scpLike.MatchString(repo)
}

// cloneURL returns repo as a clone URL: itself, or a local git
// repository's file:// URL.
func cloneURL(repo string) (string, error) {
	if repo == "" || isRemote(repo) {
		return repo, nil
	}
	abs, err := filepath.Abs(repo)
	if err != nil {
		return "", err
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", &bot.NotFoundError{What: "repository", Path: repo, Err: err}
	}
	if !info.IsDir() {
		return "", &bot.NotFoundError{What: "repository", Path: repo, Err: fmt.Errorf("not a directory")}
	}
	if _, err := os.Stat(filepath.Join(abs, ".git")); err != nil {
		return "", &bot.NotFoundError{What: "repository", Path: repo, Err: fmt.Errorf("not a git repository (no .git); give its clone URL, or run git init")}
	}
	return "file://" + filepath.ToSlash(abs), nil
}
