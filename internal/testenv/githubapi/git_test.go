package githubapi

import (
	"errors"
	"fmt"
	"github.com/ferrygitops/ferry/internal/testclock"
	"sync"
	"time"
)

// memGit is an in-memory Git: branch tips per repository, merges that
// always succeed unless the branch pair is marked conflicting.
type memGit struct {
	mu        sync.Mutex
	branches  map[string]map[string]string // repo → branch → sha
	conflicts map[string]bool              // repo+base+head
	merges    []string
	n         int
}

func newMemGit() *memGit {
	return &memGit{branches: map[string]map[string]string{}, conflicts: map[string]bool{}}
}

// commit moves branch (creating it) to a new commit and returns its sha.
func (g *memGit) commit(repo, branch string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.commitLocked(repo, branch)
}

func (g *memGit) commitLocked(repo, branch string) string {
	g.n++
	sha := fmt.Sprintf("%040x", g.n)
	if g.branches[repo] == nil {
		g.branches[repo] = map[string]string{}
	}
	g.branches[repo][branch] = sha
	return sha
}

// fork points branch at from's tip: no commits between them.
func (g *memGit) fork(repo, from, branch string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.branches[repo][branch] = g.branches[repo][from]
}

func (g *memGit) Head(repo, branch string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sha, ok := g.branches[repo][branch]
	return sha, ok
}

func (g *memGit) Merge(repo, base, head, message string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conflicts[repo+" "+base+" "+head] {
		return "", errors.New("merge conflict")
	}
	if _, ok := g.branches[repo][base]; !ok {
		return "", errors.New("no base")
	}
	if _, ok := g.branches[repo][head]; !ok {
		return "", errors.New("no head")
	}
	g.merges = append(g.merges, message)
	return g.commitLocked(repo, base), nil
}

func (g *memGit) DeleteBranch(repo, branch string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.branches[repo][branch]; !ok {
		return errors.New("no such branch")
	}
	delete(g.branches[repo], branch)
	return nil
}

func newFakeClock() *testclock.Clock {
	return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}
