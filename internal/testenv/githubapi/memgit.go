package githubapi

import (
	"errors"
	"fmt"
	"sync"
)

// MemGit is an in-memory Git for tests that need no repository content:
// branch tips per repository, and merges that succeed while both branches
// exist.
type MemGit struct {
	mu       sync.Mutex
	branches map[string]map[string]string // repo → branch → sha
	n        int
}

// NewMemGit returns a MemGit with no repository.
func NewMemGit() *MemGit {
	return &MemGit{branches: map[string]map[string]string{}}
}

// Commit moves branch (creating it) to a new commit and returns its sha.
func (g *MemGit) Commit(repo, branch string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.commitLocked(repo, branch)
}

func (g *MemGit) commitLocked(repo, branch string) string {
	g.n++
	sha := fmt.Sprintf("%040x", g.n)
	if g.branches[repo] == nil {
		g.branches[repo] = map[string]string{}
	}
	g.branches[repo][branch] = sha
	return sha
}

// Fork points branch at from's tip: no commits between them.
func (g *MemGit) Fork(repo, from, branch string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.branches[repo][branch] = g.branches[repo][from]
}

// Head implements Git.
func (g *MemGit) Head(repo, branch string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sha, ok := g.branches[repo][branch]
	return sha, ok
}

// Merge implements Git: base moves to a new commit.
func (g *MemGit) Merge(repo, base, head, message string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.branches[repo][base]; !ok {
		return "", errors.New("no base")
	}
	if _, ok := g.branches[repo][head]; !ok {
		return "", errors.New("no head")
	}
	return g.commitLocked(repo, base), nil
}

// DeleteBranch implements Git.
func (g *MemGit) DeleteBranch(repo, branch string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.branches[repo][branch]; !ok {
		return errors.New("no such branch")
	}
	delete(g.branches[repo], branch)
	return nil
}
