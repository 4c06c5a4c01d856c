package dotferry

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrygitops/ferry/document"
	"github.com/ferrygitops/ferry/gitrepo"
	"github.com/ferrygitops/ferry/internal/testenv/gitserver"
)

// loadBoth commits files into a repository with git and
// loads .ferry from the directory on disk and from the commit's tree.
func loadBoth(t *testing.T, files map[string]string) (dir string, disk, tree *Set, diskErr, treeErr error) {
	t.Helper()
	tr, dir := gitserver.LocalCommit(t, files)
	disk, diskErr = LoadDir(filepath.Join(dir, Dir))
	tree, treeErr = LoadFS(gitrepo.TreeFS(tr), Dir)
	return dir, disk, tree, diskErr, treeErr
}

// TestLoadDiskAndTreeAgree: one reader, one set of rules, whether .ferry
// is read from a working tree (scan, update) or from a commit (sync).
func TestLoadDiskAndTreeAgree(t *testing.T) {
	app := "apiVersion: ferry.dev/v1alpha1\nkind: App\nmetadata: {name: %s}\nspec: {source: {path: x}}\n"
	t.Run("valid", func(t *testing.T) {
		dir, disk, tree, derr, terr := loadBoth(t, map[string]string{
			".ferry/policies.yaml": policyDoc("web", "image: nginx", "policy: {semver: {}}"),
			".ferry/apps/b.yaml":   strings.Replace(app, "%s", "b", 1),
			".ferry/apps/a.yml":    strings.Replace(app, "%s", "a", 1),
			".ferry/link.yaml":     "->policies.yaml",
			".ferry/README.md":     "not read",
			".ferry/.draft.yaml":   "kind: nonsense",
		})
		if derr != nil || terr != nil {
			t.Fatalf("LoadDir: %v\nLoadFS: %v", derr, terr)
		}
		// Files are named by their path on disk, or in the repository.
		for _, s := range []*Set{disk, tree} {
			for i := range s.Policies {
				s.Policies[i].Source.File = strings.TrimPrefix(s.Policies[i].Source.File, dir+"/")
			}
			for i := range s.Apps {
				s.Apps[i].Source.File = strings.TrimPrefix(s.Apps[i].Source.File, dir+"/")
			}
		}
		if diff := cmp.Diff(disk, tree, cmpRegexp); diff != "" {
			t.Errorf("disk and tree differ (-disk +tree):\n%s", diff)
		}
		if len(tree.Policies) != 1 || len(tree.Apps) != 2 || tree.Apps[0].Name != "a" || tree.Files != 3 {
			t.Errorf("tree = %+v", tree)
		}
	})
	t.Run("duplicates across files", func(t *testing.T) {
		dir, _, _, derr, terr := loadBoth(t, map[string]string{
			".ferry/1.yaml": policyDoc("web", "image: nginx", "policy: {semver: {}}") + "---\n" + strings.Replace(app, "%s", "a", 1),
			".ferry/2.yaml": policyDoc("web", "image: redis", "policy: {semver: {}}") + "---\n" + strings.Replace(app, "%s", "a", 1),
		})
		want := []string{
			`.ferry/2.yaml:4: metadata.name: duplicate policy name "web" (first defined at .ferry/1.yaml:4)`,
			`.ferry/2.yaml:9: metadata.name: app "a" is also declared at .ferry/1.yaml:9`,
		}
		for _, err := range []error{derr, terr} {
			var es document.Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want document.Errors", err)
			}
			got := strings.Split(strings.ReplaceAll(es.Error(), dir+"/", ""), "\n")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		}
	})
	t.Run("link out of .ferry", func(t *testing.T) {
		_, _, _, derr, terr := loadBoth(t, map[string]string{
			"shared.yaml":       policyDoc("web", "image: nginx", "policy: {semver: {}}"),
			".ferry/link.yaml":  "->../shared.yaml",
			".ferry/other.yaml": policyDoc("db", "image: redis", "policy: {semver: {}}"),
		})
		for _, err := range []error{derr, terr} {
			if err == nil || !strings.Contains(err.Error(), ".ferry/link.yaml: a symbolic link Ferry does not follow") {
				t.Errorf("err = %v, want the link named", err)
			}
		}
	})
}

func TestConfig(t *testing.T) {
	set, err := Parse("c.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: Config
metadata: {name: repo}
spec:
  branch: bots/{{group}}/image
  commit: {authorName: Bot, authorEmail: bot@example.com}
  pullRequest: {labels: [deps], reviewers: [alice], teamReviewers: [platform], assignees: [bob], draft: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	c := set.Config
	if c.BranchFor("web") != "bots/web/image" || c.BranchPrefix() != "bots/" || c.AuthorName != "Bot" || c.AuthorEmail != "bot@example.com" ||
		!c.PullRequest.Draft || c.PullRequest.TeamReviewers[0] != "platform" {
		t.Errorf("Config = %+v", c)
	}
	for branch, group := range map[string]string{"bots/web/image": "web", "bots/a/b/image": "a/b", "bots//image": "", "ferry/web": "", "bots/web": ""} {
		g, ok := c.BotBranch(branch)
		if ok != (group != "") || g != group {
			t.Errorf("BotBranch(%q) = %q, %v; want %q", branch, g, ok, group)
		}
	}
	if set, _ := Parse("e.yaml", nil); set.Config.BranchFor("x") != "ferry/x" {
		t.Errorf("default branch = %q", set.Config.Branch)
	}
	_, err = Parse("c.yaml", []byte(`apiVersion: ferry.dev/v1alpha1
kind: Config
spec: {branch: bots, pullRequest: {group: x}}
---
apiVersion: ferry.dev/v1alpha1
kind: Config
`))
	want := `c.yaml:3: spec.pullRequest.group: unknown field "group" (allowed: labels, reviewers, teamReviewers, assignees, draft)
c.yaml:3: spec.branch: "bots" must contain {{group}}
c.yaml:5: a second Config document (the first is at c.yaml:1); keep one`
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}
